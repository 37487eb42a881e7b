"""Operator commands over the call ledger: `usage`, `audit verify|export|content`, and
`governance report`. They read the configured database directly."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import click
import orjson

from tripoint.admin_cli import _run, _settings, audit, config_option
from tripoint.capture.reading import read_content
from tripoint.ledger import queries
from tripoint.storage.database import Database

T = TypeVar("T")
since_option = click.option(
    "--since", type=click.DateTime(), default=None, help="Only calls from this time (UTC)."
)
until_option = click.option(
    "--until", type=click.DateTime(), default=None, help="Only calls before this time (UTC)."
)


def _with_ledger(config_path: Path | None, job: Callable[[Database], Awaitable[T]]) -> T:
    settings = _settings(config_path)
    if settings.storage is None and settings.auth is None:
        click.echo("the config has no `storage` section: there is no ledger", err=True)
        sys.exit(2)

    async def run() -> T:
        database = Database.from_settings(settings)
        await database.start()
        try:
            return await job(database)
        finally:
            await database.close()

    return asyncio.run(run())


def _utc(value: datetime | None) -> datetime | None:
    return None if value is None else value.replace(tzinfo=UTC)


def _table(rows: list[dict[str, Any]]) -> None:
    if not rows:
        click.echo("(no calls)")
        return
    names = list(rows[0])
    widths = [max(len(n), *(len(str(r[n])) for r in rows)) for n in names]
    click.echo("  ".join(n.ljust(w) for n, w in zip(names, widths, strict=True)))
    for row in rows:
        click.echo("  ".join(str(row[n]).ljust(w) for n, w in zip(names, widths, strict=True)))


@click.command("usage")
@click.option(
    "--group-by",
    "group_by",
    multiple=True,
    default=("model",),
    show_default=True,
    type=click.Choice(["key", "team", "model", "backend", "status", "day"]),
)
@since_option
@until_option
@config_option
def usage(
    group_by: tuple[str, ...],
    since: datetime | None,
    until: datetime | None,
    config_path: Path | None,
) -> None:
    """Calls, tokens and cost from the ledger, grouped as asked."""
    scope = queries.Scope(since=_utc(since), until=_utc(until))
    _table(_with_ledger(config_path, lambda db: queries.usage(db, scope, group_by)))


@audit.command("verify")
@config_option
def audit_verify(config_path: Path | None) -> None:
    """Check the call records' hash chains; exit 1 naming the first record that breaks one."""
    checked, found = _with_ledger(config_path, queries.check_chain)
    if found is None:
        click.echo(f"OK: {checked} call records, every chain intact")
        return
    click.echo(
        f"BROKEN after {checked} good records: stream {found.stream}, record "
        f"{found.seq} (id {found.id}): {found.reason}"
    )
    sys.exit(1)


@audit.command("export")
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    required=True,
    help="JSONL file (one call record a line), for a SIEM.",
)
@config_option
def audit_export(output: Path, config_path: Path | None) -> None:
    """Write every call record, chain by chain, as JSON lines."""

    async def export(database: Database) -> int:
        count = 0
        with output.open("wb") as sink:
            async for row in queries.all_calls(database):
                sink.write(orjson.dumps(row) + b"\n")
                count += 1
        return count

    click.echo(f"{_with_ledger(config_path, export)} call records written to {output}")


@audit.command("content")
@click.argument("call_id", type=int)
@config_option
def audit_content(call_id: int, config_path: Path | None) -> None:
    """One call's captured prompt and answer, redacted (the read is itself audited)."""
    content = _run(
        config_path, lambda admin, actor: read_content(admin.database, admin, actor, call_id)
    )
    click.echo(orjson.dumps(content, option=orjson.OPT_INDENT_2).decode())


@click.command("report")
@since_option
@until_option
@config_option
def governance_report(
    since: datetime | None, until: datetime | None, config_path: Path | None
) -> None:
    """Where data went: calls and tokens by team x data class x pattern x region."""
    scope = queries.Scope(since=_utc(since), until=_utc(until))
    _table(_with_ledger(config_path, lambda db: queries.flows(db, scope)))
