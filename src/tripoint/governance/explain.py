"""`tripoint governance explain`: which targets a call may reach, and why not the others."""

from __future__ import annotations

from tripoint.config.schema import Settings
from tripoint.gateway.gateway import routes_of
from tripoint.governance.policy import Subject, evaluate, rank


def explain(
    settings: Settings, team: str | None, model: str, data_class: str, findings: frozenset[str]
) -> list[str]:
    """Lines of a report, for people: the verdict, then every target with its fate."""
    governance = settings.governance
    routes = routes_of(settings)
    if model not in routes:
        return [f"unknown model {model!r}; configured: {', '.join(sorted(routes)) or 'none'}"]
    if team in governance.team_classes:
        floor = governance.team_classes[team]
        data_class = max(data_class, floor, key=lambda c: rank(c, governance.classes))
    subject = Subject(team, model, data_class, findings)
    verdict = evaluate(governance.policies, governance.classes, subject, routes[model], routes)
    lines = [
        f"team {team or '-'}, model {model}, data class {data_class}, "
        f"findings {', '.join(sorted(findings)) or 'none'}"
    ]
    for decision in verdict.decisions:
        mode = " (dry run: not enforced)" if decision.dry_run else ""
        removed = ", ".join(decision.excluded) or "nothing"
        lines.append(f"  policy {decision.policy}: {decision.effect}, removes {removed}{mode}")
    considered = {t.label for t in routes[model]} | set(verdict.excluded_by)
    allowed = {t.label for t in verdict.targets}
    considered |= allowed
    for label in sorted(considered):
        if label in allowed:
            lines.append(f"  ALLOWED  {label}")
        else:
            lines.append(f"  EXCLUDED {label}  by policy {verdict.excluded_by.get(label, '?')}")
    if verdict.denied:
        lines.append(f"DENIED: policy {verdict.denied_by} leaves no target (403)")
    return lines
