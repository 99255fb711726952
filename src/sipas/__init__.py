"""SIPAS: reproducible satisfaction-index reports for Vietnamese provinces."""

__version__ = "0.1.0"
