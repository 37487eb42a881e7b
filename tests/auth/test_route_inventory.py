"""Every route of the running app states who may call it; only the probes are public."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi.routing import APIRoute
from starlette.routing import BaseRoute, Mount, Route

from tests.auth.conftest import Secrets, auth_settings
from tripoint.api.admin.access import RoleRequirement
from tripoint.api.app import create_app
from tripoint.api.guard import PUBLIC, REQUIREMENT
from tripoint.auth.roles import Role

PUBLIC_PATHS = {"/healthz", "/readyz"}


def _walk(routes: list[BaseRoute], prefix: str = "") -> Iterator[tuple[str, BaseRoute]]:
    for route in routes:
        if isinstance(route, Mount):
            yield from _walk(list(route.routes), prefix + route.path)
        elif hasattr(route, "original_router"):  # newer FastAPI includes routers lazily
            yield from _walk(list(route.original_router.routes), prefix)
        else:
            yield prefix + getattr(route, "path", "?"), route


def requirement_of(route: BaseRoute) -> Role | str | None:
    if isinstance(route, APIRoute):
        found = [
            d.call.role for d in route.dependant.dependencies if isinstance(d.call, RoleRequirement)
        ]
        return found[0] if len(found) == 1 else None
    if isinstance(route, Route):
        value = getattr(route.endpoint, REQUIREMENT, None)
        return value if isinstance(value, Role) or value == PUBLIC else None
    return None


def test_every_route_names_a_role_and_only_probes_are_public(tmp_path) -> None:
    settings = auth_settings(
        "http://127.0.0.1:9/v1", Secrets(dsn=f"sqlite:///{tmp_path}/t.db"), tmp_path
    )
    app = create_app(settings)

    inventory = {path: requirement_of(route) for path, route in _walk(list(app.routes))}

    assert len(inventory) > 20  # the admin API is mounted and walked into
    assert [path for path, needs in inventory.items() if needs is None] == []
    assert {path for path, needs in inventory.items() if needs == PUBLIC} == PUBLIC_PATHS
    assert inventory["/admin/keys/{key_id}/revoke"] is Role.TEAM_ADMIN
    assert inventory["/admin/orgs"] is Role.ADMIN
    assert inventory["/admin/orgs/{org_id}/limits"] is Role.ADMIN
    assert inventory["/v1/chat/completions"] is Role.MEMBER
    assert inventory["/admin/calls/{call_id}/content"] is Role.AUDITOR


def test_inventory_notices_a_route_without_a_requirement() -> None:
    async def sneaky(request):  # type: ignore[no-untyped-def]
        raise NotImplementedError

    assert requirement_of(Route("/sneaky", sneaky)) is None
