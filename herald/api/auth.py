"""Who may call ``/v1``: the one check of an ``Authorization`` header.

The request gate (:mod:`herald.api.gate`) runs it before a byte of the body is read, and the
``require_api_key`` dependency runs it to hand the key to the routes; both find the verifier
in ``app.state``, so replacing it there (per-tenant keys from the database) changes both.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable

from starlette.applications import Starlette

from herald.core.errors import Unauthorized

__all__ = ["ApiKeyVerifier", "api_key_verifier"]

MISSING_KEY = "send your API key as `Authorization: Bearer <key>`"
UNKNOWN_KEY = "the API key is not one of this service's keys"


class ApiKeyVerifier:
    """Accepts the bearer tokens of ``HERALD_API_KEYS``, compared in constant time."""

    def __init__(self, keys: Iterable[str]) -> None:
        self._keys = [key.encode() for key in keys]

    async def verify(self, authorization: str | None) -> str:
        """The caller's API key from an ``Authorization`` header value; raises
        :class:`Unauthorized` when it is missing, not ``Bearer``, or not a known key."""
        token = _bearer_token(authorization)
        if token is None:
            raise Unauthorized(MISSING_KEY)
        presented = token.encode()
        if not any(secrets.compare_digest(presented, key) for key in self._keys):
            raise Unauthorized(UNKNOWN_KEY)
        return token


def _bearer_token(authorization: str | None) -> str | None:
    scheme, _, token = (authorization or "").partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def api_key_verifier(app: Starlette) -> ApiKeyVerifier:
    verifier: ApiKeyVerifier = app.state.api_key_verifier
    return verifier
