"""Durability: SIGTERM during load leaves one record per answered call; a SIGKILL loses at
most the documented flush interval; several writers on PostgreSQL keep valid chains; the
CLI's verify names the first tampered record."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import time
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from tests.auth.conftest import Secrets, auth_yaml
from tests.fakes.openai_upstream import FakeOpenAI
from tests.postgres import PostgresServer
from tests.processes import GatewayProcess
from tripoint.cli import main

BODY = {"model": "chat-default", "messages": [{"role": "user", "content": "hi"}]}


def config(tmp_path: Path, upstream: FakeOpenAI, dsn: str) -> tuple[Path, Secrets]:
    secret = Secrets(dsn=dsn)
    path = tmp_path / "tripoint.yaml"
    path.write_text(auth_yaml(upstream.base_url, tmp_path))
    return path, secret


async def load(url: str, key: str, seconds: float) -> list[float]:
    """Calls for `seconds`, 8 at a time; the monotonic time each answer arrived."""
    answered: list[float] = []
    deadline = time.monotonic() + seconds

    async def worker(http: httpx.AsyncClient) -> None:
        while time.monotonic() < deadline:
            try:
                response = await http.post("/v1/chat/completions", json=BODY)
            except httpx.TransportError:
                return  # the gateway went away
            if response.status_code in (200, 429, 502):
                answered.append(time.monotonic())

    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=10) as http:
        await asyncio.gather(*(worker(http) for _ in range(8)))
    return answered


def ledger_count(cfg: Path, env: dict[str, str]) -> int:
    runner = CliRunner(env=env)
    result = runner.invoke(main, ["usage", "--group-by", "status", "--config", str(cfg)])
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()[1:]
    return (
        sum(int(line.split()[1]) for line in lines) if lines and "(no calls)" not in lines[0] else 0
    )


def minted_key(gateway: GatewayProcess, admin_key: str) -> str:
    admin = {"Authorization": f"Bearer {admin_key}"}
    org = httpx.post(gateway.url + "/admin/orgs", json={"name": "o"}, headers=admin).json()
    team = httpx.post(
        gateway.url + "/admin/teams", json={"org_id": org["id"], "name": "t"}, headers=admin
    ).json()
    return str(
        httpx.post(gateway.url + "/admin/keys", json={"team_id": team["id"]}, headers=admin).json()[
            "key"
        ]
    )


@pytest.mark.slow
async def test_sigterm_during_load_keeps_every_answered_call(
    tmp_path: Path, upstream: FakeOpenAI
) -> None:
    cfg, secret = config(tmp_path, upstream, f"sqlite:///{tmp_path / 'ledger.db'}")
    gateway = GatewayProcess(cfg, secret.env()).start()
    gateway.wait_ready()
    key = minted_key(gateway, secret.admin_key)
    upstream.always(delay=0.05)

    running = asyncio.create_task(load(gateway.url, key, seconds=4))
    await asyncio.sleep(1.5)
    assert gateway.process is not None
    gateway.process.send_signal(signal.SIGTERM)
    answered = await running
    gateway.stop()

    assert len(answered) > 10
    assert await asyncio.to_thread(ledger_count, cfg, secret.env()) == len(answered)


@pytest.mark.slow
async def test_sigkill_loses_at_most_the_last_flush_interval(
    tmp_path: Path, upstream: FakeOpenAI
) -> None:
    cfg, secret = config(tmp_path, upstream, f"sqlite:///{tmp_path / 'ledger.db'}")
    gateway = GatewayProcess(cfg, secret.env()).start()
    gateway.wait_ready()
    key = minted_key(gateway, secret.admin_key)
    upstream.always(delay=0.02)

    running = asyncio.create_task(load(gateway.url, key, seconds=4))
    await asyncio.sleep(2.0)
    assert gateway.process is not None
    killed_at = time.monotonic()
    os.kill(gateway.process.pid, signal.SIGKILL)
    answered = await running
    gateway.stop()

    recorded = await asyncio.to_thread(ledger_count, cfg, secret.env())
    recent = sum(1 for t in answered if t > killed_at - 0.5 - 0.25)  # interval + scheduling
    assert recorded <= len(answered)
    assert len(answered) - recorded <= recent


@pytest.mark.slow
async def test_concurrent_writers_on_postgresql_keep_valid_chains(
    tmp_path: Path, upstream: FakeOpenAI, postgres: PostgresServer
) -> None:
    dsn = await asyncio.to_thread(postgres.create_database)  # it runs its own event loop
    cfg, secret = config(tmp_path, upstream, dsn)
    gateways = [GatewayProcess(cfg, secret.env()).start() for _ in range(3)]
    for gateway in gateways:
        gateway.wait_ready()
    key = minted_key(gateways[0], secret.admin_key)

    answered = await asyncio.gather(*(load(g.url, key, seconds=2) for g in gateways))
    for gateway in gateways:
        gateway.stop()

    total = sum(len(a) for a in answered)
    runner = CliRunner(env=secret.env())
    result = await asyncio.to_thread(runner.invoke, main, ["audit", "verify", "--config", str(cfg)])
    assert result.exit_code == 0, result.output
    assert f"OK: {total} call records" in result.output


def test_cli_verify_names_the_first_tampered_record(tmp_path: Path, upstream: FakeOpenAI) -> None:
    db = tmp_path / "ledger.db"
    cfg, secret = config(tmp_path, upstream, f"sqlite:///{db}")
    gateway = GatewayProcess(cfg, secret.env()).start()
    gateway.wait_ready()
    key = minted_key(gateway, secret.admin_key)
    with httpx.Client(base_url=gateway.url, headers={"Authorization": f"Bearer {key}"}) as http:
        for _ in range(5):
            http.post("/v1/chat/completions", json=BODY)
    gateway.stop()  # SIGTERM: flushed
    runner = CliRunner(env=secret.env())
    clean = runner.invoke(main, ["audit", "verify", "--config", str(cfg)])
    with sqlite3.connect(db) as connection:
        connection.execute("UPDATE call_records SET prompt_tokens = 999 WHERE seq = 3")

    tampered = runner.invoke(main, ["audit", "verify", "--config", str(cfg)])
    exported = runner.invoke(
        main, ["audit", "export", "-o", str(tmp_path / "a.jsonl"), "--config", str(cfg)]
    )

    assert clean.exit_code == 0, clean.output
    assert "OK: 5 call records" in clean.output
    assert tampered.exit_code == 1
    assert "record 3" in tampered.output
    assert "altered" in tampered.output
    assert exported.exit_code == 0
    assert len((tmp_path / "a.jsonl").read_text().splitlines()) == 5
