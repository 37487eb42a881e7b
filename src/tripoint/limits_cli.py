"""`tripoint limits show|set|clear`: limits and budgets on an org, team, key or user, as the
admin API's `/admin/{orgs,teams,keys,users}/{id}/limits` set them (same rules, same audit log)."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import click

from tripoint.admin_cli import _body, _echo, config_option, org_id, run_identity, team_id
from tripoint.auth import views
from tripoint.auth.grants import Actor
from tripoint.auth.identity import Identity
from tripoint.auth.limit_admin import Scope

F = TypeVar("F", bound=Callable[..., Any])


def _subject(command: F) -> F:
    """The four mutually exclusive options naming what the limits are set on."""
    for scope in reversed(Scope):
        by_name = scope in (Scope.ORG, Scope.TEAM)
        help_text = f"The {scope.value}'s id{' or name' if by_name else ''}."
        command = click.option(f"--{scope.value}", scope.value, help=help_text)(command)
    return command


def _chosen(given: dict[str, str | None]) -> tuple[Scope, str]:
    chosen = [(Scope(name), value) for name, value in given.items() if value is not None]
    if len(chosen) != 1:
        raise click.UsageError("name exactly one of --org, --team, --key, --user")
    return chosen[0]


async def _resolve(identity: Identity, actor: Actor, scope: Scope, given: str) -> str:
    """Orgs and teams by name too, as operators type them."""
    if scope is Scope.ORG:
        return await org_id(identity.administration, actor, given)
    if scope is Scope.TEAM:
        return await team_id(identity.administration, actor, given) or given
    return given


@click.group()
def limits() -> None:
    """Limits and budgets set on orgs, teams, keys and users (config limits still apply)."""


@limits.command("show")
@_subject
@config_option
def show(config_path: Path | None, **given: str | None) -> None:
    scope, subject = _chosen(given)

    async def job(identity: Identity, actor: Actor) -> views.LimitsView:
        found = await _resolve(identity, actor, scope, subject)
        return await identity.limits.get(actor, scope, found)

    _echo(run_identity(config_path, job))


@limits.command("set")
@_subject
@click.option("--requests-per-minute", type=int)
@click.option("--tokens-per-minute", type=int)
@click.option("--input-tokens-per-minute", type=int)
@click.option("--output-tokens-per-minute", type=int)
@click.option("--max-concurrent", type=int)
@click.option("--budget-usd-per-day", type=Decimal)
@click.option("--budget-usd-per-month", type=Decimal)
@click.option("--budget-usd-total", type=Decimal)
@config_option
def set_limits(config_path: Path | None, **options: Any) -> None:
    """Replace the stored limits of one scope (fields not given: no limit at this scope).
    Every replica applies them within auth.key_cache_ttl."""
    given = {scope.value: options.pop(scope.value) for scope in Scope}
    body = _body(views.LimitsBody, **options)

    scope, subject = _chosen(given)

    async def job(identity: Identity, actor: Actor) -> views.LimitsView:
        found = await _resolve(identity, actor, scope, subject)
        return await identity.limits.set(actor, scope, found, body)

    _echo(run_identity(config_path, job))


@limits.command("clear")
@_subject
@config_option
def clear(config_path: Path | None, **given: str | None) -> None:
    scope, subject = _chosen(given)

    async def job(identity: Identity, actor: Actor) -> views.LimitsView:
        found = await _resolve(identity, actor, scope, subject)
        return await identity.limits.clear(actor, scope, found)

    _echo(run_identity(config_path, job))
