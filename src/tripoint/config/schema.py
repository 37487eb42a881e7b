"""The config file's schema: strict (unknown keys are errors), frozen, secrets by reference.

Top level: `server`, `backends` (name -> backend, a union tagged by `type`) and `models`
(public name -> route). Later sections (`auth`, `limits`, `guardrails`, `governance`,
`routing`, `telemetry`, `storage`) are added by the issues that implement them.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
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
Operation = Literal["chat", "completions", "embeddings", "predict"]


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


class SelfHostedBase(BackendBase):
    """A model server the organisation runs: data stays in-house unless said otherwise."""

    pattern: Pattern = "self_hosted"
    api_key: Secret | None = None  # sent as a bearer token (a proxy or managed endpoint)
    headers: dict[str, str] = Field(default_factory=dict)


class PromptTemplate(Strict):
    """How a chat becomes the one prompt string of TGI's native API.

    Each message is written as `turn` with `{role}` and `{content}` replaced, after `bos`;
    `generation` then opens the assistant's turn and `stop` ends it.
    """

    bos: str = ""
    turn: str = Field(min_length=1)
    generation: str = ""
    stop: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _turn_has_content(self) -> PromptTemplate:
        if "{content}" not in self.turn:
            raise ValueError("turn must contain {content}")
        return self


class TGIBackend(SelfHostedBase):
    """Hugging Face Text Generation Inference, native `/generate` and `/generate_stream`."""

    type: Literal["tgi"]
    base_url: HttpUrl
    chat_template: Literal["chatml", "llama3", "plain"] | PromptTemplate = "chatml"


class OllamaBackend(SelfHostedBase):
    """Ollama's native API: `/api/chat` (NDJSON stream), `/api/generate`, `/api/embed`."""

    type: Literal["ollama"]
    base_url: HttpUrl = HttpUrl("http://127.0.0.1:11434")
    keep_alive: str | None = None  # how long Ollama keeps the model loaded ("5m", "-1")
    options: dict[str, bool | int | float | str] = Field(default_factory=dict)  # num_ctx, ...


class KServeBackend(SelfHostedBase):
    """An Open Inference Protocol v2 server: KServe, Triton, Seldon MLServer."""

    type: Literal["kserve"]
    base_url: HttpUrl


class MLflowBackend(SelfHostedBase):
    """An MLflow scoring server (`mlflow models serve`, `/invocations`): one model per server."""

    type: Literal["mlflow"]
    base_url: HttpUrl
    input_format: Literal["dataframe_split", "inputs", "instances"] = "dataframe_split"
    columns: tuple[str, ...] | None = None  # column names for one 2-D input tensor
    output_name: str = Field(default="predictions", min_length=1)


Backend = Annotated[
    OpenAIBackend | TGIBackend | OllamaBackend | KServeBackend | MLflowBackend,
    Field(discriminator="type"),
]


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
        uses = {name: [t.backend for t in route.targets] for name, route in self.models.items()}
        if problems := dangling_targets(self.backends, uses):
            raise ValueError("; ".join(problems))
        return self

    @model_validator(mode="after")
    def _predictive_models_predict(self) -> Settings:
        """A route to predictive backends only must say `operations: [predict]`."""
        problems = [
            f"models.{name}.operations: its backends only serve predictions; "
            "set `operations: [predict]`"
            for name, route in self.models.items()
            if "predict" not in route.operations
            and all(
                t.backend in self.backends and self.backends[t.backend].type in PREDICTIVE
                for t in route.targets
            )
        ]
        if problems:
            raise ValueError("; ".join(problems))
        return self


PREDICTIVE = frozenset({"kserve", "mlflow"})  # backend types that answer OIP v2 predictions


def dangling_targets(backends: Collection[str], uses: Mapping[str, Sequence[object]]) -> list[str]:
    """Targets naming a backend that is not configured, as `path: problem` lines."""
    return [
        f"models.{model}.targets.{i}.backend: unknown backend {backend!r}"
        for model, named in uses.items()
        for i, backend in enumerate(named)
        if isinstance(backend, str) and backend not in backends
    ]
