"""The OpenAPI document and the router come from one table: check they agree."""

from __future__ import annotations

from aiohttp import web
from parley.http import dashboard
from parley.http.app import create_app
from parley.http.openapi import document
from parley.http.routes import ROUTES
from testkit.api import bearer


def served(app: web.Application) -> set[tuple[str, str]]:
    """(method, path template) of every route the router serves, static files aside."""
    found = set()
    for route in app.router.routes():
        resource = route.resource
        assert resource is not None
        if resource.canonical == dashboard.STATIC_PREFIX:
            continue
        found.add((route.method, resource.canonical))
    return found


def documented(doc: dict) -> set[tuple[str, str]]:
    return {(method.upper(), path) for path, ops in doc["paths"].items() for method in ops}


def test_every_served_route_is_documented_and_every_documented_route_is_served(config):
    app = create_app(config)
    assert served(app) == documented(document(ROUTES))
    assert len(served(app)) == len(ROUTES)


def test_each_operation_documents_its_parameters_and_answers():
    doc = document(ROUTES)
    assert doc["openapi"].startswith("3.")
    for route in ROUTES:
        operation = doc["paths"][route.path][route.method.lower()]
        names = {p["name"] for p in operation["parameters"]}
        assert names == {s.name for s in (*route.path_params, *route.query)}
        statuses = set(operation["responses"])
        assert {"400", "429"} <= statuses
        assert ("401" in statuses) != route.public
        assert (operation.get("security") == []) == route.public
        assert ("requestBody" in operation) == (route.body is not None)


def test_the_documented_query_checks_are_the_ones_enforced():
    doc = document(ROUTES)
    parameters = {p["name"]: p for p in doc["paths"]["/api/v1/threads"]["get"]["parameters"]}
    assert parameters["state"]["schema"]["enum"] == ["active", "idle", "archived"]
    assert parameters["limit"]["schema"] == {
        "type": "integer",
        "minimum": 1,
        "maximum": 200,
        "default": 50,
        "description": "how many items a page holds",
    }
    body = doc["paths"]["/api/v1/contacts/{contact_id}"]["patch"]["requestBody"]
    schema = body["content"]["application/json"]["schema"]
    assert schema["additionalProperties"] is False
    assert schema["properties"]["priority"] == {"type": "integer", "minimum": 0, "maximum": 10}


async def test_the_document_is_served_to_operators(client):
    assert (await client.get("/api/v1/openapi.json")).status == 401
    response = await client.get("/api/v1/openapi.json", headers=bearer())
    assert await response.json() == document(ROUTES)


def largest(spec) -> object:
    """The largest JSON value a spec accepts, every character an escaped astral one."""
    if spec.kind == "strings":
        return ["\U0001f600" * spec.max_length] * spec.max_items
    if spec.kind == "object":
        return {field.name: largest(field) for field in spec.fields}
    if spec.kind == "integer":
        return spec.maximum
    if spec.kind == "enum":
        return max(spec.enum, key=len)
    return "\U0001f600" * spec.max_length


def test_the_largest_valid_body_fits_under_the_body_limit():
    import json

    from parley.http.config import ApiSettings

    for route in ROUTES:
        if route.body is None:
            continue
        body = {spec.name: largest(spec) for spec in route.body.fields}
        size = len(json.dumps(body, ensure_ascii=True).encode())
        assert size < ApiSettings().max_body_bytes, (route.operation_id, size)
