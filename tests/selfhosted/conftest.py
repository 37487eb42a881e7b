"""A real `python -m llama_cpp.server` on loopback, shared by the self-hosted tests."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.model_servers import serving
from tests.servers import free_port

ROOT = Path(__file__).resolve().parents[2]
# ../shared/models next to the checkout (one level up again from a worktree under wt/)
_CANDIDATES = [ROOT.parent / "shared" / "models", ROOT.parent.parent / "shared" / "models"]
SHARED = Path(
    os.environ.get("TRIPOINT_SHARED_MODELS")
    or next((c for c in _CANDIDATES if c.is_dir()), _CANDIDATES[0])
)
STORIES = SHARED / "stories260K.gguf"  # a real 260K-parameter Llama; greedy output is stable


@pytest.fixture(scope="session")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if not STORIES.is_file():
        pytest.skip(f"{STORIES} is absent: the shared test models folder is not mounted here")
    port = free_port()
    args = ["llama_cpp.server", "--model", str(STORIES), "--host", "127.0.0.1"]
    args += ["--port", str(port), "--n_ctx", "512", "--n_threads", "1"]
    log = tmp_path_factory.mktemp("llama") / "server.log"
    with serving(args, ready_path="/v1/models", log=log, seconds=120, port=port) as url:
        yield url + "/v1"
