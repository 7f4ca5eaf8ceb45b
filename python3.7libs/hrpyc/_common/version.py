"""Both sides: hrpyc's own version, reported to clients by the server."""

__version__ = "0.1.0"
