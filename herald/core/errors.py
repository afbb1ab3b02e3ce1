"""Herald's exception hierarchy, in one place.

::

    HeraldError
    ├── DeliveryError                 a provider refused or could not take a message
    │   ├── TransientDeliveryError    timeouts, connection errors, 408, 425, 5xx: retry with backoff
    │   ├── RecoverableDeliveryError  429 with Retry-After: wait as long as told, spend nothing
    │   │   └── CircuitOpen           the provider's circuit breaker holds the request back
    │   └── PermanentDeliveryError    other 4xx: dead-letter at once
    └── ProblemError                  an API answer in application/problem+json (RFC 9457)
        ├── Unauthorized              401
        ├── Forbidden                 403
        ├── NotFound                  404
        ├── Conflict                  409
        ├── PayloadTooLarge           413
        ├── TooManyRequests           429, with Retry-After
        └── ServiceUnavailable        503, with Retry-After

Activities turn a ``DeliveryError`` into a Temporal ``ApplicationError`` whose ``type`` is the
class name, so workflows and the retry policy classify failures by name.
"""

from __future__ import annotations

from typing import Any, ClassVar

from herald.core.contract import FailureClass

__all__ = [
    "CircuitOpen",
    "Conflict",
    "DeliveryError",
    "Forbidden",
    "HeraldError",
    "NotFound",
    "PayloadTooLarge",
    "PermanentDeliveryError",
    "ProblemError",
    "RecoverableDeliveryError",
    "ServiceUnavailable",
    "TooManyRequests",
    "TransientDeliveryError",
    "Unauthorized",
]


class HeraldError(Exception):
    """Base of every error Herald raises on purpose."""


class DeliveryError(HeraldError):
    failure_class: ClassVar[FailureClass]

    def __init__(self, reason: str, *, http_status: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.http_status = http_status
        """The provider's answer, when it gave one."""


class TransientDeliveryError(DeliveryError):
    failure_class = FailureClass.TRANSIENT


class RecoverableDeliveryError(DeliveryError):
    """Come back after ``retry_after_seconds``; waiting spends no retry budget."""

    failure_class = FailureClass.RECOVERABLE

    def __init__(
        self, reason: str, *, retry_after_seconds: float, http_status: int | None = None
    ) -> None:
        super().__init__(reason, http_status=http_status)
        self.retry_after_seconds = retry_after_seconds


class CircuitOpen(RecoverableDeliveryError):
    """The provider's breaker is open (or its one probe is in flight): nothing was sent.

    ``retry_after_seconds`` is the time until the breaker may let a request through.
    """

    def __init__(self, provider: str, *, retry_after_seconds: float) -> None:
        super().__init__(
            f"circuit breaker of provider {provider!r} is open; "
            f"retry in {retry_after_seconds:.1f}s",
            retry_after_seconds=retry_after_seconds,
        )
        self.provider = provider


class PermanentDeliveryError(DeliveryError):
    failure_class = FailureClass.PERMANENT


class ProblemError(HeraldError):
    """An error the API answers as problem+json; ``detail`` tells the caller what to do."""

    status: ClassVar[int] = 500
    title: ClassVar[str] = "Internal Server Error"

    def __init__(
        self,
        detail: str,
        *,
        headers: dict[str, str] | None = None,
        extensions: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.headers = headers or {}
        self.extensions = extensions or {}


class Unauthorized(ProblemError):
    status = 401
    title = "Unauthorized"

    def __init__(self, detail: str) -> None:
        super().__init__(detail, headers={"WWW-Authenticate": "Bearer"})


class Forbidden(ProblemError):
    """The key is valid but lacks the scope the route needs (named in ``detail``)."""

    status = 403
    title = "Forbidden"


class NotFound(ProblemError):
    status = 404
    title = "Not Found"


class Conflict(ProblemError):
    status = 409
    title = "Conflict"


class PayloadTooLarge(ProblemError):
    status = 413
    title = "Content Too Large"


class TooManyRequests(ProblemError):
    """Over a rate limit; ``Retry-After`` is the whole seconds until the request can pass."""

    status = 429
    title = "Too Many Requests"

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail, headers={"Retry-After": str(retry_after)})


class ServiceUnavailable(ProblemError):
    """A dependency (PostgreSQL, Temporal) is not answering; always says when to retry."""

    status = 503
    title = "Service Unavailable"
    retry_after_seconds: ClassVar[int] = 5

    def __init__(self, detail: str, *, extensions: dict[str, Any] | None = None) -> None:
        super().__init__(
            detail,
            headers={"Retry-After": str(self.retry_after_seconds)},
            extensions=extensions,
        )
