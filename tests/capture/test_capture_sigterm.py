"""A `tripoint serve` process stopped with SIGTERM under load has stored (redacted) every
opted-in call it answered; the operator reads one back with `tripoint audit content`."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import time
from pathlib import Path

import httpx
import orjson
import pytest
from click.testing import CliRunner

from tests.auth.conftest import Secrets, auth_yaml
from tests.capture.test_capture_gateway import CANARIES, CAPTURE, PROMPT
from tests.fakes.openai_upstream import FakeOpenAI
from tests.processes import GatewayProcess
from tripoint.cli import main

WORKERS = 8


async def load(url: str, key: str, seconds: float) -> int:
    """Calls (half of them streamed) for `seconds`, WORKERS at a time; how many were answered."""
    answered = 0
    deadline = time.monotonic() + seconds

    async def worker(http: httpx.AsyncClient, stream: bool) -> None:
        nonlocal answered
        body = {"model": "chat-default", "stream": stream,
                "messages": [{"role": "user", "content": PROMPT}]}  # fmt: skip
        while time.monotonic() < deadline:
            try:
                response = await http.post("/v1/chat/completions", json=body)
            except httpx.TransportError:
                return  # the gateway went away
            if response.status_code == 200 and (not stream or "[DONE]" in response.text):
                answered += 1

    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=10) as http:
        await asyncio.gather(*(worker(http, stream=i % 2 == 1) for i in range(WORKERS)))
    return answered


def team_key(gateway: GatewayProcess, admin_key: str) -> str:
    admin = {"Authorization": f"Bearer {admin_key}"}
    org = httpx.post(gateway.url + "/admin/orgs", json={"name": "o"}, headers=admin).json()
    team = httpx.post(
        gateway.url + "/admin/teams", json={"org_id": org["id"], "name": "cap-on"}, headers=admin
    ).json()
    minted = httpx.post(gateway.url + "/admin/keys", json={"team_id": team["id"]}, headers=admin)
    return str(minted.json()["key"])


def _inspect(directory: Path) -> tuple[int, int, str]:
    """Captures of answers that ended normally, the first call's id, and the database files'
    raw bytes as text."""
    with sqlite3.connect(directory / "tripoint.db") as connection:
        stored, distinct, first = connection.execute(
            "SELECT (SELECT count(*) FROM call_content WHERE complete),"
            " (SELECT count(DISTINCT request_id) FROM call_content WHERE complete),"
            " (SELECT min(id) FROM call_records)"
        ).fetchone()
    # the shutdown flush once inserted a batch twice (the writer was cancelled mid-commit)
    assert distinct == stored, "a call was captured twice"
    raw = b"".join(p.read_bytes() for p in directory.glob("tripoint.db*")).decode("latin-1")
    return int(stored), int(first), raw


@pytest.mark.slow
async def test_sigterm_under_load_stores_every_answered_call_redacted(
    tmp_path: Path, upstream: FakeOpenAI
) -> None:
    db = tmp_path / "tripoint.db"
    secret = Secrets(dsn=f"sqlite:///{db}")
    config = tmp_path / "tripoint.yaml"
    config.write_text(auth_yaml(upstream.base_url, tmp_path, CAPTURE))
    gateway = GatewayProcess(config, secret.env()).start()
    await asyncio.to_thread(gateway.wait_ready, 180)  # Presidio loads first
    key = team_key(gateway, secret.admin_key)
    upstream.always(delay=0.02)

    running = asyncio.create_task(load(gateway.url, key, seconds=4))
    await asyncio.sleep(1.5)
    assert gateway.process is not None
    gateway.process.send_signal(signal.SIGTERM)
    answered = await running
    await asyncio.to_thread(gateway.stop)
    stored, calls, raw = await asyncio.to_thread(_inspect, tmp_path)
    read = await asyncio.to_thread(
        CliRunner(env=secret.env()).invoke,
        main,
        ["audit", "content", str(calls), "--config", str(config)],
    )

    assert answered > 10
    # nothing answered is lost; an answer finished but not yet read when a worker gave up
    # (its read timed out on a loaded machine, or shutdown closed its connection) is stored
    # too, at most one per worker
    assert answered <= stored <= answered + WORKERS
    assert read.exit_code == 0, read.output
    content = orjson.loads(read.output)
    assert content["request"][0]["text"].startswith("My email is <EMAIL_1> and my token is")
    assert [c for c in CANARIES if c in raw] == []
    with sqlite3.connect(db) as connection:
        audited = connection.execute(
            "SELECT actor, action FROM admin_audit WHERE action = 'call.content.read'"
        ).fetchall()
    assert len(audited) == 1
    assert audited[0][0].startswith("cli:")
