"""A Target: one configured backend plus the model name that backend knows."""

from __future__ import annotations

from dataclasses import dataclass

from tripoint.config.facts import Pattern


@dataclass(frozen=True, slots=True)
class BackendFacts:
    """What governance and records need to know about where a call's data goes."""

    name: str
    type: str
    pattern: Pattern
    region: str | None
    retains_data: bool
    trains_on_data: bool
    tags: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Target:
    backend: BackendFacts
    model: str

    @property
    def label(self) -> str:
        return f"{self.backend.name}/{self.model}"
