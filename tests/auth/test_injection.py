"""SQL injection: hostile strings in every id, header, filter and body field are plain data."""

from __future__ import annotations

import ast
import asyncio
from pathlib import Path
from urllib.parse import quote

import pytest
from sqlalchemy import func, inspect, select
from sqlalchemy.ext.asyncio import create_async_engine

from tests.auth.conftest import AuthGateway
from tripoint.auth.tables import AuditRow, KeyRow, OrgRow, TeamRow, UserRow
from tripoint.storage.database import _DRIVERS

HOSTILE = [
    "' OR '1'='1",
    "1; DROP TABLE api_keys; --",
    "x' UNION SELECT digest, digest FROM api_keys --",
    '"; DELETE FROM teams; --',
    "%' OR 1=1 --",
    "key_\x00'--",
    "' || (SELECT pg_sleep(5)) || '",
    "\N{CJK UNIFIED IDEOGRAPH-6F22}" * 50,  # multi-byte text, longer than any id
]
TABLES = (OrgRow, TeamRow, UserRow, KeyRow, AuditRow)


def _counts(dsn: str) -> dict[str, int]:
    async def count() -> dict[str, int]:
        scheme, rest = dsn.split("://", 1)
        engine = create_async_engine(f"{_DRIVERS[scheme]}://{rest}")
        try:
            async with engine.connect() as connection:
                names = await connection.run_sync(lambda c: sorted(inspect(c).get_table_names()))
                counts = {"tables": len(names)}
                for table in TABLES:
                    found = await connection.scalar(select(func.count()).select_from(table))
                    counts[table.__tablename__] = int(found or 0)
                for marked in (OrgRow.deleted_at, TeamRow.deleted_at, UserRow.deleted_at):
                    gone = await connection.scalar(select(func.count()).where(marked.is_not(None)))
                    counts[f"{marked.class_.__tablename__} deleted"] = int(gone or 0)
                revoked = await connection.scalar(
                    select(func.count()).where(KeyRow.revoked_at.is_not(None))
                )
                counts["api_keys revoked"] = int(revoked or 0)
                return counts
        finally:
            await engine.dispose()

    return asyncio.run(count())


@pytest.mark.parametrize("hostile", HOSTILE)
def test_hostile_strings_are_data_and_tables_stay_unchanged(gw: AuthGateway, hostile: str) -> None:
    team = gw.team()
    gw.key(team["id"])
    before = _counts(gw.secrets.dsn)
    path_id = quote(hostile, safe="")

    statuses = [
        gw.admin("GET", f"/keys/{path_id}").status_code,
        gw.admin("GET", f"/teams/{path_id}").status_code,
        gw.admin("GET", f"/users/{path_id}").status_code,
        gw.admin("GET", f"/orgs/{path_id}").status_code,
        gw.admin("GET", f"/audit/{path_id}").status_code,
        gw.admin("POST", f"/keys/{path_id}/revoke").status_code,
        gw.admin("PATCH", f"/keys/{path_id}", json={"name": "n"}).status_code,
        gw.admin("DELETE", f"/teams/{path_id}").status_code,
        gw.admin("DELETE", f"/orgs/{path_id}").status_code,
    ]
    filters = [
        gw.admin("GET", "/keys", params={"team_id": hostile}),
        gw.admin("GET", "/users", params={"team_id": hostile}),
        gw.admin("GET", "/audit", params={"action": hostile, "target_id": hostile}),
    ]
    in_header = hostile if hostile.isascii() and hostile.isprintable() else quote(hostile)
    headers = [
        gw.session.get("/v1/models", headers={"x-api-key": in_header}),
        gw.session.get("/v1/models", headers={"Authorization": "Bearer " + in_header}),
        gw.session.get(
            "/admin/whoami", headers={"x-api-key": in_header, "x-request-id": in_header}
        ),
    ]

    assert set(statuses) == {404}
    for response in filters:
        assert response.status_code in (200, 422)
        assert response.status_code == 422 or response.json()["data"] == []
    assert {r.status_code for r in headers} == {401}
    assert _counts(gw.secrets.dsn) == before


@pytest.mark.parametrize("hostile", [h for h in HOSTILE if h.isprintable()])
def test_hostile_names_are_stored_verbatim(gw: AuthGateway, hostile: str) -> None:
    org = gw.ok("POST", "/orgs", json={"name": hostile + gw.team()["id"]})

    assert gw.ok("GET", "/orgs/" + org["id"])["name"] == hostile + org["name"][len(hostile) :]
    assert gw.ok("GET", "/keys", params={"team_id": hostile})["data"] == []


def test_control_characters_in_bodies_are_rejected(gw: AuthGateway) -> None:
    response = gw.admin("POST", "/orgs", json={"name": "evil\x00name"})

    assert response.status_code == 422


# the source itself: no SQL assembled from strings -------------------------------------------
SQL_SINKS = {"text", "execute", "exec_driver_sql", "scalar", "scalars", "literal_column"}


def _assembled(node: ast.expr) -> bool:
    """An f-string, concatenation, %-formatting or .format() call: SQL built from strings."""
    if isinstance(node, ast.JoinedStr):
        return True
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.Mod):
        return True
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in {"format", "join"}
    )


def _sql_assembled_from_strings(source: str) -> list[int]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        name = (
            node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
        )
        if name in SQL_SINKS and _assembled(node.args[0]):
            found.append(node.lineno)
    return found


def test_no_sql_is_assembled_from_strings_anywhere_in_src() -> None:
    source_root = Path(__file__).parents[2] / "src"
    offenders = {
        str(path.relative_to(source_root)): lines
        for path in sorted(source_root.rglob("*.py"))
        if (lines := _sql_assembled_from_strings(path.read_text(encoding="utf-8")))
    }

    assert offenders == {}


@pytest.mark.parametrize(
    "snippet",
    [
        'session.execute(text(f"SELECT * FROM t WHERE id = {x}"))',
        'connection.exec_driver_sql("DELETE FROM t WHERE id = " + x)',
        'session.execute(text("SELECT %s" % x))',
        'session.scalar(text("SELECT {}".format(x)))',
    ],
)
def test_the_scan_catches_assembled_sql(snippet: str) -> None:
    assert _sql_assembled_from_strings(snippet) == [1]
