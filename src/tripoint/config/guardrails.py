"""The `guardrails` config section: named checks, and which of them apply to which calls."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PositiveFloat,
    PositiveInt,
    field_validator,
    model_validator,
)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)  # as config.schema.Strict


Action = Literal["block", "redact", "log"]  # log: shadow mode, record what would happen
Direction = Literal["input", "output"]
OnError = Literal["block", "allow"]  # a failing or slow check blocks unless told otherwise
Redaction = Literal["mask", "placeholder", "reversible"]

# Pattern entities Presidio catches by format and checksum; NER entities are opt-in.
CALIBRATED_FPRS = (0.01, 0.05)  # target false-positive rates the shipped classifier has
DEFAULT_PII_ENTITIES: tuple[str, ...] = (
    "EMAIL_ADDRESS",
    "PHONE_NUMBER",
    "CREDIT_CARD",
    "IBAN_CODE",
    "IP_ADDRESS",
    "US_SSN",
    "US_ITIN",
    "US_PASSPORT",
    "UK_NHS",
    "MAC_ADDRESS",
)


class CheckBase(Strict):
    action: Action = "block"
    on: tuple[Direction, ...] = ("input", "output")
    on_error: OnError = "block"
    timeout: PositiveFloat = 2.0  # seconds for one scan of one input


class PiiCheck(CheckBase):
    """Personal data found by Presidio: pattern entities always, names/places with `ner`."""

    type: Literal["pii"]
    entities: tuple[str, ...] = DEFAULT_PII_ENTITIES
    redaction: Redaction = "placeholder"
    score_threshold: float = Field(default=0.4, ge=0, le=1)
    language: Literal["en"] = "en"


class SecretsCheck(CheckBase):
    """Credentials: provider key formats plus detect-secrets plugins."""

    type: Literal["secrets"]
    redaction: Literal["mask", "placeholder"] = "placeholder"
    allowlist: tuple[str, ...] = ()  # exact values never reported (documented examples)


class InjectionCheck(CheckBase):
    """Prompt injection and jailbreaks: rules, then the embedding classifier."""

    type: Literal["injection"]
    action: Literal["block", "log"] = "block"  # there is nothing to redact in an instruction
    on: tuple[Direction, ...] = ("input",)
    target_fpr: float = 0.01  # which calibrated threshold to use: 0.01 or 0.05
    threshold: float | None = Field(default=None, ge=0, le=1)  # overrides target_fpr
    roles: tuple[str, ...] = ("user", "tool", "function")  # chat roles scanned
    classifier: bool = True  # False: the cheap rules only

    @field_validator("target_fpr")
    @classmethod
    def _calibrated(cls, value: float) -> float:
        if value not in CALIBRATED_FPRS:
            raise ValueError(f"thresholds are calibrated for {CALIBRATED_FPRS}; or set threshold")
        return value


class CanaryCheck(CheckBase):
    """A per-call token placed in the system prompt; seeing it in output means a leak."""

    type: Literal["canary"]
    action: Literal["block", "log"] = "block"
    on: tuple[Direction, ...] = ("input", "output")


Check = Annotated[
    PiiCheck | SecretsCheck | InjectionCheck | CanaryCheck, Field(discriminator="type")
]


class GuardrailPolicy(Strict):
    """Which checks run: `default` for every model, replaced per model, extended per team."""

    default: tuple[str, ...] = ()
    models: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    teams: dict[str, tuple[str, ...]] = Field(default_factory=dict)


class GuardrailSettings(Strict):
    checks: dict[str, Check] = Field(default_factory=dict)
    apply: GuardrailPolicy = GuardrailPolicy()
    max_scan_chars: PositiveInt = 400_000  # larger inputs are rejected, never passed unscanned
    window_chars: PositiveInt = Field(default=256, ge=32)  # longest value caught in streams
    max_held_chars: PositiveInt = 16_384  # a stream holding more than this blocks
    workers: PositiveInt = 2  # threads running the heavier checks off the event loop
    classifier_threads: PositiveInt = 2  # ONNX Runtime threads per injection-classifier run

    @model_validator(mode="after")
    def _names_are_checks(self) -> GuardrailSettings:
        named = [("apply.default", n) for n in self.apply.default]
        for scope in ("models", "teams"):
            for key, names in getattr(self.apply, scope).items():
                named.extend((f"apply.{scope}.{key}", n) for n in names)
        unknown = [f"{where}: unknown check {n!r}" for where, n in named if n not in self.checks]
        if unknown:
            raise ValueError("; ".join(unknown))
        return self
