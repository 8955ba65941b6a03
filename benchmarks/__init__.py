"""Benchmarks: ``python -m benchmarks.<name> [options]``; each prints one JSON line (see README)."""
