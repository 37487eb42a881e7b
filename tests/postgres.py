"""A throwaway PostgreSQL cluster on a loopback port: `initdb` + `pg_ctl`, gone afterwards.

initdb refuses to run as root, so as root the cluster belongs to the `postgres` user (created
by Debian's package) and every command runs through `runuser`.
"""

from __future__ import annotations

import asyncio
import glob
import os
import secrets
import shutil
import subprocess
import tempfile
from pathlib import Path

import asyncpg

from tests.servers import free_port


def _bin_dir() -> Path:
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4])
    )
    if not found:
        raise RuntimeError("PostgreSQL is not installed (scripts/test installs `postgresql`)")
    return Path(found[-1]).parent


class PostgresServer:
    def __init__(self) -> None:
        self.bin = _bin_dir()
        self.port = free_port()
        self.password = "pw-" + secrets.token_hex(12)  # a canary too: must never leak
        self.user = "tripoint"
        self.root = Path(tempfile.mkdtemp(prefix="tripoint-pg-"))
        self._as_root = os.geteuid() == 0

    def _run(self, *args: str) -> None:
        command = [str(self.bin / args[0]), *args[1:]]
        if self._as_root:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=120)

    def start(self) -> PostgresServer:
        data, sockets, pwfile = self.root / "data", self.root / "sock", self.root / "pw"
        sockets.mkdir()
        pwfile.write_text(self.password)
        if self._as_root:
            shutil.chown(self.root, "postgres", "postgres")
            for path in (sockets, pwfile):
                shutil.chown(path, "postgres", "postgres")
        self._run(
            "initdb", "-D", str(data), "-U", self.user, f"--pwfile={pwfile}",
            "--auth-host=scram-sha-256", "--auth-local=trust", "--no-sync", "-E", "UTF8",
        )  # fmt: skip
        self.resume()
        return self

    def resume(self) -> None:
        """Start (again) the cluster's server process."""
        options = (
            f"-p {self.port} -k {self.root / 'sock'} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        data, log = str(self.root / "data"), str(self.root / "log")
        self._run("pg_ctl", "-D", data, "-o", options, "-l", log, "-w", "start")

    def pause(self) -> None:
        """Stop the server but keep the cluster: the database is down until `resume()`."""
        self._run("pg_ctl", "-D", str(self.root / "data"), "-m", "fast", "-w", "stop")

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.root / "data"), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def dsn(self, database: str = "postgres") -> str:
        return f"postgresql://{self.user}:{self.password}@127.0.0.1:{self.port}/{database}"

    def create_database(self) -> str:
        """A fresh, empty database; returns its DSN."""
        name = "t_" + secrets.token_hex(6)

        async def create() -> None:
            connection = await asyncpg.connect(self.dsn())
            try:
                await connection.execute(f'CREATE DATABASE "{name}"')
            finally:
                await connection.close()

        asyncio.run(create())
        return self.dsn(name)
