"""The OpenAPI 3.0 document, written from the route table the router serves."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from parley.http import schemas
from parley.http.routing import Route
from parley.http.validation import object_schema

TITLE = "Parley"
VERSION = "1"

ERROR_DESCRIPTIONS = {
    400: "a parameter or the body is not valid",
    401: "no valid bearer token",
    404: "no such thing",
    409: "the command does not apply to the thing's current state",
    413: "the body is too large",
    415: "the body is not application/json",
    429: "too many requests: wait for Retry-After seconds",
    503: "the database does not answer",
}


def _content(content_type: str, schema: dict[str, Any] | None) -> dict[str, Any]:
    if content_type == "application/json":
        return {content_type: {"schema": schema or {"type": "object"}}}
    return {content_type: {"schema": {"type": "string"}}}


def _responses(route: Route) -> dict[str, Any]:
    answer = route.answer
    responses: dict[str, Any] = {}
    for status in route.statuses():
        if status == answer.status or status in answer.also:
            response = {
                "description": answer.description,
                "content": _content(answer.content_type, answer.schema),
            }
        else:
            response = {
                "description": ERROR_DESCRIPTIONS[status],
                "content": _content("application/json", schemas.ERROR),
            }
            if status == 429:
                response["headers"] = {
                    "Retry-After": {
                        "description": "seconds to wait",
                        "schema": {"type": "integer", "minimum": 1},
                    }
                }
        responses[str(status)] = response
    return responses


def operation(route: Route) -> dict[str, Any]:
    parameters = [
        {
            "name": spec.name,
            "in": spec.location,
            "required": spec.required or spec.location == "path",
            "description": spec.description,
            "schema": spec.schema(),
        }
        for spec in (*route.path_params, *route.query)
    ]
    out: dict[str, Any] = {
        "operationId": route.operation_id,
        "summary": route.summary,
        "tags": [route.tag],
        "parameters": parameters,
        "responses": _responses(route),
    }
    if route.description:
        out["description"] = route.description
    if route.body is not None:
        out["requestBody"] = {
            "required": True,
            "description": route.body.description,
            "content": {"application/json": {"schema": object_schema(route.body.fields)}},
        }
    if route.public:
        out["security"] = []
    return out


def document(routes: Sequence[Route]) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        paths.setdefault(route.path, {})[route.method.lower()] = operation(route)
    return {
        "openapi": "3.0.3",
        "info": {
            "title": TITLE,
            "version": VERSION,
            "description": (
                "Parley's read models and operator commands. Every route but health and "
                "the dashboard page needs `Authorization: Bearer <token>`."
            ),
        },
        "paths": paths,
        "components": {"securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}}},
        "security": [{"bearerAuth": []}],
    }
