"""The embedded defaults: what `tripoint serve` runs with no config file."""

from __future__ import annotations

import os
from pathlib import Path

from tripoint.config.schema import (
    LocalBackend,
    LocalModel,
    ModelRoute,
    ServerSettings,
    Settings,
    StorageSettings,
    TargetRef,
)

# Files in the model directory that `tripoint models pull-defaults` fetches (pinned there).
DEFAULT_CHAT_MODEL = Path("SmolLM2-135M-Instruct.Q4_1.gguf")
DEFAULT_EMBEDDING_MODEL = Path("all-MiniLM-L6-v2")


def default_data_dir() -> Path:
    configured = os.environ.get("TRIPOINT_DATA_DIR")
    if configured:
        return Path(configured).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "tripoint"


def model_dir(server: ServerSettings) -> Path:
    """Where local models live: `models/` under the data directory."""
    return (server.data_dir or default_data_dir()) / "models"


def embedded_settings() -> Settings:
    """No cloud account, no network: `chat-local` and `embed-local` run in process."""
    local = LocalBackend(
        type="local",
        models={
            "smollm2-135m-instruct": LocalModel(path=DEFAULT_CHAT_MODEL, max_tokens=1024),
            "all-minilm-l6-v2": LocalModel(path=DEFAULT_EMBEDDING_MODEL, context=256),
        },
    )
    return Settings(
        server=ServerSettings(data_dir=default_data_dir()),
        storage=StorageSettings(),  # SQLite in the data directory: keys, ledger
        backends={"local": local},
        models={
            "chat-local": ModelRoute(
                targets=(TargetRef(backend="local", model="smollm2-135m-instruct"),),
                operations=("chat", "completions"),
            ),
            "embed-local": ModelRoute(
                targets=(TargetRef(backend="local", model="all-minilm-l6-v2"),),
                operations=("embeddings",),
            ),
        },
    )
