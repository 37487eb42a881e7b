"""The config file's schema: strict (unknown keys are errors), frozen, secrets by reference.

Top level: `server`, `backends` (name -> backend, a union tagged by `type`) and `models`
(public name -> route). Later sections (`auth`, `limits`, `guardrails`, `governance`,
`routing`, `telemetry`, `storage`) are added by the issues that implement them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    HttpUrl,
    NonNegativeFloat,
    PositiveFloat,
    PositiveInt,
    model_validator,
)

from tripoint.config.guardrails import GuardrailSettings
from tripoint.config.secrets import Secret

Pattern = Literal["saas", "cloud", "self_hosted", "local"]
Operation = Literal["chat", "completions", "embeddings"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Timeouts(Strict):
    """Per-backend upstream timeouts, in seconds."""

    connect: PositiveFloat = 5.0
    first_byte: PositiveFloat = 60.0  # until the upstream's response headers
    idle: PositiveFloat = 60.0  # longest silence between two reads of a response
    total: PositiveFloat = 600.0  # the whole exchange, streaming included


class BackendBase(Strict):
    """Facts every backend declares; the governance layer reasons about them."""

    pattern: Pattern = "saas"  # the conservative assumption: data leaves the organisation
    region: str | None = None
    retains_data: bool = False
    trains_on_data: bool = False
    tags: tuple[str, ...] = ()
    timeouts: Timeouts = Timeouts()
    max_connections: PositiveInt = 256


class OpenAIBackend(BackendBase):
    """Any OpenAI-compatible server: OpenAI itself, vLLM, llama.cpp server, TGI, Ollama `/v1`."""

    type: Literal["openai"]
    base_url: HttpUrl = HttpUrl("https://api.openai.com/v1")
    api_key: Secret | None = None
    organization: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)


Backend = Annotated[OpenAIBackend, Field(discriminator="type")]


class TargetRef(Strict):
    backend: str = Field(min_length=1)
    model: str = Field(min_length=1)


class ModelRoute(Strict):
    targets: tuple[TargetRef, ...] = Field(min_length=1)  # tried in order until one answers
    operations: tuple[Operation, ...] = ("chat", "completions", "embeddings")


class ServerSettings(Strict):
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    max_body_bytes: PositiveInt = 8 * 1024 * 1024
    data_dir: Path | None = None  # default: $TRIPOINT_DATA_DIR or ~/.local/share/tripoint
    shutdown_grace: NonNegativeFloat = 10.0


class Settings(Strict):
    server: ServerSettings = ServerSettings()
    backends: dict[str, Backend] = Field(default_factory=dict)
    models: dict[str, ModelRoute] = Field(default_factory=dict)
    guardrails: GuardrailSettings = GuardrailSettings()

    @model_validator(mode="after")
    def _targets_name_backends(self) -> Settings:
        problems = [
            f"models.{name}.targets.{i}.backend: unknown backend {t.backend!r}"
            for name, route in self.models.items()
            for i, t in enumerate(route.targets)
            if t.backend not in self.backends
        ]
        if problems:
            raise ValueError("; ".join(problems))
        return self
