"""Configuration: a strict, typed schema loaded from one YAML file."""

from tripoint.config.loader import load_settings, parse_settings
from tripoint.config.schema import Settings

__all__ = ["Settings", "load_settings", "parse_settings"]
