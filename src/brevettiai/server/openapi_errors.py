"""The error answers every API operation may give, declared in the OpenAPI description.

FastAPI declares only each route's own answer (and a 422). The server also answers 400 (a path
refused), 401/403/404 (access), 409 (a state conflict), 413 (body limits), 422 (validation) and 429
(login throttling) from its middleware and services; clients and fuzzers checking answers against
the description need them there, all as ``{"detail": <message or validation errors>}``.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

ERROR_ANSWERS = {
    "400": "A refused path or value",
    "401": "No, unknown or expired token",
    "403": "The token may not do this",
    "404": "Not found (or not visible to this token)",
    "409": "Conflicts with the current state",
    "413": "The body is larger than this kind of request accepts",
    "414": "The path is deeper or longer than storage accepts",
    "422": "Invalid input: the field and the rule, never the value",
    "429": "Too many failed or concurrent logins: wait Retry-After seconds",
    "507": "The storage is full",
}
_ERROR_SCHEMA: dict[str, Any] = {
    "title": "ErrorAnswer", "type": "object", "required": ["detail"],
    "properties": {"detail": {"anyOf": [
        {"type": "string"},
        {"type": "array", "items": {"type": "object", "required": ["loc", "msg", "type"], "properties": {
            "loc": {"type": "array", "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]}},
            "msg": {"type": "string"}, "type": {"type": "string"}}}},
    ]}},
}
_REF = {"$ref": "#/components/schemas/ErrorAnswer"}


def declare_error_answers(app: FastAPI) -> None:
    """Make `app.openapi()` list `ERROR_ANSWERS` on every operation (each route's own answers kept)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = build()
        schema.setdefault("components", {}).setdefault("schemas", {})["ErrorAnswer"] = _ERROR_SCHEMA
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                answers = operation.setdefault("responses", {})
                for status, description in ERROR_ANSWERS.items():
                    answers[status] = {"description": description, "content": {"application/json": {"schema": _REF}}}
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
