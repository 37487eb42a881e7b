"""The vocabulary of backend facts that governance reasons about."""

from __future__ import annotations

from typing import Literal

Pattern = Literal["saas", "cloud", "self_hosted", "local"]
