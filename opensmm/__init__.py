"""opensmm: an open-source SMM panel server."""

__version__ = "0.1.0"
