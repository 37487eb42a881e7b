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


class BedrockGuardrail(Strict):
    """An Amazon Bedrock guardrail applied by Bedrock itself to every call of the backend."""

    identifier: str = Field(min_length=1)  # the guardrail's id or ARN
    version: str = Field(default="DRAFT", min_length=1)
    trace: Literal["enabled", "disabled", "enabled_full"] = "disabled"
    stream_processing: Literal["sync", "async"] = "sync"  # ConverseStream only


class BedrockBackend(BackendBase):
    """AWS Bedrock: Converse/ConverseStream for chat, InvokeModel for Titan/Cohere embeddings.

    Credentials: a Bedrock `api_key` (sent as a bearer token), or `access_key_id` +
    `secret_access_key` (+ `session_token`) as secret references for SigV4, else the standard
    AWS chain (environment, `profile`, web identity, roles), also for SigV4.
    """

    type: Literal["bedrock"]
    pattern: Pattern = "cloud"
    region: str = Field(min_length=1)  # the AWS region requests are signed for and sent to
    base_url: HttpUrl | None = None  # default https://bedrock-runtime.{region}.amazonaws.com
    access_key_id: Secret | None = None
    secret_access_key: Secret | None = None
    session_token: Secret | None = None
    profile: str | None = None
    api_key: Secret | None = None
    guardrail: BedrockGuardrail | None = None

    @model_validator(mode="after")
    def _keys_come_in_pairs(self) -> BedrockBackend:
        if self.api_key is not None and (self.access_key_id is not None or self.profile):
            raise ValueError("give api_key or AWS credentials (keys or profile), not both")
        if (self.access_key_id is None) != (self.secret_access_key is None):
            raise ValueError("access_key_id and secret_access_key are given together or not at all")
        if self.session_token is not None and self.access_key_id is None:
            raise ValueError("session_token needs access_key_id and secret_access_key")
        return self


class VertexBackend(BackendBase):
    """Gemini on Google Vertex AI, and Vertex text embeddings.

    Credentials: `service_account` (a reference to a service-account key's JSON), else
    Application Default Credentials (GOOGLE_APPLICATION_CREDENTIALS, workload identity).
    """

    type: Literal["vertex"]
    pattern: Pattern = "cloud"
    project: str = Field(min_length=1)
    location: str = Field(min_length=1)  # us-central1, europe-west4, ... or global
    base_url: HttpUrl | None = None  # default https://{location}-aiplatform.googleapis.com/v1
    service_account: Secret | None = None

    @model_validator(mode="before")
    @classmethod
    def _region_defaults_to_location(cls, data: object) -> object:
        if isinstance(data, dict) and data.get("region") is None and "location" in data:
            return {**data, "region": data["location"]}
        return data


Backend = Annotated[OpenAIBackend | BedrockBackend | VertexBackend, Field(discriminator="type")]


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
