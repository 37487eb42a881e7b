"""The admin API's bodies and answers (pydantic at the edge; unknown body fields are 422)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Generic, Literal, TypeVar

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, StringConstraints

# Printable text only: no control characters (NUL breaks PostgreSQL text, others break logs).
_PRINTABLE = r"^[^\x00-\x1f\x7f]+$"
_EMAIL = r"^[^@\s\x00-\x1f]+@[^@\s\x00-\x1f]+$"
Text = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=_PRINTABLE)]
ModelName = Text
Email = Annotated[str, StringConstraints(min_length=3, max_length=320, pattern=_EMAIL)]
MetaKey = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=_PRINTABLE)]
MetaValue = str | int | float | bool | None
Metadata = Annotated[dict[MetaKey, MetaValue], Field(max_length=32)]
T = TypeVar("T")
RoleName = Literal["admin", "team_admin", "member", "viewer", "auditor"]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class View(BaseModel):
    model_config = ConfigDict(frozen=True, from_attributes=True)  # built from table rows


# bodies ------------------------------------------------------------------------------------
class NewOrg(Body):
    name: Text


class NewTeam(Body):
    org_id: Text
    name: Text
    models: list[ModelName] | None = None  # None: every model the gateway serves
    metadata: Metadata = Field(default_factory=dict)


class TeamChange(Body):
    models: list[ModelName] | None = None
    metadata: Metadata | None = None
    clear_models: bool = False  # allow every model again


class NewUser(Body):
    team_id: Text | None = None  # default: the caller's team
    email: Email
    role: RoleName = "member"


class UserChange(Body):
    role: RoleName | None = None
    disabled: bool | None = None


class NewKey(Body):
    team_id: Text | None = None  # default: the caller's team
    user_id: Text | None = None
    name: Text | None = None
    role: RoleName = "member"
    models: list[ModelName] | None = None  # narrows the team's models; None: the team's
    expires_at: datetime | None = None
    expires_in: int | None = Field(default=None, gt=0, le=10 * 365 * 86400)  # seconds
    metadata: Metadata = Field(default_factory=dict)


class KeyChange(Body):
    name: Text | None = None
    models: list[ModelName] | None = None
    metadata: Metadata | None = None


class Rotation(Body):
    grace_seconds: int | None = Field(default=None, ge=0, le=30 * 86400)


# Counts up to 10^15; budgets to $9,000,000 in whole nano-dollars: the Redis store's Lua counts
# in doubles, exact to 2^53 nano-dollars.
Count = Annotated[int, Field(gt=0, le=10**15)]
Usd = Annotated[Decimal, Field(gt=0, le=9_000_000, decimal_places=9)]


class LimitsBody(Body):
    """Limits for one org, team, key or user; each unset field is no limit at this scope."""

    requests_per_minute: Count | None = None
    tokens_per_minute: Count | None = None
    input_tokens_per_minute: Count | None = None
    output_tokens_per_minute: Count | None = None
    max_concurrent: Count | None = None
    budget_usd_per_day: Usd | None = None
    budget_usd_per_month: Usd | None = None
    budget_usd_total: Usd | None = None


# answers -----------------------------------------------------------------------------------
class OrgView(View):
    id: str
    name: str
    created_at: datetime


class TeamView(View):
    id: str
    org_id: str
    name: str
    models: list[str] | None
    metadata: dict[str, MetaValue] = Field(validation_alias=AliasChoices("meta", "metadata"))
    created_at: datetime


class UserView(View):
    id: str
    team_id: str
    email: str
    role: str
    created_at: datetime
    disabled_at: datetime | None


class KeyView(View):
    """A key as people see it: never the secret, only its prefix and last four characters."""

    id: str
    prefix: str
    last4: str
    name: str | None
    team_id: str | None
    user_id: str | None
    role: str
    models: list[str] | None
    metadata: dict[str, MetaValue] = Field(validation_alias=AliasChoices("meta", "metadata"))
    created_by: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    replaced_by: str | None


class NewKeyView(KeyView):
    key: str  # the full secret: shown in this answer only, never again


class AuditView(View):
    id: str
    at: datetime
    actor: str
    actor_role: str
    action: str
    target_type: str
    target_id: str
    team_id: str | None
    source: str | None
    request_id: str | None
    detail: dict[str, object]


class LimitsView(LimitsBody):
    """The limits stored for one scope (all unset: none), and who set them last."""

    scope: Literal["org", "team", "key", "user"]
    id: str
    updated_by: str | None = None
    updated_role: str | None = None  # a caller below this role may not change them
    updated_at: datetime | None = None


class Deletion(View):
    """What a deletion did. Nothing is erased: the keys stay listed as revoked
    (`include_revoked`), and the audit log and call ledger keep every entry."""

    id: str
    object: Literal["org", "team"]
    deleted_at: datetime
    teams_deleted: list[str]
    keys_revoked: list[str]
    users_deleted: list[str]


class PrincipalView(View):
    id: str
    kind: str
    role: str
    team_id: str | None
    models: list[str] | None
    key_id: str | None


class Listing(View, Generic[T]):
    object: Literal["list"] = "list"
    data: list[T]
