"""Load the YAML config file into `Settings`, reporting every problem with its path."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import yaml
from pydantic import ValidationError

from tripoint.config.schema import Settings, dangling_targets
from tripoint.errors import ConfigError

_TAGGED_UNIONS = ("backends",)  # sections whose entries are unions tagged by `type`


def load_settings(path: Path) -> Settings:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read: {exc.strerror}"]) from None
    return parse_settings(text, source=str(path))


def parse_settings(text: str, *, source: str = "<config>") -> Settings:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "unknown position"
        raise ConfigError([f"{source}: not valid YAML at {where}"]) from None
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise ConfigError([f"{source}: the top level must be a mapping"])
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        problems = [_describe(error, data) for error in exc.errors()]
        # pydantic skips cross-field checks once a field fails; report dangling targets anyway
        problems += [p for p in _dangling(data) if p not in problems]
        raise ConfigError(problems) from None


def _dangling(data: Mapping[str, object]) -> list[str]:
    backends, models = data.get("backends"), data.get("models")
    if not isinstance(models, Mapping):
        return []
    uses = {
        str(name): [t.get("backend") for t in route.get("targets", []) if isinstance(t, Mapping)]
        for name, route in models.items()
        if isinstance(route, Mapping) and isinstance(route.get("targets"), list)
    }
    return dangling_targets(backends if isinstance(backends, Mapping) else {}, uses)


def _describe(error: Mapping[str, object], data: Mapping[str, object]) -> str:
    """`path.to.key: message`, without the input value (it may be a secret)."""
    loc = [str(part) for part in error.get("loc", ())]  # type: ignore[attr-defined]
    loc = _drop_union_tag(loc, data)
    message = str(error.get("msg", "invalid"))
    message = message.removeprefix("Value error, ")
    if error.get("type") == "extra_forbidden":
        message = f"unknown key {loc[-1]!r}" if loc else "unknown key"
    return f"{'.'.join(loc)}: {message}" if loc else message


def _drop_union_tag(loc: list[str], data: Mapping[str, object]) -> list[str]:
    """Pydantic puts the union tag into the path (`backends.x.openai.url`); operators wrote
    `backends.x.url`, so show that."""
    if len(loc) >= 3 and loc[0] in _TAGGED_UNIONS:
        section = data.get(loc[0])
        entry = section.get(loc[1]) if isinstance(section, Mapping) else None
        if isinstance(entry, Mapping) and entry.get("type") == loc[2]:
            return [*loc[:2], *loc[3:]]
    return loc
