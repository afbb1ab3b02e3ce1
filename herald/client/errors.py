"""The client's exceptions: each problem+json answer of the API as a typed error.

::

    HeraldAPIError               any answer of 400 or more: ``status_code``, ``title``,
                                 ``detail``, ``problem`` (the whole body), ``retry_after``
    ├── BadRequest               400
    ├── Unauthorized             401  no valid key
    ├── Forbidden                403  the key lacks the scope (``detail`` names it)
    ├── NotFound                 404
    ├── Conflict                 409  ``current_status`` when the message's status refused
    ├── PayloadTooLarge          413
    ├── ValidationFailed         422  ``errors``: each invalid field
    ├── RateLimited              429  ``retry_after`` seconds
    └── Unavailable              503  ``retry_after`` seconds

Connection failures are httpx's own exceptions (``httpx.TransportError``).
"""

from __future__ import annotations

from typing import Any, ClassVar

import httpx

__all__ = [
    "BadRequest",
    "Conflict",
    "Forbidden",
    "HeraldAPIError",
    "NotFound",
    "PayloadTooLarge",
    "RateLimited",
    "Unauthorized",
    "Unavailable",
    "ValidationFailed",
    "error_of",
]


class HeraldAPIError(Exception):
    """The API refused the request; ``problem`` is its whole problem+json body."""

    status: ClassVar[int] = 0

    def __init__(self, status: int, problem: dict[str, Any], retry_after: float | None) -> None:
        self.status_code = status
        self.problem = problem
        self.title = str(problem.get("title", ""))
        self.detail = str(problem.get("detail", ""))
        self.retry_after = retry_after
        """Seconds the API asked to wait (``Retry-After``), if it did."""
        super().__init__(f"{status} {self.title}: {self.detail}")


class BadRequest(HeraldAPIError):
    status = 400


class Unauthorized(HeraldAPIError):
    status = 401


class Forbidden(HeraldAPIError):
    status = 403


class NotFound(HeraldAPIError):
    status = 404


class Conflict(HeraldAPIError):
    status = 409

    @property
    def current_status(self) -> str | None:
        """The message's status that refused the action, when that was the conflict."""
        current = self.problem.get("current_status")
        return str(current) if current is not None else None


class PayloadTooLarge(HeraldAPIError):
    status = 413


class ValidationFailed(HeraldAPIError):
    status = 422

    @property
    def errors(self) -> list[dict[str, Any]]:
        """``[{location, field, index?, message}]``, one per invalid field."""
        errors: list[dict[str, Any]] = self.problem.get("errors", [])
        return errors


class RateLimited(HeraldAPIError):
    status = 429


class Unavailable(HeraldAPIError):
    status = 503


_BY_STATUS = {
    error.status: error
    for error in (
        BadRequest,
        Unauthorized,
        Forbidden,
        NotFound,
        Conflict,
        PayloadTooLarge,
        ValidationFailed,
        RateLimited,
        Unavailable,
    )
}


def error_of(response: httpx.Response) -> HeraldAPIError:
    """The error an answer of 400 or more stands for."""
    try:
        problem = response.json()
    except ValueError:
        problem = None
    if not isinstance(problem, dict):
        problem = {"title": response.reason_phrase, "detail": response.text[:500]}
    retry_after = _seconds(response.headers.get("Retry-After"))
    error = _BY_STATUS.get(response.status_code, HeraldAPIError)
    return error(response.status_code, problem, retry_after)


def _seconds(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None
