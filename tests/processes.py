"""Real `tripoint serve` processes for multi-replica tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.servers import free_port


class GatewayProcess:
    def __init__(self, config: Path, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self._config = config
        self.config_path = config
        self.extra_env = dict(env or {})  # what a CLI reading the same config needs too
        self._env = {**os.environ, **(env or {})}
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> GatewayProcess:
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tripoint",
                "serve",
                "--config",
                str(self._config),
                "--port",
                str(self.port),
                "--log-level",
                "warning",
            ],
            env=self._env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        return self

    def wait_ready(self, timeout: float = 90) -> None:
        """Until /healthz answers; a loaded CI machine starting several replicas is slow."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                _, stderr = self.process.communicate()
                raise RuntimeError(f"gateway exited: {stderr.decode(errors='replace')[-2000:]}")
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.05)
        raise RuntimeError(f"gateway on port {self.port} did not start")

    def stop(self) -> bytes:
        if self.process is None:
            return b""
        self.process.send_signal(signal.SIGTERM)
        try:
            _, stderr = self.process.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            _, stderr = self.process.communicate()
        return stderr
