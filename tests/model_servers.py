"""Real model servers started as subprocesses on loopback ports: wait until ready, stop them."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import httpx


def wait_until_ready(process: subprocess.Popen[bytes], url: str, log: Path, seconds: float) -> None:
    """Poll `url` until it answers 200; fail with the server's log if it dies or stalls."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url} exited early:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    stop(process)
    raise RuntimeError(f"{url} did not become ready in {seconds} s:\n{log.read_text()[-3000:]}")


def stop(process: subprocess.Popen[bytes]) -> None:
    """End a server started with `start_new_session=True` and its children (its group)."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(10)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(5)
    except ProcessLookupError:
        pass


@contextlib.contextmanager
def serving(
    module_args: Sequence[str],
    *,
    ready_path: str,
    log: Path,
    seconds: float,
    port: int,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> Iterator[str]:
    """`python -m <module_args>` in its own process group, its output in `log`; yields its
    base URL (`http://127.0.0.1:{port}`) once `ready_path` answers 200, and stops it after."""
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", *module_args],
            cwd=cwd,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(process, url + ready_path, log, seconds)
        yield url
    finally:
        stop(process)
