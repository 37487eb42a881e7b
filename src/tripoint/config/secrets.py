"""Secret references: config holds `env:NAME` or `file:PATH`, never the secret itself."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

from pydantic import BeforeValidator, SecretStr


def resolve_secret(value: object) -> object:
    """Resolve a reference to its value at load time; the value never appears in errors."""
    if isinstance(value, SecretStr):
        return value
    if not isinstance(value, str):
        raise TypeError("a secret must be a reference string such as 'env:NAME' or 'file:PATH'")
    scheme, _, ref = value.partition(":")
    if scheme == "env" and ref:
        if ref not in os.environ:
            raise ValueError(f"environment variable {ref!r} is not set")
        return SecretStr(os.environ[ref])
    if scheme == "file" and ref:
        path = Path(ref).expanduser()
        try:
            return SecretStr(path.read_text(encoding="utf-8").strip())
        except OSError as exc:
            raise ValueError(f"cannot read secret file {ref!r}: {exc.strerror}") from None
    raise ValueError(
        "secrets are references, not literals: write 'env:NAME' or 'file:PATH' "
        "(the literal value is not shown here)"
    )


Secret = Annotated[SecretStr, BeforeValidator(resolve_secret)]
