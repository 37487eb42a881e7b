"""What authentication costs on the hot path: open gateway vs API key (cache hit), side by side.

Run: .venv/bin/python benchmarks/auth_overhead.py [requests]
"""

from __future__ import annotations

import asyncio
import os
import secrets
import statistics
import sys
import tempfile
import time

import httpx

from tripoint.api.app import create_app
from tripoint.auth.grants import Actor
from tripoint.auth.views import NewKey, NewOrg, NewTeam
from tripoint.config import parse_settings
from tripoint.gateway.assembly import assemble
from tripoint.pipeline.call import Principal

CONFIG = """
server: {{data_dir: {data_dir}}}
{auth}
backends:
  fake: {{type: openai, base_url: "http://127.0.0.1:9/v1"}}
models:
  chat-default: {{targets: [{{backend: fake, model: m}}]}}
"""
AUTH = "auth: {pepper: env:BENCH_PEPPER, key_cache_ttl: 60}"


async def _rates(apps: dict[str, tuple[object, dict[str, str]]], requests: int) -> dict[str, float]:
    """Median req/s per app, rounds interleaved so machine noise hits both sides alike."""
    clients = {
        name: httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://b")  # type: ignore[arg-type]
        for name, (app, _) in apps.items()
    }
    rounds: dict[str, list[float]] = {name: [] for name in apps}
    for name, client in clients.items():  # warm-up (and fill the key cache)
        for _ in range(200):
            assert (await client.get("/v1/models", headers=apps[name][1])).status_code == 200
    for _ in range(10):
        for name, client in clients.items():
            started = time.perf_counter()
            for _ in range(requests // 10):
                await client.get("/v1/models", headers=apps[name][1])
            rounds[name].append((requests // 10) / (time.perf_counter() - started))
    for client in clients.values():
        await client.aclose()
    return {name: statistics.median(values) for name, values in rounds.items()}


async def main(requests: int) -> None:
    os.environ["BENCH_PEPPER"] = secrets.token_hex(16)
    with tempfile.TemporaryDirectory() as data_dir:
        open_settings = parse_settings(CONFIG.format(data_dir=data_dir, auth=""))
        auth_settings = parse_settings(CONFIG.format(data_dir=data_dir, auth=AUTH))
        open_gateway, auth_gateway = assemble(open_settings), assemble(auth_settings)
        await open_gateway.start()
        await auth_gateway.start()
        assert auth_gateway.identity is not None
        admin = auth_gateway.identity.administration
        actor = Actor(Principal(id="bench", role="admin", kind="cli"))
        org = await admin.create_org(actor, NewOrg(name="bench"))
        team = await admin.create_team(actor, NewTeam(org_id=org.id, name="bench"))
        key = (await admin.create_key(actor, NewKey(team_id=team.id))).key
        authenticator = auth_gateway.identity.authenticator
        headers = {"authorization": f"Bearer {key}"}
        await authenticator.authenticate(headers)
        started = time.perf_counter()
        for _ in range(requests):
            await authenticator.authenticate(headers)
        per_call_us = (time.perf_counter() - started) / requests * 1e6

        rates = await _rates(
            {
                "open": (create_app(open_settings, open_gateway), {}),
                "key": (create_app(auth_settings, auth_gateway), headers),
            },
            requests,
        )
        open_rate, auth_rate = rates["open"], rates["key"]
        await open_gateway.close()
        await auth_gateway.close()
    print(f"python {sys.version.split()[0]}, {requests} requests per side, GET /v1/models (ASGI)")
    print(f"authenticate() on a cache hit: {per_call_us:.1f} us per call")
    print(f"open gateway:  {open_rate:8.0f} req/s")
    print(f"API key auth:  {auth_rate:8.0f} req/s  (ratio {auth_rate / open_rate:.2f})")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 5000))
