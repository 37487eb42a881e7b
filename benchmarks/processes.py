"""The processes under test: spawn, wait for the first answer, read CPU and memory, stop."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_TICK = os.sysconf("SC_CLK_TCK")
_PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time the process has used so far (/proc/PID/stat utime+stime)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()  # the command name may contain spaces
    return (int(fields[11]) + int(fields[12])) / _TICK


@dataclass(frozen=True, slots=True)
class Memory:
    rss_mib: float  # resident now
    peak_mib: float  # the high-water mark since start


def memory(pid: int) -> Memory:
    values: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in {"VmRSS", "VmHWM"}:
            values[name] = int(rest.split()[0]) / 1024
    return Memory(rss_mib=values["VmRSS"], peak_mib=values["VmHWM"])


def http_ok(url: str, timeout: float = 1.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 -- loopback
            return int(response.status) == 200
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


class Process:
    """A child process we started; stopped with SIGTERM (then SIGKILL) when done."""

    def __init__(
        self, argv: list[str], name: str, log: Path, env: dict[str, str] | None = None
    ) -> None:
        self.name = name
        self.argv = argv
        self.log = log
        # output goes to a file, never a pipe: a full pipe would stall the process under test
        with log.open("wb") as out:
            self.started = time.perf_counter()
            self._popen = subprocess.Popen(
                argv,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=ROOT,
                env={**os.environ, **(env or {})},
            )

    @property
    def pid(self) -> int:
        return self._popen.pid

    def first_line(self, timeout: float) -> str:
        """The first line the process prints (the upstream announces its port this way)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self._popen.poll() is None:
            text = self.log.read_text(errors="replace")
            if "\n" in text:
                return text.split("\n", 1)[0].strip()
            time.sleep(0.01)
        raise RuntimeError(f"{self.name} printed nothing: {self._output()}")

    def wait_for(self, url: str, timeout: float) -> float:
        """Poll `url` until it answers 200; seconds from spawn to that first answer."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._popen.poll() is not None:
                raise RuntimeError(f"{self.name} exited: {self._output()}")
            if http_ok(url, timeout=0.5):
                return time.perf_counter() - self.started
            time.sleep(0.005)
        self.stop()
        raise RuntimeError(f"{self.name} did not answer {url} within {timeout}s: {self._output()}")

    def stop(self) -> None:
        if self._popen.poll() is None:
            self._popen.send_signal(signal.SIGTERM)
            try:
                self._popen.wait(10)
            except subprocess.TimeoutExpired:
                self._popen.kill()
                self._popen.wait(5)

    def _output(self) -> str:
        return self.log.read_text(errors="replace")[-2000:]


def start_upstream(workdir: Path, timeout: float = 15.0) -> tuple[Process, str]:
    """The fast upstream in its own process; returns it and its `/v1` base URL."""
    argv = [sys.executable, "-m", "benchmarks.upstream", "--port", "0"]
    process = Process(argv, "upstream", workdir / "upstream.log")
    line = process.first_line(timeout)
    port = int(line.rsplit(" ", 1)[1])
    return process, f"http://127.0.0.1:{port}/v1"


def tripoint_command() -> str:
    """The `tripoint` console script of the interpreter running the harness."""
    candidate = Path(sys.executable).parent / "tripoint"
    if not candidate.exists():
        raise RuntimeError(f"no tripoint script next to {sys.executable}; install the project")
    return str(candidate)


def start_redis(workdir: Path, fsync: str = "always", timeout: float = 15.0) -> tuple[Process, str]:
    """A private redis-server on loopback persisting with AOF and `appendfsync <fsync>`
    (`always` is what budgets need); returns it and its URL."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is not installed (Debian's redis-server)")
    port = free_port()
    data = workdir / "redis"
    data.mkdir(parents=True, exist_ok=True)
    argv = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "yes", "--appendfsync", fsync, "--dir", str(data),
            "--protected-mode", "no"]  # fmt: skip
    process = Process(argv, "redis", data / "redis.log")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                if sock.recv(16).startswith(b"+PONG"):
                    return process, f"redis://127.0.0.1:{port}/0"
        except OSError:
            time.sleep(0.02)
    process.stop()
    raise RuntimeError(f"redis-server did not answer within {timeout}s: {process.log}")


def start_gateway(
    config: Path,
    port: int,
    log: Path,
    timeout: float = 30.0,
    source: Path | None = None,
    *,
    env: dict[str, str] | None = None,
) -> tuple[Process, float]:
    """`tripoint serve --config FILE` as a real process; returns it and its start-up time.

    With `source`, the same command runs from that source tree (`python -m tripoint` with
    `source/src` first on the path), to compare two versions of the code in one run.
    """
    serve = ["serve", "--config", str(config), "--log-level", "warning"]
    serve += ["--host", "127.0.0.1", "--port", str(port)]
    if source is None:
        process = Process([tripoint_command(), *serve], "gateway", log, env)
    else:
        env = {**(env or {}), "PYTHONPATH": str(source / "src")}
        process = Process([sys.executable, "-m", "tripoint", *serve], "gateway", log, env)
    startup = process.wait_for(f"http://127.0.0.1:{port}/v1/models", timeout)
    return process, startup
