"""The limit store contract: reserve on every meter at once (all or nothing), settle later."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from tripoint.limits.meters import Meter

LEASE_SECONDS = 900.0  # a reservation never settled (crashed replica) is released after this


@dataclass(frozen=True, slots=True)
class Admission:
    admitted: bool
    denied: int | None = None  # index of the first meter that refused
    retry_after: float | None = None  # seconds until it could admit; None: never as asked
    used: Sequence[int] = field(default_factory=tuple)  # per meter, after this reservation
    bucket: int = 0  # the window bucket (second) the reservation was counted in


class LimitStore(Protocol):
    async def reserve(
        self, meters: Sequence[Meter], amounts: Sequence[int], lease: str
    ) -> Admission: ...

    async def settle(
        self,
        meters: Sequence[Meter],
        reserved: Sequence[int],
        actual: Sequence[int],
        lease: str,
        bucket: int,
    ) -> None: ...
