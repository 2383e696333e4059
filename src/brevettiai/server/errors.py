"""Errors the server's services raise; the app turns them into ``{"detail": ...}`` answers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from starlette.responses import JSONResponse

from brevettiai.errors import ServerError


class ApiError(ServerError):
    """A refused request: an HTTP status and the detail to send (a message, or a list of validation errors)."""

    def __init__(self, status: int, detail: str | list[dict[str, Any]], headers: dict[str, str] | None = None) -> None:
        super().__init__(detail if isinstance(detail, str) else f"{len(detail)} validation errors")
        self.status = status
        self.detail = detail
        self.headers = headers


def not_found(what: str, ident: str) -> ApiError:
    """404 naming the kind of record and the id asked for."""
    return ApiError(404, f"{what} '{ident}' not found")


def invalid(loc: list[Any], msg: str, kind: str = "value_error") -> ApiError:
    """422 for a single invalid value at `loc`."""
    return ApiError(422, [{"loc": loc, "msg": msg, "type": kind}])


def validation_errors(errors: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """FastAPI/pydantic validation errors as ``{"loc", "msg", "type"}``: the field path and the rule, never
    the input (which may be megabytes, or a secret)."""
    items = []
    for error in errors:
        message = str(error.get("msg", ""))
        reason = (error.get("ctx") or {}).get("error") if error.get("type") == "json_invalid" else None
        if isinstance(reason, str):
            message = f"{message}: {reason}"
        items.append({"loc": list(error.get("loc", ())), "msg": message, "type": str(error.get("type", ""))})
    return items


def error_response(exc: ApiError) -> JSONResponse:
    """The ``{"detail": ...}`` answer of a refused request."""
    return JSONResponse({"detail": exc.detail}, status_code=exc.status, headers=exc.headers)
