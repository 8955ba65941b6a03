"""The one error of the config package: a config value (or a run spec) that does not fit."""
from __future__ import annotations


class ConfigError(ValueError):
    """A config value that does not fit the schema; the message names the offending key (``keys``:
    their dotted paths, where known)."""

    def __init__(self, message: str, keys: list[str] | None = None) -> None:
        super().__init__(message)
        self.keys = keys or []
