"""Random policies and requests: the decision equals a straightforward reference evaluation."""

from __future__ import annotations

from fnmatch import fnmatchcase

from hypothesis import given, settings
from hypothesis import strategies as st

from tripoint.config.governance import Condition, Policy, TargetFilter
from tripoint.governance.policy import Subject, evaluate
from tripoint.providers.target import BackendFacts, Target

CLASSES = ("public", "internal", "confidential", "restricted")
PATTERNS = ("saas", "cloud", "self_hosted", "local")
REGIONS = ("eu-west", "eu-central", "us-east", None)
TEAMS = ("eu-research", "eu-ops", "us-sales", None)

targets_strategy = st.lists(
    st.builds(
        lambda name, pattern, region, trains: Target(
            BackendFacts(name, "openai", pattern, region, False, trains, ()), "m"
        ),
        st.sampled_from(["a", "b", "c", "d", "e"]),
        st.sampled_from(PATTERNS),
        st.sampled_from(REGIONS),
        st.booleans(),
    ),
    min_size=1,
    max_size=5,
    unique_by=lambda t: t.label,
)

filters = st.builds(
    TargetFilter,
    pattern=st.none() | st.lists(st.sampled_from(PATTERNS), min_size=1, max_size=2).map(tuple),
    region=st.none() | st.sampled_from([("eu*",), ("us*",), ("eu-west",)]),
    trains_on_data=st.none() | st.booleans(),
)
conditions = st.builds(
    Condition,
    team=st.none() | st.sampled_from([("eu-*",), ("us-*",)]),
    class_at_least=st.none() | st.sampled_from(CLASSES),
    findings_any=st.none() | st.sampled_from([("PII",), ("SECRET",)]),
)
policies_strategy = st.lists(
    st.builds(
        lambda i, when, spec, kind, dry: Policy(
            name=f"p{i}",
            when=when,
            mode="dry_run" if dry else "enforce",
            **({"allow": spec} if kind else {"deny": spec}),
        ),
        st.integers(0, 99),
        conditions,
        filters,
        st.booleans(),
        st.booleans(),
    ),
    max_size=5,
)


def reference(policies: list[Policy], subject: Subject, targets: list[Target]) -> set[str]:
    allowed = {t.label for t in targets}
    for policy in policies:
        when = policy.when
        if when.team and not (subject.team and fnmatchcase(subject.team, when.team[0])):
            continue
        if when.class_at_least and (
            CLASSES.index(subject.data_class) < CLASSES.index(when.class_at_least)
        ):
            continue
        if when.findings_any and not subject.findings.intersection(when.findings_any):
            continue
        if policy.mode == "dry_run":
            continue
        spec = policy.allow or policy.deny
        assert spec is not None
        hits = set()
        for t in targets:
            f = t.backend
            ok = (
                (spec.pattern is None or f.pattern in spec.pattern)
                and (
                    spec.region is None
                    or (f.region is not None and fnmatchcase(f.region, spec.region[0]))
                )
                and (spec.trains_on_data is None or f.trains_on_data == spec.trains_on_data)
            )
            if ok:
                hits.add(t.label)
        allowed = allowed & hits if policy.allow else allowed - hits
        if not allowed:
            break
    return allowed


@settings(max_examples=300, deadline=None)
@given(
    policies=policies_strategy,
    targets=targets_strategy,
    team=st.sampled_from(TEAMS),
    data_class=st.sampled_from(CLASSES),
    findings=st.sets(st.sampled_from(["PII", "SECRET"])).map(frozenset),
)
def test_decision_equals_the_reference(
    policies: list[Policy],
    targets: list[Target],
    team: str | None,
    data_class: str,
    findings: frozenset[str],
) -> None:
    subject = Subject(team, "m", data_class, findings)

    verdict = evaluate(policies, CLASSES, subject, targets, {})

    assert {t.label for t in verdict.targets} == reference(policies, subject, targets)
    assert verdict.denied == (not verdict.targets)
    if verdict.denied and policies:
        assert verdict.denied_by in {p.name for p in policies}
