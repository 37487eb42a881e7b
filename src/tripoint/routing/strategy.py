"""Order a route's targets for one call: priority, weighted, least outstanding, latency."""

from __future__ import annotations

import random
from collections.abc import Sequence

from tripoint.config.routing import Strategy
from tripoint.providers.target import Target
from tripoint.routing.fleet import Fleet


def order(
    targets: Sequence[Target],
    weights: Sequence[float],
    strategy: Strategy,
    fleet: Fleet,
    rng: random.Random,
) -> list[Target]:
    """Every target once, best first; ties are broken at random to spread load."""
    match strategy:
        case "priority":
            return list(targets)
        case "weighted":
            # Efraimidis-Spirakis: a weighted random order without replacement
            keys = [rng.random() ** (1.0 / w) for w in weights]
            return [t for _, t in sorted(zip(keys, targets, strict=True), key=lambda kt: -kt[0])]
        case "least_outstanding":
            return sorted(targets, key=lambda t: (fleet.state(t).load, rng.random()))
        case "latency":
            # unmeasured targets first (0.0), so every target gets a latency estimate
            return sorted(targets, key=lambda t: (fleet.state(t).ttft or 0.0, rng.random()))
