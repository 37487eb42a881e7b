"""Real predictive model servers on loopback ports: KServe (~3 s) and MLflow (~25 s, slow)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.model_servers import stop, wait_until_ready
from tests.servers import free_port

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def kserve_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A KServe ModelServer serving `iris`, a classifier it trains at start-up."""
    port = free_port()
    log = tmp_path_factory.mktemp("kserve") / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.predictive.kserve_iris",
                "--http_port",
                str(port),
                "--model_name",
                "iris",
            ],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(process, f"{url}/v2/models/iris/ready", log, 60)
        yield url
    finally:
        stop(process)


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
    log = folder / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "mlflow",
                "models",
                "serve",
                "-m",
                str(model),
                "-h",
                "127.0.0.1",
                "-p",
                str(port),
                "--env-manager",
                "local",
            ],
            cwd=folder,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(process, f"{url}/ping", log, 120)
        yield url
    finally:
        stop(process)
