"""This project diagnoses async/sync session mix-ups; it must never contain one."""

from __future__ import annotations

import inspect
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from service.web.deps import get_session
from tests.conftest import ADMIN


def _depends_on(dependant: object, target: object) -> bool:
    for sub in getattr(dependant, "dependencies", []):
        if sub.call is target or _depends_on(sub, target):
            return True
    return False


def api_routes(routes: list[Any]) -> list[APIRoute]:
    """Return every APIRoute, looking inside included routers."""
    found: list[APIRoute] = []
    for route in routes:
        if isinstance(route, APIRoute):
            found.append(route)
        elif hasattr(route, "original_router"):
            found.extend(api_routes(route.original_router.routes))
    return found


def test_no_async_route_takes_a_database_session(client: TestClient) -> None:
    routes = api_routes(client.app.routes)  # type: ignore[attr-defined]
    assert "/drains/{source}" in {r.path for r in routes}
    assert routes
    offenders = [
        r.path
        for r in routes
        if inspect.iscoroutinefunction(r.endpoint) and _depends_on(r.dependant, get_session)
    ]
    assert offenders == []


def test_no_async_session_anywhere_in_the_package() -> None:
    import pathlib

    root = pathlib.Path(__file__).resolve().parents[2] / "service"
    found = [
        str(p)
        for p in root.rglob("*.py")
        if "sqlalchemy.ext.asyncio" in p.read_text() or "sqlmodel.ext.asyncio" in p.read_text()
    ]
    assert found == []


def test_the_openapi_schema_builds_without_warnings_and_names_each_operation_once(
    client: TestClient,
) -> None:
    schema = client.get("/openapi.json", auth=ADMIN).json()  # warnings are errors in the suite
    operations = [
        operation["operationId"] for path in schema["paths"].values() for operation in path.values()
    ]
    assert len(operations) == len(set(operations))
    assert {"post", "put"} <= set(schema["paths"]["/drains/{source}"])


@pytest.mark.parametrize(
    "path",
    [
        "/api/sources/%00",
        "/api/sources/a%00b/quarantine",
        "/api/incidents?source=%00",
        "/incidents?signature=x%00",
        "/drains/api%00",
    ],
)
def test_a_nul_in_the_url_is_a_clean_400_on_every_database(client: TestClient, path: str) -> None:
    response = client.get(path, auth=ADMIN)
    assert response.status_code == 400
    assert response.json()["error"] == "bad_request"
