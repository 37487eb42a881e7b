"""Config for data governance: data classes, how a call is classified, and the policies that
decide which backends may receive its data."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from tripoint.config.facts import Pattern


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TargetFilter(_Strict):
    """Which targets a policy speaks of. Every field set must match (globs with `*`)."""

    pattern: tuple[Pattern, ...] | None = None
    region: tuple[str, ...] | None = None  # globs: "eu*"; a target without a region never matches
    backend: tuple[str, ...] | None = None
    tags_any: tuple[str, ...] | None = None
    retains_data: bool | None = None
    trains_on_data: bool | None = None


class Condition(_Strict):
    """When a policy applies. Every field set must hold; an empty condition always holds."""

    team: tuple[str, ...] | None = None  # globs
    model: tuple[str, ...] | None = None  # globs on the public model name
    class_at_least: str | None = None
    findings_any: tuple[str, ...] | None = None  # finding types, e.g. EMAIL_ADDRESS, SECRET, PII


class Policy(_Strict):
    """One rule, evaluated in order. `allow`: only matching targets stay. `deny`: matching
    targets go. `reroute`: the call goes to another model's targets instead (the remaining
    policies still apply to them). `mode: dry_run` records the effect without enforcing it."""

    name: str = Field(min_length=1)
    when: Condition = Condition()
    allow: TargetFilter | None = None
    deny: TargetFilter | None = None
    reroute: str | None = None  # a public model name
    mode: Literal["enforce", "dry_run"] = "enforce"

    @model_validator(mode="after")
    def _one_effect(self) -> Policy:
        effects = [e for e in (self.allow, self.deny, self.reroute) if e is not None]
        if len(effects) != 1:
            raise ValueError("a policy has exactly one of allow, deny, reroute")
        return self


class GovernanceSettings(_Strict):
    classes: tuple[str, ...] = ("public", "internal", "confidential", "restricted")
    default_class: str = "internal"
    team_classes: dict[str, str] = Field(default_factory=dict)  # a team's floor
    findings: dict[str, str] = Field(default_factory=dict)  # finding type -> class it implies
    policies: tuple[Policy, ...] = ()

    @model_validator(mode="after")
    def _classes_known(self) -> GovernanceSettings:
        named = [self.default_class, *self.team_classes.values(), *self.findings.values()]
        named += [p.when.class_at_least for p in self.policies if p.when.class_at_least]
        unknown = sorted({c for c in named if c not in self.classes})
        if unknown:
            raise ValueError(f"unknown data classes {unknown}; known: {list(self.classes)}")
        return self
