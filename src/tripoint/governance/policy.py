"""Evaluate governance policies: pure, ordered, explainable. No I/O, no state.

Each policy whose condition holds narrows the candidate targets (allow, deny) or replaces them
with another model's (reroute). Routing and fallback only ever choose among what is left.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase

from tripoint.config.governance import Condition, Policy, TargetFilter
from tripoint.providers.target import Target


@dataclass(frozen=True, slots=True)
class Subject:
    """What the policies look at: who asks, for which model, with which data."""

    team: str | None
    model: str
    data_class: str
    findings: frozenset[str]


@dataclass(frozen=True, slots=True)
class Decision:
    policy: str
    effect: str  # allow | deny | reroute
    excluded: tuple[str, ...]  # target labels this policy removed (or would have, in dry run)
    dry_run: bool
    rerouted_to: str | None = None


@dataclass(frozen=True, slots=True)
class Verdict:
    targets: tuple[Target, ...]
    decisions: tuple[Decision, ...]  # policies whose condition held, in order
    denied_by: str | None  # the policy that removed the last target
    excluded_by: Mapping[str, str]  # target label -> the policy that removed it

    @property
    def denied(self) -> bool:
        return not self.targets


def evaluate(
    policies: Sequence[Policy],
    classes: Sequence[str],
    subject: Subject,
    targets: Sequence[Target],
    routes: Mapping[str, Sequence[Target]],
) -> Verdict:
    current = tuple(targets)
    decisions: list[Decision] = []
    excluded_by: dict[str, str] = {}
    denied_by: str | None = None
    for policy in policies:
        if not holds(policy.when, subject, classes):
            continue
        kept = _apply(policy, current, routes)
        gone = tuple(t.label for t in current if t not in kept)
        dry = policy.mode == "dry_run"
        decisions.append(Decision(policy.name, _effect(policy), gone, dry, policy.reroute))
        if dry:
            continue
        for label in gone:
            excluded_by.setdefault(label, policy.name)
        current = kept
        if not current:
            denied_by = policy.name
            break
    return Verdict(current, tuple(decisions), denied_by, excluded_by)


def holds(when: Condition, subject: Subject, classes: Sequence[str]) -> bool:
    if when.team is not None and not (
        subject.team is not None and any(fnmatchcase(subject.team, g) for g in when.team)
    ):
        return False
    if when.model is not None and not any(fnmatchcase(subject.model, g) for g in when.model):
        return False
    if when.class_at_least is not None and (
        rank(subject.data_class, classes) < rank(when.class_at_least, classes)
    ):
        return False
    return when.findings_any is None or bool(subject.findings & set(when.findings_any))


def matches(spec: TargetFilter, target: Target) -> bool:
    facts = target.backend
    checks = [
        spec.pattern is None or facts.pattern in spec.pattern,
        spec.region is None
        or (facts.region is not None and any(fnmatchcase(facts.region, g) for g in spec.region)),
        spec.backend is None or any(fnmatchcase(facts.name, g) for g in spec.backend),
        spec.tags_any is None or bool(set(facts.tags) & set(spec.tags_any)),
        spec.retains_data is None or facts.retains_data == spec.retains_data,
        spec.trains_on_data is None or facts.trains_on_data == spec.trains_on_data,
    ]
    return all(checks)


def rank(data_class: str, classes: Sequence[str]) -> int:
    return classes.index(data_class) if data_class in classes else len(classes)


def _apply(
    policy: Policy, current: tuple[Target, ...], routes: Mapping[str, Sequence[Target]]
) -> tuple[Target, ...]:
    if policy.allow is not None:
        return tuple(t for t in current if matches(policy.allow, t))
    if policy.deny is not None:
        return tuple(t for t in current if not matches(policy.deny, t))
    return tuple(routes.get(policy.reroute or "", ()))


def _effect(policy: Policy) -> str:
    if policy.allow is not None:
        return "allow"
    return "deny" if policy.deny is not None else "reroute"
