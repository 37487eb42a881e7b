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
    SecretStr,
    field_validator,
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


Role = Literal["admin", "team_admin", "member", "viewer"]
DATABASE_SCHEMES = frozenset(
    {"postgresql", "postgres", "postgresql+asyncpg", "sqlite", "sqlite+aiosqlite"}
)


class JwtKey(Strict):
    """A static verification key: a PEM public key, or an HMAC secret for HS* algorithms."""

    kid: str | None = None
    key: Secret


class JwtSettings(Strict):
    """OIDC/JWT bearer tokens: signature (JWKS URL or static keys), iss, aud, exp, nbf."""

    issuer: str = Field(min_length=1)
    audience: str = Field(min_length=1)
    jwks_url: HttpUrl | None = None
    keys: tuple[JwtKey, ...] = ()
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
        if (self.jwks_url is None) == (not self.keys):
            raise ValueError("set exactly one of jwks_url or keys")
        return self


class AuthSettings(Strict):
    """Virtual API keys, JWT bearer tokens, roles. Without this section the gateway is open."""

    pepper: Secret  # HMAC-SHA-256 server secret for key hashes; changing it voids every key
    bootstrap_admin_key: Secret | None = None  # an admin key from config, for the first login
    key_cache_ttl: PositiveFloat = 10.0  # seconds; bounds revocation delay on other replicas
    key_cache_size: PositiveInt = 100_000
    rotation_grace: NonNegativeFloat = 86_400.0  # seconds a rotated key keeps working
    jwt: JwtSettings | None = None

    @field_validator("pepper")
    @classmethod
    def _long_pepper(cls, pepper: SecretStr) -> SecretStr:
        if len(pepper.get_secret_value()) < 16:
            raise ValueError("the pepper must be at least 16 characters (value not shown)")
        return pepper


class Settings(Strict):
    server: ServerSettings = ServerSettings()
    backends: dict[str, Backend] = Field(default_factory=dict)
    models: dict[str, ModelRoute] = Field(default_factory=dict)
    storage: StorageSettings | None = None
    auth: AuthSettings | None = None

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
