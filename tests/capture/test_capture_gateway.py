"""Prompt capture through the real gateway (uvicorn, SQLite and PostgreSQL) with the official
openai SDK: opted-in teams' texts are stored redacted, others' never; the raw database is
searched for the canary values."""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import openai
import orjson
import pytest
from click.testing import CliRunner
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sqlalchemy import func, insert, select

from tests.auth.conftest import (
    DATABASES,
    AuthGateway,
    Secrets,
    auth_settings,
    auth_yaml,
    database_dsn,
)
from tests.auth.test_leakage import Collected, _database_text
from tests.fakes.openai_upstream import FakeOpenAI
from tests.guardrails.samples import run
from tests.servers import GatewayThread
from tripoint.capture.tables import ContentRow
from tripoint.capture.writer import ContentWriter
from tripoint.cli import main
from tripoint.config.schema import Settings
from tripoint.gateway.assembly import assemble
from tripoint.storage.database import Database

# The canaries: they go in (prompt) and come back (answer); they must never be stored.
EMAIL = "jane.canary4417@example.com"
TOKEN = "ghp_" + run(36)
ANSWER_EMAIL = "ops.canary9921@example.org"
ANSWER_KEY = "AKIA" + "Z7XQ2M4N6P8R0T3V"
PROMPT = f"My email is {EMAIL} and my token is {TOKEN}. Please summarise."
ANSWER = (
    "Write to ",
    "ops.canary",
    "9921@exam",
    "ple.org",
    " with key ",
    "AKIAZ7XQ",
    "2M4N6P8R0T3V",
)
CANARIES = (EMAIL, TOKEN, ANSWER_EMAIL, ANSWER_KEY)

CAPTURE = """
guardrails:
  checks:
    pii: {type: pii, action: redact, redaction: reversible}
    secrets: {type: secrets, action: log}
  apply:
    default: [pii, secrets]
    models: {chat-premium: []}
governance:
  capture:
    teams:
      cap-on: {max_class: internal, retention_days: 7, max_bytes: 4096}
      cap-long: {max_class: confidential, retention_days: 30, max_bytes: 120}
"""


TRACED = "telemetry: {tracing: {enabled: true}}\n"  # every stage in its own span


def _settings(upstream: FakeOpenAI, secret: Secrets, directory: Path) -> Settings:
    return auth_settings(upstream.base_url, secret, directory, CAPTURE + TRACED)


def _span_text(spans: InMemorySpanExporter) -> str:
    return "\n".join(
        f"{span.name} {dict(span.attributes or {})} "
        + " ".join(f"{e.name} {dict(e.attributes or {})}" for e in span.events)
        for span in spans.get_finished_spans()
    )


async def _seed_expired(settings: Settings) -> None:
    """A row whose time is up, written before the gateway starts: the gateway deletes it."""
    database = Database.from_settings(settings)
    await database.start()
    long_ago = datetime.now(UTC) - timedelta(days=90)
    async with database.session() as session:
        await session.execute(
            insert(ContentRow),
            [
                {
                    "request_id": "expired-row",
                    "created_at": long_ago,
                    "expires_at": long_ago + timedelta(days=1),
                    "team_id": None,
                    "team_name": "gone-team",
                    "model": "chat-default",
                    "operation": "chat",
                    "data_class": "internal",
                    "request": [],
                    "response": [],
                    "complete": True,
                    "truncated": False,
                }
            ],
        )
    await database.close()


@pytest.fixture(scope="module", params=DATABASES)
def capture_gateway(
    request: pytest.FixtureRequest,
    fake_openai: FakeOpenAI,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[AuthGateway, Collected, Path, InMemorySpanExporter]]:
    handler = Collected()
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    directory = tmp_path_factory.mktemp("capture")
    secret = Secrets(dsn=database_dsn(request.param, request, directory))
    settings = _settings(fake_openai, secret, directory)
    asyncio.run(_seed_expired(settings))
    spans = InMemorySpanExporter()
    server = GatewayThread(settings, assemble(settings, span_exporter=spans)).start(timeout=120)
    gateway = AuthGateway(server, secret, request.param)
    try:
        yield gateway, handler, directory, spans
    finally:
        gateway.session.close()
        server.stop()
        root.removeHandler(handler)
        root.setLevel(old_level)


@pytest.fixture
def cap(capture_gateway: tuple[Any, ...], upstream: FakeOpenAI) -> AuthGateway:
    return capture_gateway[0]


def _rows(gw: AuthGateway, **where: Any) -> list[ContentRow]:
    async def query() -> list[ContentRow]:
        database = Database.from_settings(gw.server.settings)
        try:
            async with database.session() as session:
                statement = select(ContentRow).order_by(ContentRow.id)
                for name, value in where.items():
                    statement = statement.where(getattr(ContentRow, name) == value)
                return list((await session.scalars(statement)).all())
        finally:
            await database.close()

    return asyncio.run(query())


def _count(gw: AuthGateway) -> int:
    async def query() -> int:
        database = Database.from_settings(gw.server.settings)
        try:
            async with database.session() as session:
                return int(await session.scalar(select(func.count()).select_from(ContentRow)) or 0)
        finally:
            await database.close()

    return asyncio.run(query())


def _call_id(gw: AuthGateway, request_id: str) -> int:
    """The ledger id of the call sent with this x-request-id (the ledger writes in batches)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        rows = gw.ok("GET", "/calls", params={"limit": 1000})["data"]
        found = [r["id"] for r in rows if r["request_id"] == request_id]
        if found:
            return int(found[0])
        time.sleep(0.1)
    raise AssertionError(f"no call record for {request_id}")


def _stored(gw: AuthGateway, request_id: str) -> None:
    """Until the capture is written (in batches, off the hot path)."""
    deadline = time.monotonic() + 10
    while not _rows(gw, request_id=request_id):
        if time.monotonic() > deadline:
            raise AssertionError(f"nothing captured for {request_id}")
        time.sleep(0.1)


def _content(gw: AuthGateway, request_id: str, key: str | None = None) -> Any:
    """The content route's answer for this call, once it was captured."""
    call_id = _call_id(gw, request_id)
    _stored(gw, request_id)
    return gw.admin("GET", f"/calls/{call_id}/content", key)


def _team_key(gw: AuthGateway, team: str, role: str = "member") -> str:
    teams = {t["name"]: t for t in gw.ok("GET", "/teams")["data"]}
    found = teams.get(team) or gw.team(name=team)
    return str(gw.key(found["id"], role=role)["key"])


def _rid() -> str:
    return "cap-" + secrets.token_hex(8)


def test_opted_in_team_stores_its_prompt_and_answer_redacted(
    cap: AuthGateway, capture_gateway: tuple[Any, ...], upstream: FakeOpenAI
) -> None:
    _, logs, directory, spans = capture_gateway
    client = cap.client(_team_key(cap, "cap-on"))
    upstream.then(words=ANSWER)
    rid = _rid()

    answer = client.chat.completions.create(
        model="chat-default",
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": PROMPT}],
        extra_headers={"x-request-id": rid},
    )
    content = _content(cap, rid)

    assert ANSWER_KEY in (answer.choices[0].message.content or "")  # the caller's answer is whole
    assert TOKEN in str(upstream.calls[-1].body)  # `secrets` is in shadow mode: it went upstream
    assert content.status_code == 200, content.text
    body = content.json()
    assert body["request"][0] == {"role": "system", "text": "Be brief."}
    user = body["request"][1]["text"]
    assert user.startswith("My email is <EMAIL_1> and my token is <GITHUB_TOKEN_1>.")
    assert body["response"] == [
        {"index": 0, "text": "Write to <EMAIL_2> with key <AWS_ACCESS_KEY_ID_1>",
         "finish_reason": "stop"}
    ]  # fmt: skip
    assert (body["team_name"], body["data_class"], body["complete"]) == ("cap-on", "internal", True)
    places = {
        "database": _database_text(cap.secrets.dsn, directory),
        "logs": "\n".join(logs.lines),
        "spans": _span_text(spans),
        "metrics": cap.session.get(
            "/metrics", headers={"Authorization": f"Bearer {cap.secrets.admin_key}"}
        ).text,
    }
    assert "<GITHUB_TOKEN_1>" in places["database"]  # the search does reach the stored rows
    assert "tripoint.capture" in places["spans"]  # the capture stage ran, traced
    leaks = [(c, place) for c in CANARIES for place, text in places.items() if c in text]
    assert leaks == []


def test_a_model_without_guardrails_is_still_stored_redacted(
    cap: AuthGateway, upstream: FakeOpenAI
) -> None:
    client = cap.client(_team_key(cap, "cap-on"))
    upstream.then(words=ANSWER)
    rid = _rid()

    client.chat.completions.create(
        model="chat-premium",
        messages=[{"role": "user", "content": PROMPT}],
        extra_headers={"x-request-id": rid},
    )
    body = _content(cap, rid).json()

    assert EMAIL in str(upstream.calls[-1].body)  # no guardrail touched the call itself
    assert body["request"][0]["text"].startswith(
        "My email is <EMAIL_1> and my token is <GITHUB_TOKEN_1>."
    )
    assert all(c not in str(body) for c in CANARIES)


def test_streamed_answer_is_captured_whole(cap: AuthGateway, upstream: FakeOpenAI) -> None:
    client = cap.client(_team_key(cap, "cap-on"))
    upstream.then(words=("Sure", ",", " here", " it", " is", " in", " six", " chunks", "."))
    rid = _rid()

    stream = client.chat.completions.create(
        model="chat-default",
        messages=[{"role": "user", "content": "Say something."}],
        stream=True,
        extra_headers={"x-request-id": rid},
    )
    streamed = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    body = _content(cap, rid).json()

    assert streamed == "Sure, here it is in six chunks."
    assert body["response"] == [{"index": 0, "text": streamed, "finish_reason": "stop"}]
    assert body["complete"] is True


def test_streamed_secret_split_across_chunks_is_redacted(
    cap: AuthGateway, upstream: FakeOpenAI
) -> None:
    client = cap.client(_team_key(cap, "cap-on"))
    upstream.then(words=ANSWER)
    rid = _rid()

    stream = client.completions.create(
        model="chat-default", prompt="Who do I write to?", stream=True,
        extra_headers={"x-request-id": rid},
    )  # fmt: skip
    "".join(c.choices[0].text for c in stream if c.choices)
    body = _content(cap, rid).json()

    assert body["operation"] == "completions"
    assert body["response"][0]["text"] == "Write to <EMAIL_1> with key <AWS_ACCESS_KEY_ID_1>"


def test_embedding_inputs_are_captured_redacted(cap: AuthGateway, upstream: FakeOpenAI) -> None:
    client = cap.client(_team_key(cap, "cap-on"))
    rid = _rid()

    client.embeddings.create(
        model="embed-default", input=["plain words", PROMPT], extra_headers={"x-request-id": rid}
    )
    body = _content(cap, rid).json()

    assert body["operation"] == "embeddings"
    assert [part["text"][:24] for part in body["request"]] == [
        "plain words",
        "My email is <EMAIL_1> an",
    ]
    assert body["response"] == []
    assert all(c not in str(body) for c in CANARIES)


def test_team_that_did_not_opt_in_stores_nothing(cap: AuthGateway, upstream: FakeOpenAI) -> None:
    client = cap.client(_team_key(cap, "cap-off"))
    before = _count(cap)
    rid = _rid()

    client.chat.completions.create(
        model="chat-default",
        messages=[{"role": "user", "content": PROMPT}],
        extra_headers={"x-request-id": rid},
    )
    list(
        client.chat.completions.create(
            model="chat-default", messages=[{"role": "user", "content": PROMPT}], stream=True
        )
    )
    client.embeddings.create(model="embed-default", input=[PROMPT])
    call_id = _call_id(cap, rid)
    time.sleep(1.2)  # more than two flush intervals of the capture writer

    assert _count(cap) == before
    assert _rows(cap, team_name="cap-off") == []
    assert cap.admin("GET", f"/calls/{call_id}/content").status_code == 404


def test_data_class_above_the_team_maximum_is_not_captured(
    cap: AuthGateway, upstream: FakeOpenAI
) -> None:
    client = cap.client(_team_key(cap, "cap-on"))  # max_class: internal
    allowed, above = _rid(), _rid()

    for rid, declared in ((above, "confidential"), (allowed, "internal")):
        client.chat.completions.create(
            model="chat-default",
            messages=[{"role": "user", "content": "hello"}],
            extra_headers={"x-request-id": rid, "x-tripoint-data-class": declared},
        )
    stored = _content(cap, allowed)

    assert stored.status_code == 200
    assert _rows(cap, request_id=allowed) != []
    assert _rows(cap, request_id=above) == []
    assert cap.admin("GET", f"/calls/{_call_id(cap, above)}/content").status_code == 404


def test_capture_is_cut_to_the_team_max_bytes(cap: AuthGateway, upstream: FakeOpenAI) -> None:
    client = cap.client(_team_key(cap, "cap-long"))  # max_bytes: 120
    rid = _rid()

    client.chat.completions.create(
        model="chat-default",
        messages=[{"role": "user", "content": "word " * 100}],
        extra_headers={"x-request-id": rid, "x-tripoint-data-class": "confidential"},
    )
    body = _content(cap, rid).json()

    assert body["truncated"] is True
    assert body["data_class"] == "confidential"
    assert len(body["request"][0]["text"].encode()) == 120
    assert body["response"] == [{"index": 0, "text": "", "finish_reason": "stop"}]


def test_only_auditors_of_the_team_and_admins_read_content_and_each_read_is_audited(
    cap: AuthGateway, upstream: FakeOpenAI
) -> None:
    member = _team_key(cap, "cap-on")
    auditor = _team_key(cap, "cap-on", role="auditor")
    other_auditor = _team_key(cap, "cap-off", role="auditor")
    team_admin = _team_key(cap, "cap-on", role="team_admin")
    viewer = _team_key(cap, "cap-on", role="viewer")
    rid = _rid()
    cap.client(member).chat.completions.create(
        model="chat-default",
        messages=[{"role": "user", "content": "audit me"}],
        extra_headers={"x-request-id": rid},
    )
    call_id = _call_id(cap, rid)

    by_admin = _content(cap, rid)
    by_auditor = _content(cap, rid, auditor)
    statuses = {
        role: cap.admin("GET", f"/calls/{call_id}/content", key).status_code
        for role, key in (
            ("member", member),
            ("viewer", viewer),
            ("team_admin", team_admin),
            ("other team's auditor", other_auditor),
            ("nobody", "sk-not-a-key"),
        )
    }
    minted_by_team_admin = cap.admin(
        "POST", "/keys", team_admin, json={"team_id": None, "role": "auditor"}
    )
    audit = cap.ok("GET", "/audit", params={"action": "call.content.read", "target_id": call_id})

    assert by_admin.status_code == 200
    assert by_auditor.json()["request"] == [{"role": "user", "text": "audit me"}]
    assert statuses == {
        "member": 403,
        "viewer": 403,
        "team_admin": 403,
        "other team's auditor": 404,
        "nobody": 401,
    }
    assert minted_by_team_admin.status_code == 422
    with pytest.raises(openai.PermissionDeniedError):  # an auditor reads; it calls no model
        cap.client(auditor).chat.completions.create(
            model="chat-default", messages=[{"role": "user", "content": "hi"}]
        )
    assert sorted(e["actor_role"] for e in audit["data"]) == ["admin", "auditor"]
    assert all(e["detail"] == {"request_id": rid, "found": True} for e in audit["data"])
    assert cap.admin("GET", "/calls/999999999/content").status_code == 404
    assert cap.admin("GET", "/calls/0/content").status_code == 422


def test_cli_reads_content_as_an_audited_admin(
    cap: AuthGateway, capture_gateway: tuple[Any, ...], upstream: FakeOpenAI
) -> None:
    directory = capture_gateway[2]
    config = directory / "cli.yaml"
    config.write_text(auth_yaml(upstream.base_url, directory, CAPTURE))
    rid = _rid()
    cap.client(_team_key(cap, "cap-on")).chat.completions.create(
        model="chat-default",
        messages=[{"role": "user", "content": PROMPT}],
        extra_headers={"x-request-id": rid},
    )
    call_id = _call_id(cap, rid)
    _stored(cap, rid)
    runner = CliRunner(env=cap.secrets.env())

    read = runner.invoke(main, ["audit", "content", str(call_id), "--config", str(config)])
    missing = runner.invoke(main, ["audit", "content", "999999999", "--config", str(config)])
    audit = cap.ok("GET", "/audit", params={"action": "call.content.read", "target_id": call_id})

    assert read.exit_code == 0, read.output
    assert orjson.loads(read.output)["request"][0]["text"].startswith("My email is <EMAIL_1>")
    assert all(c not in read.output for c in CANARIES)
    assert missing.exit_code == 1
    assert "No call with id 999999999" in missing.output
    assert [e["actor"].split(":")[0] for e in audit["data"]] == ["cli"]


def test_expired_rows_are_deleted_in_the_background(cap: AuthGateway) -> None:
    deadline = time.monotonic() + 10
    while _rows(cap, request_id="expired-row") and time.monotonic() < deadline:
        time.sleep(0.1)

    assert _rows(cap, request_id="expired-row") == []


def test_retention_deletes_rows_older_than_their_team_now_keeps_them(
    cap: AuthGateway, upstream: FakeOpenAI
) -> None:
    short, long = _rid(), _rid()
    for team, rid in (("cap-on", short), ("cap-long", long)):  # stored for 7 and 30 days
        cap.client(_team_key(cap, team)).chat.completions.create(
            model="chat-default",
            messages=[{"role": "user", "content": "keep me a while"}],
            extra_headers={"x-request-id": rid},
        )
        _stored(cap, rid)

    async def sweep() -> tuple[int, int]:
        """As a replica would after cap-on's retention was cut from 7 days to 2."""
        database = Database.from_settings(cap.server.settings)
        sweeper = ContentWriter(database, _Unused(), {"cap-on": 2, "cap-long": 30})
        now = datetime.now(UTC)
        try:
            early = await sweeper.sweep(now + timedelta(days=1))
            return early, await sweeper.sweep(now + timedelta(days=3))
        finally:
            await database.close()

    after_a_day, after_three_days = asyncio.run(sweep())

    assert after_a_day == 0
    assert after_three_days >= 1
    assert _rows(cap, request_id=short) == []
    assert _rows(cap, request_id=long) != []


class _Unused:
    def redact(self, texts: Any) -> list[str]:
        raise AssertionError("sweeping redacts nothing")
