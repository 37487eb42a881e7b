"""Which meters apply to a caller: org > team > key > user > model, config and admin API
limits both, the lower one winning field by field, each scope on one counter."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from tripoint.config.limits import GrantedLimits, LimitSpec, LimitsSettings
from tripoint.limits.meters import Meter, meters_for
from tripoint.pipeline.call import Principal

NOW = datetime(2026, 11, 28, 12, tzinfo=UTC)
KEY = Principal(
    id="user_1",
    team="team_1",
    team_name="red",
    org="org_1",
    org_name="acme",
    kind="key",
    key_id="key_1",
)


def limits_of(meters: list[Meter]) -> dict[str, int]:
    return {m.key: m.limit for m in meters}


def test_every_scope_applies_outermost_first() -> None:
    settings = LimitsSettings(
        orgs={"acme": LimitSpec(requests_per_minute=100)},
        teams={"red": LimitSpec(requests_per_minute=50)},
        keys={"key_1": LimitSpec(requests_per_minute=20)},
        users={"user_1": LimitSpec(requests_per_minute=10)},
        models={"m": LimitSpec(requests_per_minute=5)},
    )

    meters = meters_for(settings, KEY, "m", NOW)

    assert [(m.key, m.limit, m.scope) for m in meters] == [
        ("org:acme:requests", 100, "org 'acme'"),
        ("team:red:requests", 50, "team 'red'"),
        ("key:key_1:requests", 20, "this key"),
        ("user:user_1:requests", 10, "user 'user_1'"),
        ("model:m:requests", 5, "model 'm'"),
    ]


def test_config_and_stored_limits_of_one_scope_share_a_counter_at_the_lower_limit() -> None:
    settings = LimitsSettings(
        keys={"key_1": LimitSpec(requests_per_minute=20, budget_usd_total=Decimal("5"))}
    )
    stored = GrantedLimits(
        key=LimitSpec(requests_per_minute=30, budget_usd_total=Decimal("1"), max_concurrent=2)
    )
    principal = Principal(id="key_1", kind="key", key_id="key_1", limits=stored)

    meters = meters_for(settings, principal, "m", NOW)

    assert limits_of(meters) == {
        "key:key_1:requests": 20,  # the config's is lower
        "key:key_1:concurrent": 2,  # only stored
        "key:key_1:budget:total": 1_000_000_000,  # the stored one is lower: $1 in nano-dollars
    }


def test_stored_org_limits_apply_to_callers_of_every_team_of_the_org() -> None:
    stored = GrantedLimits(org=LimitSpec(budget_usd_per_day=Decimal("2.5")))
    red = Principal(id="k1", kind="key", key_id="k1", team="t1", org="org_9", limits=stored)
    blue = Principal(id="k2", kind="key", key_id="k2", team="t2", org="org_9", limits=stored)

    keys = [limits_of(meters_for(LimitsSettings(), p, "m", NOW)) for p in (red, blue)]

    assert keys[0] == keys[1] == {"org:org_9:budget:2026-11-28": 2_500_000_000}


def test_defaults_fill_the_fields_a_key_leaves_unset() -> None:
    settings = LimitsSettings(defaults=LimitSpec(requests_per_minute=60, tokens_per_minute=1000))
    stored = GrantedLimits(key=LimitSpec(requests_per_minute=5))
    principal = Principal(id="key_1", kind="key", key_id="key_1", limits=stored)

    meters = meters_for(settings, principal, "m", NOW)

    assert limits_of(meters) == {"key:key_1:requests": 5, "key:key_1:tokens": 1000}


def test_defaults_count_on_the_same_counter_as_the_keys_own_limits() -> None:
    settings = LimitsSettings(defaults=LimitSpec(budget_usd_total=Decimal("1")))
    before = Principal(id="key_1", kind="key", key_id="key_1")
    after = Principal(
        id="key_1",
        kind="key",
        key_id="key_1",
        limits=GrantedLimits(key=LimitSpec(budget_usd_total=Decimal("3"))),
    )

    first, second = (meters_for(settings, p, "m", NOW) for p in (before, after))

    # what the key spent under the defaults still counts once its own budget is set
    assert [m.key for m in first] == [m.key for m in second] == ["key:key_1:budget:total"]


def test_a_caller_without_any_limit_has_no_meters() -> None:
    assert meters_for(LimitsSettings(), KEY, "m", NOW) == []
