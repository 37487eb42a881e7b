"""Operator commands that mirror the admin API: `db upgrade`, `orgs`, `teams`, `users`, `keys`.

They talk to the configured database directly (the same rules and audit log as the admin
API, through `Administration`), acting as admin `cli:<os user>`.
"""

from __future__ import annotations

import asyncio
import getpass
import re
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import click
import orjson
from pydantic import BaseModel, ValidationError

from tripoint.auth import views
from tripoint.auth.administration import Administration
from tripoint.auth.grants import Actor
from tripoint.auth.identity import Identity
from tripoint.config import Settings, load_settings
from tripoint.config.defaults import embedded_settings
from tripoint.errors import ConfigError, TripointError
from tripoint.pipeline.call import Principal
from tripoint.storage.database import Database

T = TypeVar("T")
B = TypeVar("B", bound=BaseModel)
_DURATION = re.compile(r"(\d+)([smhdw])")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}

config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    envvar="TRIPOINT_CONFIG",
    default=None,
    help="YAML config file (or $TRIPOINT_CONFIG); without it, the embedded defaults.",
)


def duration(text: str) -> int:
    """`30d`, `12h`, `15m`, `90s`, `2w` -> seconds."""
    match = _DURATION.fullmatch(text.strip())
    if match is None:
        raise click.BadParameter("use a number and a unit: 90s, 15m, 12h, 30d, 2w")
    return int(match[1]) * _SECONDS[match[2]]


def _settings(config_path: Path | None) -> Settings:
    try:
        return load_settings(config_path) if config_path else embedded_settings()
    except ConfigError as exc:
        click.echo("\n".join(exc.problems), err=True)
        sys.exit(2)


def _run(config_path: Path | None, job: Callable[[Administration, Actor], Awaitable[T]]) -> T:
    return run_identity(config_path, lambda identity, actor: job(identity.administration, actor))


def run_identity(config_path: Path | None, job: Callable[[Identity, Actor], Awaitable[T]]) -> T:
    """Run `job` on the configured database as admin `cli:<os user>`; errors exit non-zero."""
    settings = _settings(config_path)
    auth = settings.auth
    if auth is None:
        click.echo("the config has no `auth` section: there are no keys to manage", err=True)
        sys.exit(2)

    async def main() -> T:
        database = Database.from_settings(settings)
        identity = Identity(auth, database, frozenset(settings.models))
        try:
            await database.start()
            actor = Actor(Principal(id=f"cli:{getpass.getuser()}", role="admin", kind="cli"), "cli")
            return await job(identity, actor)
        finally:
            await identity.close()
            await database.close()

    try:
        return asyncio.run(main())
    except TripointError as exc:
        click.echo(f"error: {exc.message}", err=True)
        sys.exit(1)


async def team_id(admin: Administration, actor: Actor, given: str | None) -> str | None:
    """`--team` takes an id or a name, as operators type it."""
    if given is None or given.startswith("team_"):
        return given
    matches = [t.id for t in await admin.list_teams(actor) if t.name == given]
    return matches[0] if matches else given  # unknown: let the lookup say "not found"


async def org_id(admin: Administration, actor: Actor, given: str) -> str:
    if given.startswith("org_"):
        return given
    matches = [o.id for o in await admin.list_orgs(actor) if o.name == given]
    return matches[0] if matches else given


def _body(model: type[B], **fields: object) -> B:
    try:
        return model.model_validate({k: v for k, v in fields.items() if v is not None})
    except ValidationError as exc:
        first = exc.errors(include_input=False)[0]
        raise click.UsageError(f"{'.'.join(map(str, first['loc']))}: {first['msg']}") from None


def _echo(value: BaseModel | list[T]) -> None:
    if isinstance(value, BaseModel):
        click.echo(value.model_dump_json(indent=2))
    else:
        data = [v.model_dump(mode="json") if isinstance(v, BaseModel) else v for v in value]
        click.echo(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode())


def _models(text: str | None) -> list[str] | None:
    return None if text is None else [m.strip() for m in text.split(",") if m.strip()]


# db ------------------------------------------------------------------------------------------
@click.group()
def db() -> None:
    """The SQL store."""


@db.command()
@config_option
def upgrade(config_path: Path | None) -> None:
    """Apply the database migrations (the gateway also does this when it starts)."""
    database = Database.from_settings(_settings(config_path))

    async def main() -> None:
        try:
            await database.migrate()
        finally:
            await database.close()

    try:
        asyncio.run(main())
    except TripointError as exc:
        click.echo(f"error: {exc.message}", err=True)
        sys.exit(1)
    click.echo(f"database ({database.dialect}) is at the newest revision")


# orgs ----------------------------------------------------------------------------------------
@click.group()
def orgs() -> None:
    """Organisations."""


@orgs.command("create")
@click.argument("name")
@config_option
def create_org(name: str, config_path: Path | None) -> None:
    body = _body(views.NewOrg, name=name)
    _echo(_run(config_path, lambda admin, actor: admin.create_org(actor, body)))


@orgs.command("list")
@config_option
def list_orgs(config_path: Path | None) -> None:
    _echo(_run(config_path, lambda admin, actor: admin.list_orgs(actor)))


@orgs.command("delete")
@click.argument("org")
@click.confirmation_option(prompt="Delete the org, its teams and users, and revoke their keys?")
@config_option
def delete_org(org: str, config_path: Path | None) -> None:
    """Delete an org (id or name): its teams as `teams delete` does each."""

    async def job(admin: Administration, actor: Actor) -> views.Deletion:
        return await admin.delete_org(actor, await org_id(admin, actor, org))

    _echo(_run(config_path, job))


# teams ---------------------------------------------------------------------------------------
@click.group()
def teams() -> None:
    """Teams and the models they may use."""


@teams.command("create")
@click.argument("name")
@click.option("--org", "org", required=True, help="The organisation's id or name.")
@click.option("--models", help="Comma-separated models the team may use (default: all).")
@config_option
def create_team(name: str, org: str, models: str | None, config_path: Path | None) -> None:
    body = _body(views.NewTeam, name=name, org_id=org, models=_models(models))

    async def job(admin: Administration, actor: Actor) -> views.TeamView:
        found = await org_id(admin, actor, org)
        return await admin.create_team(actor, body.model_copy(update={"org_id": found}))

    _echo(_run(config_path, job))


@teams.command("list")
@config_option
def list_teams(config_path: Path | None) -> None:
    _echo(_run(config_path, lambda admin, actor: admin.list_teams(actor)))


@teams.command("show")
@click.argument("team_id")
@config_option
def show_team(team_id: str, config_path: Path | None) -> None:
    _echo(_run(config_path, lambda admin, actor: admin.get_team(actor, team_id)))


@teams.command("set-models")
@click.argument("team_id")
@click.argument("models")
@config_option
def set_team_models(team_id: str, models: str, config_path: Path | None) -> None:
    """Replace a team's models (comma-separated; `*` allows every model)."""
    change = views.TeamChange(clear_models=True) if models == "*" else None
    body = change or _body(views.TeamChange, models=_models(models))
    _echo(_run(config_path, lambda admin, actor: admin.change_team(actor, team_id, body)))


@teams.command("delete")
@click.argument("team")
@click.confirmation_option(prompt="Delete the team and its users, and revoke its keys?")
@config_option
def delete_team(team: str, config_path: Path | None) -> None:
    """Delete a team (id or name): its keys are revoked and its users deleted at once (on
    PostgreSQL pushed to every replica); the audit log and the call ledger keep everything."""

    async def job(admin: Administration, actor: Actor) -> views.Deletion:
        return await admin.delete_team(actor, await team_id(admin, actor, team) or team)

    _echo(_run(config_path, job))


# users ---------------------------------------------------------------------------------------
@click.group()
def users() -> None:
    """Users of a team."""


@users.command("create")
@click.argument("email")
@click.option("--team", "team", required=True, help="The team's id or name.")
@click.option("--role", default="member", show_default=True)
@config_option
def create_user(email: str, team: str, role: str, config_path: Path | None) -> None:
    body = _body(views.NewUser, email=email, team_id=team, role=role)

    async def job(admin: Administration, actor: Actor) -> views.UserView:
        found = await team_id(admin, actor, team)
        return await admin.create_user(actor, body.model_copy(update={"team_id": found}))

    _echo(_run(config_path, job))


@users.command("list")
@click.option("--team", "team_id", default=None)
@config_option
def list_users(team_id: str | None, config_path: Path | None) -> None:
    _echo(_run(config_path, lambda admin, actor: admin.list_users(actor, team_id)))


# keys ----------------------------------------------------------------------------------------
@click.group()
def keys() -> None:
    """Virtual API keys."""


@keys.command("create")
@click.option("--team", "team", default=None, help="The team's id or name (omit for admin keys).")
@click.option("--user", "user_id", default=None)
@click.option("--name", default=None)
@click.option("--role", default="member", show_default=True)
@click.option("--models", default=None, help="Comma-separated; narrows the team's models.")
@click.option("--expires", default=None, help="Lifetime: 90s, 15m, 12h, 30d, 2w.")
@config_option
def create_key(
    *,
    team: str | None,
    user_id: str | None,
    name: str | None,
    role: str,
    models: str | None,
    expires: str | None,
    config_path: Path | None,
) -> None:
    """Create a key; the full key is printed once, never again."""
    body = _body(
        views.NewKey,
        team_id=team,
        user_id=user_id,
        name=name,
        role=role,
        models=_models(models),
        expires_in=duration(expires) if expires else None,
    )

    async def job(admin: Administration, actor: Actor) -> views.NewKeyView:
        found = await team_id(admin, actor, team)
        return await admin.create_key(actor, body.model_copy(update={"team_id": found}))

    _echo(_run(config_path, job))


@keys.command("list")
@click.option("--team", "team", default=None, help="The team's id or name.")
@click.option("--all", "include_revoked", is_flag=True, help="Include revoked keys.")
@config_option
def list_keys(team: str | None, include_revoked: bool, config_path: Path | None) -> None:
    """Keys by prefix and last four characters (the secret is never stored)."""

    async def job(admin: Administration, actor: Actor) -> list[views.KeyView]:
        found = await team_id(admin, actor, team)
        return await admin.list_keys(actor, found, include_revoked=include_revoked, limit=1000)

    _echo(_run(config_path, job))


@keys.command("revoke")
@click.argument("key_id")
@config_option
def revoke_key(key_id: str, config_path: Path | None) -> None:
    """Revoke a key: refused at once here and (PostgreSQL) on every replica; at the latest
    within auth.key_cache_ttl if a replica's push channel is down."""
    _echo(_run(config_path, lambda admin, actor: admin.revoke_key(actor, key_id)))


@keys.command("rotate")
@click.argument("key_id")
@click.option("--grace", default=None, help="How long the old key keeps working: 1h, 1d...")
@config_option
def rotate_key(key_id: str, grace: str | None, config_path: Path | None) -> None:
    body = views.Rotation(grace_seconds=duration(grace) if grace else None)
    _echo(_run(config_path, lambda admin, actor: admin.rotate_key(actor, key_id, body)))


# audit ---------------------------------------------------------------------------------------
@click.group()
def audit() -> None:
    """The admin audit log: who changed what, when, from where."""


@audit.command("list")
@click.option("--team", "team_id", default=None)
@click.option("--action", default=None, help="e.g. key.create, key.revoke, team.change")
@click.option("--limit", default=100, show_default=True)
@config_option
def list_audit(
    team_id: str | None, action: str | None, limit: int, config_path: Path | None
) -> None:
    _echo(
        _run(
            config_path,
            lambda admin, actor: admin.list_audit(
                actor, team_id=team_id, action=action, limit=limit
            ),
        )
    )


COMMANDS = (db, orgs, teams, users, keys, audit)
