"""The `tripoint` command: serve the gateway, check a config."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click

from tripoint import __version__
from tripoint.admin_cli import COMMANDS
from tripoint.config import Settings, load_settings
from tripoint.config.defaults import embedded_settings
from tripoint.errors import ConfigError
from tripoint.ledger_cli import governance_report, usage
from tripoint.logs import configure_logging


@click.group()
@click.version_option(__version__, prog_name="tripoint")
def main() -> None:
    """Tripoint, the AI inference gateway."""


@main.command()
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path),
    default=None,
    help="YAML config file; without it, the embedded defaults.",
)
@click.option("--host", default=None, help="Address to bind (overrides server.host).")
@click.option("--port", type=int, default=None, help="Port to bind (overrides server.port).")
@click.option(
    "--log-level",
    default="info",
    show_default=True,
    type=click.Choice(["debug", "info", "warning", "error"]),
)
def serve(config_path: Path | None, host: str | None, port: int | None, log_level: str) -> None:
    """Start the gateway."""
    configure_logging(log_level)
    settings = _settings_or_exit(config_path)
    server = settings.server.model_copy(
        update={k: v for k, v in {"host": host, "port": port}.items() if v is not None}
    )
    settings = settings.model_copy(update={"server": server})
    from tripoint.server import run  # noqa: PLC0415 -- keep `check-config` start-up light

    run(settings, log_level)


@main.command("check-config")
@click.argument("config_path", type=click.Path(path_type=Path))
def check_config(config_path: Path) -> None:
    """Validate a config file without serving; print every problem with its path."""
    settings = _settings_or_exit(config_path)
    click.echo(
        f"{config_path}: OK ({len(settings.backends)} backends, {len(settings.models)} models)"
    )


@main.group()
def governance() -> None:
    """Data governance: explain what the policies allow."""


@governance.command("explain")
@click.option("--config", "config_path", type=click.Path(path_type=Path), required=True)
@click.option("--team", default=None)
@click.option("--model", required=True)
@click.option(
    "--data-class", "data_class", default=None, help="Default: the configured default class."
)
@click.option("--finding", "findings", multiple=True, help="A finding type (PII, SECRET, ...).")
def governance_explain(
    config_path: Path,
    team: str | None,
    model: str,
    data_class: str | None,
    findings: tuple[str, ...],
) -> None:
    """Which targets a call may reach, and which policy excluded each other one."""
    from tripoint.governance.explain import explain  # noqa: PLC0415

    settings = _settings_or_exit(config_path)
    chosen = data_class or settings.governance.default_class
    if chosen not in settings.governance.classes:
        raise click.BadParameter(f"known classes: {list(settings.governance.classes)}")
    for line in explain(settings, team, model, chosen, frozenset(findings)):
        click.echo(line)


def _settings_or_exit(config_path: Path | None) -> Settings:
    if config_path is None:
        return embedded_settings()
    try:
        return load_settings(config_path)
    except ConfigError as exc:
        click.echo(f"{config_path}: {len(exc.problems)} problem(s)", err=True)
        for problem in exc.problems:
            click.echo(f"  {problem}", err=True)
        sys.exit(2)


for _command in COMMANDS:
    main.add_command(_command)
main.add_command(usage)
governance.add_command(governance_report)

logging.captureWarnings(capture=True)
