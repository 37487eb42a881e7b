"""Config for data governance: data classes, how a call is classified, and the policies that
decide which backends may receive its data."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, PositiveInt, model_validator

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


class CaptureTeam(_Strict):
    """One team's opt-in to storing its prompts and answers (redacted; see `capture`)."""

    max_class: str = "internal"  # calls classified above this are never stored
    retention_days: PositiveInt = 30  # rows older than this are deleted
    max_bytes: PositiveInt = 65_536  # per call, request and answer together (UTF-8)


class CaptureSettings(_Strict):
    """Prompt and completion storage: off unless a team is named here (its exact name).

    Stored text is always redacted by every PII and secrets check in `guardrails.checks`;
    a config that opts a team in without one is refused rather than storing raw text.
    """

    teams: dict[str, CaptureTeam] = Field(default_factory=dict)
    max_pending: PositiveInt = 10_000  # queued captures beyond this are dropped (and counted)


class GovernanceSettings(_Strict):
    classes: tuple[str, ...] = ("public", "internal", "confidential", "restricted")
    default_class: str = "internal"
    team_classes: dict[str, str] = Field(default_factory=dict)  # a team's floor
    findings: dict[str, str] = Field(default_factory=dict)  # finding type -> class it implies
    policies: tuple[Policy, ...] = ()
    capture: CaptureSettings = CaptureSettings()

    @model_validator(mode="after")
    def _classes_known(self) -> GovernanceSettings:
        named = [self.default_class, *self.team_classes.values(), *self.findings.values()]
        named += [p.when.class_at_least for p in self.policies if p.when.class_at_least]
        named += [team.max_class for team in self.capture.teams.values()]
        unknown = sorted({c for c in named if c not in self.classes})
        if unknown:
            raise ValueError(f"unknown data classes {unknown}; known: {list(self.classes)}")
        return self
