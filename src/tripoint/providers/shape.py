"""Checked access to upstream JSON: a body of the wrong shape is an UpstreamError, never a
KeyError or TypeError that would surface as a 500."""

from __future__ import annotations

from tripoint.errors import UpstreamError
from tripoint.schema.json import JSON, JSONObject


def malformed(what: str) -> UpstreamError:
    return UpstreamError(f"upstream sent a malformed response ({what})")


def obj(value: JSON, what: str) -> JSONObject:
    if not isinstance(value, dict):
        raise malformed(f"{what} is not an object")
    return value


def arr(value: JSON, what: str) -> list[JSON]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise malformed(f"{what} is not a list")
    return value


def opt_str(value: JSON, what: str) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise malformed(f"{what} is not a string")


def opt_int(value: JSON, what: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise malformed(f"{what} is not an integer")
    return value
