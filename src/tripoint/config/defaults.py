"""The embedded defaults: what `tripoint serve` runs with no config file."""

from __future__ import annotations

import os
from pathlib import Path

from tripoint.config.schema import ServerSettings, Settings, StorageSettings


def default_data_dir() -> Path:
    configured = os.environ.get("TRIPOINT_DATA_DIR")
    if configured:
        return Path(configured).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "tripoint"


def embedded_settings() -> Settings:
    """No cloud account, no network: local models are added here by the embedded engine."""
    return Settings(server=ServerSettings(data_dir=default_data_dir()), storage=StorageSettings())
