"""Provider cases, one module per backend type, each defining `CASE`; found by discovery so
that adding a backend type touches no shared file."""

from __future__ import annotations

import importlib
import pkgutil

from tests.providers.conformance.case import ProviderCase


def all_cases() -> list[ProviderCase]:
    cases: list[ProviderCase] = []
    for module in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        case = importlib.import_module(f"{__name__}.{module.name}").CASE
        if not isinstance(case, ProviderCase):
            raise TypeError(f"{module.name}.CASE is not a ProviderCase")
        cases.append(case)
    return cases
