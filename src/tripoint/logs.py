"""Structured JSON logs on stderr (stdlib logging); never a secret or prompt text."""

from __future__ import annotations

import logging
import re
import sys
import time

import orjson

_STANDARD = frozenset(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime"}
# What an API key or token looks like when it slips into a message: OpenAI-style and Tripoint
# keys, AWS access key ids, and anything sent as a bearer token.
_KEYS = re.compile(r"\b(?:sk|pk|rk|tp)-[A-Za-z0-9_\-]{8,}|\bAKIA[0-9A-Z]{16}\b")
_BEARER = re.compile(r"(?i)(bearer\s+)([A-Za-z0-9._~+/=\-]{8,})")


def mask_secret(secret: str) -> str:
    """A secret as operators may see it: only its last 4 characters."""
    return "..." + secret[-4:] if len(secret) > 4 else "****"


def redact(text: str) -> str:
    """Mask anything shaped like a key or bearer token to its last 4 characters."""
    text = _BEARER.sub(lambda m: m.group(1) + mask_secret(m.group(2)), text)
    return _KEYS.sub(lambda m: mask_secret(m.group(0)), text)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        body: dict[str, object] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": redact(record.getMessage()),
        }
        body.update(
            {
                k: redact(v) if isinstance(v, str) else v
                for k, v in vars(record).items()
                if k not in _STANDARD
            }
        )
        if record.exc_info:
            body["exc"] = redact(self.formatException(record.exc_info))
        return orjson.dumps(body, default=str).decode()


def configure_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    quiet = logging.DEBUG if level.upper() == "DEBUG" else logging.WARNING
    for name in ("sqlalchemy", "aiosqlite", "asyncpg"):  # per-statement chatter at INFO
        logging.getLogger(name).setLevel(quiet)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
