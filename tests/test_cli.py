"""The `tripoint` command: check-config, and serve as a real process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
from click.testing import CliRunner

from tests.servers import free_port
from tripoint.cli import main


def test_check_config_accepts_a_valid_file(tmp_path: Path) -> None:
    config = tmp_path / "ok.yaml"
    config.write_text(
        "backends: {a: {type: openai}}\nmodels: {m: {targets: [{backend: a, model: x}]}}"
    )

    result = CliRunner().invoke(main, ["check-config", str(config)])

    assert result.exit_code == 0
    assert "OK (1 backends, 1 models)" in result.output


def test_check_config_prints_every_problem_with_its_path(tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("servr: {}\nmodels: {m: {targets: [{backend: nope, model: x}]}}")

    result = CliRunner().invoke(main, ["check-config", str(config)])

    assert result.exit_code == 2
    assert "servr: unknown key 'servr'" in result.output
    assert "2 problem(s)" in result.output


def test_serve_on_embedded_defaults_answers_and_stops_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "TRIPOINT_DATA_DIR": str(tmp_path / "data")}
    process = subprocess.Popen(
        [sys.executable, "-m", "tripoint", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        models = _wait_for(f"http://127.0.0.1:{port}/v1/models")
        ready = httpx.get(f"http://127.0.0.1:{port}/readyz")
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=20)

    assert models.status_code == 200
    assert {m["id"] for m in models.json()["data"]} == {"chat-local", "embed-local"}
    # a fresh data directory has no model files yet (scripts/serve pulls them first):
    # readiness says so rather than claiming to serve
    assert ready.status_code == 503
    assert ready.json()["checks"]["backend:local"] is False
    # uvicorn shuts down gracefully, then re-raises the signal so supervisors see it
    assert process.returncode in (0, -signal.SIGTERM)
    assert b"Application shutdown complete" in stderr
    assert b"Traceback" not in stderr


def _wait_for(url: str) -> httpx.Response:
    deadline = time.monotonic() + 20
    while True:
        try:
            return httpx.get(url)
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
