"""A Python client of Herald's API: blocking (:class:`HeraldClient`) and asyncio
(:class:`AsyncHeraldClient`), typed answers, problem+json answers as exceptions
(:mod:`herald.client.errors`), an ``Idempotency-Key`` on every submit, retries that honour
``Retry-After`` on ``429`` and ``503``, iterators over every page of a listing, and
:func:`verify_webhook` for the receiving end of Herald's outcome webhooks."""

from herald.client.calls import RetryPolicy
from herald.client.clients import AsyncHeraldClient, HeraldClient
from herald.client.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    HeraldAPIError,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    Unauthorized,
    Unavailable,
    ValidationFailed,
)
from herald.client.webhooks import InvalidSignature, verify_webhook

__all__ = [
    "AsyncHeraldClient",
    "BadRequest",
    "Conflict",
    "Forbidden",
    "HeraldAPIError",
    "HeraldClient",
    "InvalidSignature",
    "NotFound",
    "PayloadTooLarge",
    "RateLimited",
    "RetryPolicy",
    "Unauthorized",
    "Unavailable",
    "ValidationFailed",
    "verify_webhook",
]
