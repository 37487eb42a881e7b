"""Tripoint: one OpenAI-compatible gateway in front of every way you consume AI inference."""

__version__ = "0.1.0"
