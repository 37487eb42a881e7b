"""Run the real gateway under uvicorn on a loopback port, in a background thread."""

from __future__ import annotations

import socket
import threading
import time

import uvicorn

from tripoint.config.schema import Settings
from tripoint.gateway import Gateway
from tripoint.server import uvicorn_config


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class GatewayThread:
    def __init__(self, settings: Settings, gateway: Gateway | None = None) -> None:
        port = free_port()
        server = settings.server.model_copy(update={"host": "127.0.0.1", "port": port})
        self.settings = settings.model_copy(update={"server": server})
        self.port = port
        self.server = uvicorn.Server(uvicorn_config(self.settings, "warning", gateway))
        self._thread = threading.Thread(target=self.server.run, name="gateway", daemon=True)

    @property
    def gateway(self) -> Gateway:
        gateway: Gateway = self.server.config.loaded_app.app.state.gateway  # type: ignore[union-attr]
        return gateway

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 15) -> GatewayThread:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("gateway did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self._thread.join(15)
