"""Benchmarks: ``python -m benchmarks.<name> [options]``; each prints one JSON line (see docs/benchmarks.md)."""
