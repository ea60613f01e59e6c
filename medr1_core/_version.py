"""medr1's version, importable without importing anything else (as pluggy's ``_version``)."""

__version__ = "0.2.0"
