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
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    SecretStr,
    field_validator,
    model_validator,
)

from tripoint.config.facts import Pattern
from tripoint.config.governance import GovernanceSettings
from tripoint.config.guardrails import GuardrailSettings
from tripoint.config.limits import LimitsSettings
from tripoint.config.routing import (
    Admission,
    Breaker,
    CachePolicy,
    HealthCheck,
    RetryPolicy,
    RoutingSettings,
    Strategy,
)
from tripoint.config.secrets import Secret

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
    breaker: Breaker = Breaker()
    admission: Admission | None = None
    health: HealthCheck | None = None


class OpenAIBackend(BackendBase):
    """Any OpenAI-compatible server: OpenAI itself, vLLM, llama.cpp server, TGI, Ollama `/v1`."""

    type: Literal["openai"]
    base_url: HttpUrl = HttpUrl("https://api.openai.com/v1")
    api_key: Secret | None = None
    organization: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)


class AnthropicBackend(BackendBase):
    """Anthropic's Messages API (`POST {base_url}/v1/messages`)."""

    type: Literal["anthropic"]
    base_url: HttpUrl = HttpUrl("https://api.anthropic.com")
    api_key: Secret
    version: str = "2023-06-01"  # the `anthropic-version` header
    beta: tuple[str, ...] = ()  # `anthropic-beta` flags, sent comma-separated
    max_tokens: PositiveInt = 4096  # Anthropic requires a limit; used when the client sets none
    headers: dict[str, str] = Field(default_factory=dict)


class CohereBackend(BackendBase):
    """Cohere's v2 API: `/v2/chat` (streamed or not) and `/v2/embed`."""

    type: Literal["cohere"]
    base_url: HttpUrl = HttpUrl("https://api.cohere.com")
    api_key: Secret
    # Cohere's embed models need to know what a text is for; a client may send `input_type`
    embed_input_type: Literal["search_document", "search_query", "classification", "clustering"] = (
        "search_document"
    )
    headers: dict[str, str] = Field(default_factory=dict)


class EntraClientCredentials(Strict):
    """A Microsoft Entra app registration; the gateway fetches and caches its access tokens."""

    tenant_id: str = Field(min_length=1)
    client_id: str = Field(min_length=1)
    client_secret: Secret
    token_url: HttpUrl | None = None  # default: login.microsoftonline.com/{tenant_id}/...
    scope: str = "https://cognitiveservices.azure.com/.default"


class AzureOpenAIBackend(BackendBase):
    """Azure OpenAI: deployment URLs, `api-version`, and an API key or a Microsoft Entra token."""

    type: Literal["azure_openai"]
    pattern: Pattern = "cloud"
    endpoint: HttpUrl  # https://RESOURCE.openai.azure.com
    api_version: str = "2024-10-21"
    api_key: Secret | None = None  # sent as `api-key`
    bearer_token: Secret | None = None  # a pre-issued Entra access token
    entra: EntraClientCredentials | None = None  # or client credentials, refreshed as needed
    headers: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_credential(self) -> AzureOpenAIBackend:
        given = [n for n in ("api_key", "bearer_token", "entra") if getattr(self, n) is not None]
        if len(given) != 1:
            raise ValueError(
                "set exactly one of api_key, bearer_token or entra"
                + (f" (got {', '.join(given)})" if given else "")
            )
        return self


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


class LocalModel(Strict):
    """One model the embedded engine runs: a GGUF file (chat and completions) or an ONNX
    embedding model directory (`model.onnx` plus `tokenizer.json` or `vocab.txt`)."""

    path: Path  # relative to the model directory (server.data_dir/models), or absolute
    kind: Literal["generate", "embed"] | None = None  # default: `.gguf` generates, else embeds
    context: PositiveInt = 2048  # tokens of prompt plus answer; embeddings truncate here
    max_tokens: PositiveInt = 512  # the most one answer may ask for
    concurrency: PositiveInt = 1  # instances, each a worker thread with its own copy
    queue: NonNegativeInt = 64  # requests that may wait for a free instance; beyond: 429
    threads: PositiveInt = 1  # CPU threads per instance (one measured fastest on 2 cores)
    batch: PositiveInt = 32  # embeddings: inputs per ONNX Runtime run
    temperature: float = Field(default=0.8, ge=0, le=2)  # when the request gives none
    stream_interval: NonNegativeFloat = 0.002  # seconds: tokens within it are sent together


class LocalBackend(BackendBase):
    """The embedded engine: models run inside the gateway's own process, in worker threads."""

    type: Literal["local"]
    pattern: Pattern = "local"
    models: dict[str, LocalModel] = Field(min_length=1)  # the names targets use
    load: Literal["start", "lazy"] = "start"  # at start (/readyz waits) or on first use


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
    OpenAIBackend
    | AnthropicBackend
    | CohereBackend
    | AzureOpenAIBackend
    | BedrockBackend
    | VertexBackend
    | LocalBackend
    | TGIBackend
    | OllamaBackend
    | KServeBackend
    | MLflowBackend,
    Field(discriminator="type"),
]


class TargetRef(Strict):
    backend: str = Field(min_length=1)
    model: str = Field(min_length=1)
    weight: PositiveFloat = 1.0  # for the `weighted` strategy


class ModelRoute(Strict):
    targets: tuple[TargetRef, ...] = Field(min_length=1)  # tried in order until one answers
    operations: tuple[Operation, ...] = ("chat", "completions", "embeddings")
    strategy: Strategy = "priority"
    retry: RetryPolicy = RetryPolicy()
    cache: CachePolicy = CachePolicy()
    # `delegate`: a batch whose lines all name this model goes whole to the first target's
    # native Batch API (an `openai` backend: cheaper for SaaS), its status and results mapped
    # back; its lines then skip the gateway's per-call stages (limits, guardrails, ledger).
    batch: Literal["gateway", "delegate"] = "gateway"


class ServerSettings(Strict):
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    max_body_bytes: PositiveInt = 8 * 1024 * 1024
    data_dir: Path | None = None  # default: $TRIPOINT_DATA_DIR or ~/.local/share/tripoint
    shutdown_grace: NonNegativeFloat = 10.0


class StorageSettings(Strict):
    """The SQL store for keys, teams, audit (and later usage, batches, budgets)."""

    url: Secret | None = None  # a PostgreSQL DSN by reference; default SQLite in data_dir
    pool_size: PositiveInt = 10
    connect_timeout: PositiveFloat = 5.0

    @field_validator("url")
    @classmethod
    def _known_database(cls, url: SecretStr | None) -> SecretStr | None:
        scheme = url.get_secret_value().partition("://")[0] if url is not None else "sqlite"
        if scheme not in DATABASE_SCHEMES:
            raise ValueError(
                "unsupported database (value not shown); use postgresql://... or sqlite:///..."
            )
        return url


Role = Literal["admin", "team_admin", "member", "viewer", "auditor"]
DATABASE_SCHEMES = frozenset(
    {"postgresql", "postgres", "postgresql+asyncpg", "sqlite", "sqlite+aiosqlite"}
)


class JwtKey(Strict):
    """A static verification key: a PEM public key, or an HMAC secret for HS* algorithms."""

    kid: str | None = None
    key: Secret


class JwtSettings(Strict):
    """OIDC/JWT bearer tokens: signature (JWKS URL, static keys, or OIDC discovery), iss, aud,
    exp, nbf. With neither `jwks_url` nor `keys`, the JWKS is found by OIDC discovery."""

    issuer: str = Field(min_length=1)
    audience: str = Field(min_length=1)
    jwks_url: HttpUrl | None = None
    keys: tuple[JwtKey, ...] = ()
    # default: {issuer}/.well-known/openid-configuration; its `issuer` must equal ours
    discovery_url: HttpUrl | None = None
    algorithms: tuple[str, ...] = ("RS256", "ES256")
    jwks_cache_ttl: PositiveFloat = 300.0  # seconds a fetched JWKS is trusted
    jwks_min_refresh: NonNegativeFloat = 10.0  # an unknown kid refetches at most this often
    leeway: NonNegativeFloat = 30.0  # clock skew allowed on exp/nbf, seconds
    subject_claim: str = "sub"
    team_claim: str = "team"  # its value names a team (`teams.name`)
    role_claim: str = "role"
    role_map: dict[str, Role] = Field(default_factory=dict)  # claim value -> role
    default_role: Role | None = "member"  # when the role claim is absent; None rejects

    @model_validator(mode="after")
    def _has_keys(self) -> JwtSettings:
        sources = [self.jwks_url is not None, bool(self.keys), self.discovery_url is not None]
        if sum(sources) > 1:
            raise ValueError("set at most one of jwks_url, keys or discovery_url")
        if not any(sources) and not self.issuer.startswith(("https://", "http://")):
            raise ValueError(
                "without jwks_url, keys or discovery_url the keys are discovered from the "
                "issuer, which must then be an http(s) URL"
            )
        return self

    @property
    def discovers(self) -> bool:
        return self.jwks_url is None and not self.keys


class AuthSettings(Strict):
    """Virtual API keys, JWT bearer tokens, roles. Without this section the gateway is open."""

    pepper: Secret  # HMAC-SHA-256 server secret for key hashes; changing it voids every key
    bootstrap_admin_key: Secret | None = None  # an admin key from config, for the first login
    key_cache_ttl: PositiveFloat = 10.0  # seconds; bounds revocation delay on other replicas
    # PostgreSQL: changes are pushed to every replica at once (LISTEN/NOTIFY); the TTL stays
    # the bound while the push channel is down
    revocation_push: bool = True
    key_cache_size: PositiveInt = 100_000
    rotation_grace: NonNegativeFloat = 86_400.0  # seconds a rotated key keeps working
    jwt: JwtSettings | None = None

    @field_validator("pepper")
    @classmethod
    def _long_pepper(cls, pepper: SecretStr) -> SecretStr:
        if len(pepper.get_secret_value()) < 16:
            raise ValueError("the pepper must be at least 16 characters (value not shown)")
        return pepper


class BatchSettings(Strict):
    """The batch lane: Files and Batches APIs, run by workers inside the gateway."""

    enabled: bool = True
    concurrency: PositiveInt = 4  # lines in flight per gateway process
    max_file_bytes: PositiveInt = 200 * 1024 * 1024  # the largest upload (OpenAI's limit)
    claim_ttl: PositiveFloat = 30.0  # seconds before a killed worker's lines are run again
    # Where jobs, lines and files live. `database`: the SQL store (`storage`), for workers and
    # replicas on several machines; `embedded`: SQLite and files under the data directory;
    # `auto`: `database` when `storage.url` is PostgreSQL, else `embedded`.
    store: Literal["auto", "embedded", "database"] = "auto"
    delegate_poll: PositiveFloat = 30.0  # seconds between status reads of a delegated batch


class MetricsSettings(Strict):
    """Prometheus exposition. Multiprocess-safe when PROMETHEUS_MULTIPROC_DIR is set."""

    enabled: bool = True
    path: str = Field(default="/metrics", pattern=r"^/[A-Za-z0-9._/-]*$")
    token: Secret | None = None  # bearer token a scraper must send; None leaves it open
    port: int | None = Field(default=None, ge=0, le=65535)  # serve on its own port instead
    host: str = "127.0.0.1"  # the separate listener's address (with `port`)

    @model_validator(mode="after")
    def _path_is_free(self) -> MetricsSettings:
        if self.path.startswith("/v1/") or self.path in {"/v1", "/healthz", "/readyz"}:
            raise ValueError(f"path {self.path!r} is taken by the gateway's own routes")
        return self


class TracingSettings(Strict):
    """OpenTelemetry traces: nothing is exported unless `otlp_endpoint` is set."""

    enabled: bool = False  # spans are made (and traceparent continued) even without export
    otlp_endpoint: HttpUrl | None = None  # e.g. http://collector:4318/v1/traces; enables tracing
    otlp_headers: dict[str, Secret] = Field(default_factory=dict)  # e.g. an auth header
    # http/json is encoded by Tripoint (orjson, ~2.5x cheaper per span than the protobuf
    # encoder); http/protobuf uses OpenTelemetry's own exporter.
    otlp_protocol: Literal["http/json", "http/protobuf"] = "http/json"
    service_name: str = "tripoint"
    sample_ratio: float = Field(default=1.0, ge=0.0, le=1.0)  # of root traces; parents decide
    capture_content: bool = False  # put prompts and completions on spans (opt-in)
    stage_spans: bool = True  # a child span per pipeline stage


class TelemetrySettings(Strict):
    metrics: MetricsSettings = MetricsSettings()
    tracing: TracingSettings = TracingSettings()
    access_log: bool = True  # one JSON line per call on the `tripoint.access` logger
    recent_records: int = Field(default=1000, ge=0)  # finished Records kept in memory to query


class Settings(Strict):
    server: ServerSettings = ServerSettings()
    batch: BatchSettings = BatchSettings()

    telemetry: TelemetrySettings = TelemetrySettings()
    backends: dict[str, Backend] = Field(default_factory=dict)
    models: dict[str, ModelRoute] = Field(default_factory=dict)
    routing: RoutingSettings = RoutingSettings()
    limits: LimitsSettings = LimitsSettings()
    governance: GovernanceSettings = GovernanceSettings()
    storage: StorageSettings | None = None
    auth: AuthSettings | None = None
    guardrails: GuardrailSettings = GuardrailSettings()

    @model_validator(mode="after")
    def _targets_name_backends(self) -> Settings:
        uses = {name: [t.backend for t in route.targets] for name, route in self.models.items()}
        problems = dangling_targets(self.backends, uses)
        problems += [
            f"governance.policies.{i}.reroute: unknown model {p.reroute!r}"
            for i, p in enumerate(self.governance.policies)
            if p.reroute is not None and p.reroute not in self.models
        ]
        problems += [
            f"models.{name}.targets.{i}.model: local backend {t.backend!r} has no model {t.model!r}"
            for name, route in self.models.items()
            for i, t in enumerate(route.targets)
            if isinstance(backend := self.backends.get(t.backend), LocalBackend)
            and t.model not in backend.models
        ]
        if problems:
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

    @model_validator(mode="after")
    def _capture_is_redacted(self) -> Settings:
        """Captured prompts are stored redacted, for named teams: refuse what cannot be."""
        if not self.governance.capture.teams:
            return self
        problems = []
        if self.auth is None:
            problems.append("governance.capture: needs `auth` (captures are per team)")
        if not any(c.type in ("pii", "secrets") for c in self.guardrails.checks.values()):
            problems.append(
                "governance.capture: needs a `pii` or `secrets` check in guardrails.checks; "
                "captured text is always stored redacted, never raw"
            )
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
