"""Real predictive model servers on loopback ports: KServe (~3 s) and MLflow (~25 s, slow)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.model_servers import serving
from tests.servers import free_port

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def kserve_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A KServe ModelServer serving `iris`, a classifier it trains at start-up."""
    port = free_port()
    args = ["tests.predictive.kserve_iris", "--http_port", str(port), "--model_name", "iris"]
    log = tmp_path_factory.mktemp("kserve") / "server.log"
    with serving(
        args, ready_path="/v2/models/iris/ready", log=log, seconds=60, port=port, cwd=ROOT
    ) as url:
        yield url


@pytest.fixture(scope="session")
def mlflow_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`mlflow models serve` (local env manager, no network) for a saved sklearn model."""
    folder = tmp_path_factory.mktemp("mlflow")
    model = folder / "model"
    env = {
        **os.environ,
        # the scoring server starts `uvicorn` by name: it must be this environment's
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "MLFLOW_TRACKING_URI": (folder / "mlruns").as_uri(),
    }
    subprocess.run(
        [sys.executable, "-m", "tests.predictive.mlflow_iris", str(model)],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        timeout=180,
    )
    port = free_port()
    args = ["mlflow", "models", "serve", "-m", str(model), "-h", "127.0.0.1", "-p", str(port)]
    args += ["--env-manager", "local"]
    with serving(
        args,
        ready_path="/ping",
        log=folder / "server.log",
        seconds=120,
        port=port,
        cwd=folder,
        env=env,
    ) as url:
        yield url
