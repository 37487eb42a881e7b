"""Prices per token and the cost of a call, in Decimal; counters keep integer nano-dollars.

The table ships with the package (`prices.json`, USD per million tokens); config overrides it
per model or per `backend/model`. A target with no known price costs nothing (self-hosted and
local models by default) and is logged once, so a missing SaaS price is noticed.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal
from importlib import resources

from tripoint.config.limits import Price
from tripoint.providers.target import Target
from tripoint.schema.chunks import Usage

log = logging.getLogger("tripoint.limits")

MILLION = Decimal(1_000_000)
NANO = Decimal("0.000000001")


@dataclass(frozen=True, slots=True)
class TokenPrice:
    input: Decimal  # USD per token
    output: Decimal

    def cost(self, usage: Usage) -> Decimal:
        return self.input * usage.prompt_tokens + self.output * usage.completion_tokens


FREE = TokenPrice(Decimal(0), Decimal(0))


def nano_usd(amount: Decimal) -> int:
    """Dollars to whole nano-dollars, rounded up: a reservation never under-counts."""
    return int((amount / NANO).to_integral_value(rounding=ROUND_CEILING))


def usd(nano: int) -> Decimal:
    return Decimal(nano) * NANO


def packaged_prices() -> dict[str, Price]:
    text = resources.files("tripoint.limits").joinpath("prices.json").read_text("utf-8")
    table = json.loads(text)["models"]
    return {model: Price.model_validate(entry) for model, entry in table.items()}


class PriceTable:
    def __init__(self, packaged: Mapping[str, Price], overrides: Mapping[str, Price]) -> None:
        self._prices = {**packaged, **overrides}
        self._unpriced: set[str] = set()
        self._per_token: dict[Target, TokenPrice] = {}  # targets come from config: bounded

    def price(self, target: Target) -> TokenPrice:
        known = self._per_token.get(target)
        if known is None:
            known = self._per_token[target] = self._lookup(target)
        return known

    def _lookup(self, target: Target) -> TokenPrice:
        found = self._prices.get(target.label) or self._prices.get(target.model)
        if found is None:
            if target.backend.pattern in ("saas", "cloud") and target.label not in self._unpriced:
                self._unpriced.add(target.label)
                log.warning(
                    "no price for target; it is counted as free", extra={"target": target.label}
                )
            return FREE
        return TokenPrice(found.input / MILLION, found.output / MILLION)
