"""No secret ever leaves: a DEBUG-logged session is grepped for every canary value.

Canaries: the pepper, the bootstrap admin key, the DSN password, every minted key, a JWT and
its signing secret. They must not appear in logs, error bodies, ordinary answers, `/metrics`,
the upstream's view of the request, or anywhere in the database.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import jwt
import pytest
from sqlalchemy import inspect, select, text
from sqlalchemy.ext.asyncio import create_async_engine

from tests.auth.conftest import DATABASES, AuthGateway, Secrets, auth_settings, database_dsn
from tests.fakes.openai_upstream import FakeOpenAI
from tests.servers import GatewayThread
from tripoint.logs import JsonFormatter
from tripoint.storage.database import _DRIVERS

JWT_SECRET = "jwt-secret-" + secrets.token_hex(16)
JWT_SETTINGS = """
  jwt:
    issuer: https://idp.test
    audience: tripoint
    algorithms: [HS256]
    keys: [{kid: k1, key: env:TRIPOINT_TEST_JWT_SECRET}]
"""


class Collected(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(JsonFormatter())
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture(params=DATABASES)
def logged_gateway(
    request: pytest.FixtureRequest,
    fake_openai: FakeOpenAI,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[tuple[AuthGateway, Collected]]:
    handler = Collected()
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    monkeypatch.setenv("TRIPOINT_TEST_JWT_SECRET", JWT_SECRET)
    secret = Secrets(dsn=database_dsn(request.param, request, tmp_path))
    server = GatewayThread(
        auth_settings(fake_openai.base_url, secret, tmp_path, JWT_SETTINGS)
    ).start()
    gateway = AuthGateway(server, secret, request.param)
    try:
        yield gateway, handler
    finally:
        gateway.session.close()
        server.stop()
        root.removeHandler(handler)
        root.setLevel(old_level)


def _database_text(dsn: str, directory: Path) -> str:
    """Every row of every table, as text; for SQLite also the raw file bytes (WAL included)."""

    async def dump() -> str:
        scheme, rest = dsn.split("://", 1)
        engine = create_async_engine(f"{_DRIVERS[scheme]}://{rest}")
        try:
            async with engine.connect() as connection:
                names = await connection.run_sync(lambda c: inspect(c).get_table_names())
                rows = []
                for name in names:
                    table = await connection.run_sync(
                        lambda c, n=name: __import__("sqlalchemy").Table(
                            n, __import__("sqlalchemy").MetaData(), autoload_with=c
                        )
                    )
                    rows.extend(str(tuple(r)) for r in await connection.execute(select(table)))
                if scheme == "postgresql":
                    settings = await connection.execute(
                        text("SELECT name, setting FROM pg_settings")
                    )
                    rows.extend(str(tuple(r)) for r in settings)
                return "\n".join(rows)
        finally:
            await engine.dispose()

    dumped = asyncio.run(dump())
    if dsn.startswith("sqlite"):
        dumped += "".join(p.read_bytes().decode("latin-1") for p in directory.glob("tripoint.db*"))
    return dumped


def test_no_secret_appears_in_logs_bodies_metrics_upstream_or_database(
    logged_gateway: tuple[AuthGateway, Collected], fake_openai: FakeOpenAI, tmp_path: Path
) -> None:
    gw, logs = logged_gateway
    fake_openai.reset()
    seen: list[str] = []  # every answer except the two that hand a new key to its owner
    team = gw.team(name="leak-team")
    created = gw.key(team["id"], role="team_admin", metadata={"purpose": "leak test"})
    rotated = gw.ok("POST", f"/keys/{created['id']}/rotate", json={"grace_seconds": 60})
    token = jwt.encode(
        {"iss": "https://idp.test", "aud": "tripoint", "sub": "alice", "team": "leak-team",
         "exp": int(time.time()) + 300},
        JWT_SECRET, algorithm="HS256", headers={"kid": "k1"},
    )  # fmt: skip
    chat = {"model": "chat-default", "messages": [{"role": "user", "content": "hi"}]}
    served = []
    for credential in (created["key"], rotated["key"], token, gw.secrets.admin_key):
        auth = {"Authorization": f"Bearer {credential}"}
        served.append(gw.session.post("/v1/chat/completions", json=chat, headers=auth).status_code)
        responses = (
            gw.session.post("/v1/chat/completions", json=chat, headers=auth),
            gw.session.post("/v1/chat/completions", json={**chat, "stream": True}, headers=auth),
            gw.session.post("/v1/chat/completions", json={"model": "nope"}, headers=auth),
            gw.session.get("/v1/models", headers=auth),
            gw.session.get("/admin/whoami", headers=auth),
            gw.session.get("/admin/keys", headers=auth),
            gw.session.get("/admin/audit", headers=auth),
            gw.session.post("/admin/keys", json={"surprise": credential}, headers=auth),
            gw.session.get("/v1/models", headers={"Authorization": f"Basic {credential}"}),
            gw.session.get("/v1/models", headers={"Authorization": f"Bearer {credential}x"}),
            gw.session.get("/v1/models", headers={"x-api-key": credential[:-1]}),
            gw.session.get("/metrics", headers=auth),
            gw.session.get("/readyz"),
        )
        seen.extend(f"{r.status_code} {dict(r.headers)} {r.text}" for r in responses)
    gw.ok("POST", f"/keys/{rotated['id']}/revoke")
    seen.append(gw.session.get("/v1/models", headers={"x-api-key": rotated["key"]}).text)

    canaries = {
        "pepper": gw.secrets.pepper,
        "admin key": gw.secrets.admin_key,
        "created key": created["key"],
        "rotated key": rotated["key"],
        "jwt": token,
        "jwt signature": token.rsplit(".", 1)[1],
        "jwt secret": JWT_SECRET,
    }
    if gw.kind == "postgresql":
        canaries["dsn password"] = gw.secrets.dsn.split(":")[2].split("@")[0]
    places = {
        "logs": "\n".join(logs.lines),
        "answers": "\n".join(seen),
        "upstream": "\n".join(str(call.headers) + str(call.body) for call in fake_openai.calls),
        "database": _database_text(gw.secrets.dsn, tmp_path),
    }

    assert served == [200, 200, 200, 200]  # every kind of credential really got through
    assert len(logs.lines) > 10
    assert len(fake_openai.calls) >= 8
    assert "leak test" in places["database"]
    leaks = [
        (name, place)
        for name, value in canaries.items()
        for place, body in places.items()
        if value in body
    ]
    assert leaks == []
