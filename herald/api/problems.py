"""Every error answered as ``application/problem+json`` (RFC 9457), from one place."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from herald.core.database import DATABASE_UNAVAILABLE, PoolTimeout
from herald.core.errors import ProblemError, ServiceUnavailable

__all__ = ["PROBLEM_JSON", "install_problem_handlers", "problem_of", "problem_response"]

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"


def problem_response(
    status: int,
    detail: str,
    *,
    instance: str | None = None,
    headers: dict[str, str] | None = None,
    **extensions: Any,
) -> JSONResponse:
    body = {
        "type": "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "instance": instance,
        **extensions,
    }
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_JSON)


def problem_of(error: ProblemError, instance: str) -> JSONResponse:
    """The answer for a :class:`ProblemError` raised while serving ``instance`` (a path)."""
    return problem_response(
        error.status, error.detail, instance=instance, headers=error.headers, **error.extensions
    )


def field_errors(error: RequestValidationError) -> list[dict[str, Any]]:
    """One entry per invalid field: where it is, its name, and what is wrong with it; a
    field inside an item of a list (``messages[3].recipient``) also names the item's
    ``index``."""
    return [_field_error(item["loc"], str(item["msg"])) for item in error.errors()]


def _field_error(loc: Sequence[str | int], message: str) -> dict[str, Any]:
    location, *path = loc or ("body",)
    entry: dict[str, Any] = {"location": str(location), "field": _field_name(path)}
    index = next((part for part in path if isinstance(part, int)), None)
    if index is not None:
        entry["index"] = index
    return entry | {"message": message.removeprefix("Value error, ")}


def _field_name(path: Sequence[str | int]) -> str:
    """``messages.3.recipient`` written as ``messages[3].recipient``."""
    parts = (f"[{part}]" if isinstance(part, int) else f".{part}" for part in path)
    return "".join(parts).removeprefix(".")


def _describe(errors: list[dict[str, Any]]) -> str:
    return "; ".join(f"{e['field'] or e['location']}: {e['message']}" for e in errors)


def install_problem_handlers(app: FastAPI) -> None:
    async def on_problem(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ProblemError)
        return problem_of(exc, request.url.path)

    async def on_invalid_request(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = field_errors(exc)
        return problem_response(422, _describe(errors), instance=request.url.path, errors=errors)

    async def on_http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, HTTPException)
        return problem_response(
            exc.status_code,
            str(exc.detail),
            instance=request.url.path,
            headers=dict(exc.headers or {}),
        )

    async def on_database_unavailable(request: Request, exc: Exception) -> JSONResponse:
        log.warning(
            "database unavailable",
            extra={"method": request.method, "path": request.url.path, "error": repr(exc)},
        )
        what = (
            "the database is busy (no connection came free in time)"
            if isinstance(exc, PoolTimeout)
            else "the database is unavailable"
        )
        return await on_problem(
            request,
            ServiceUnavailable(
                f"{what}, so the request was not carried out and nothing was stored; try again"
            ),
        )

    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem_response(
            500, "Herald hit an unexpected error; it is logged", instance=request.url.path
        )

    app.add_exception_handler(ProblemError, on_problem)
    app.add_exception_handler(RequestValidationError, on_invalid_request)
    app.add_exception_handler(HTTPException, on_http_error)
    for unavailable in DATABASE_UNAVAILABLE:
        app.add_exception_handler(unavailable, on_database_unavailable)
    app.add_exception_handler(Exception, on_unexpected)
