"""Who may call ``/v1``: the one check of an ``Authorization`` header, to a :class:`Principal`.

The request gate (:mod:`herald.api.gate`) runs it before a byte of the body is read and
keeps the principal in the request's state for the routes. A key of ``HERALD_API_KEYS`` is a
bootstrap ``admin`` key of the tenant ``default`` (compared in constant time, no database);
any other key is looked up by its hash. Each API process remembers a lookup's answer for
``HERALD_API_KEY_CACHE_SECONDS``, so a revoked key stops working on every replica within
that time, while a busy key costs no query per request.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from starlette.applications import Starlette

from herald.core.database import DATABASE_UNAVAILABLE, SessionFactory
from herald.core.errors import ServiceUnavailable, Unauthorized
from herald.operations.keys import Principal, bootstrap_principal, find_active_key, hash_key

__all__ = ["ApiKeyVerifier", "api_key_verifier", "bearer_token"]

MISSING_KEY = "send your API key as `Authorization: Bearer <key>`"
UNKNOWN_KEY = "the API key is not one of this service's keys, or it was revoked"
CACHE_LIMIT = 10_000
"""Lookups remembered at most; beyond it the expired ones are dropped, then all."""


@dataclass(frozen=True)
class _Remembered:
    principal: Principal | None
    until: float


class ApiKeyVerifier:
    def __init__(
        self,
        bootstrap_keys: Iterable[str],
        sessions: SessionFactory,
        cache_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._bootstrap = [key.encode() for key in bootstrap_keys]
        self._sessions = sessions
        self._cache_seconds = cache_seconds
        self._clock = clock
        self._remembered: dict[str, _Remembered] = {}

    async def verify(self, authorization: str | None) -> Principal:
        """The caller behind an ``Authorization`` header value; :class:`Unauthorized` when it
        is missing, not ``Bearer``, unknown or revoked."""
        token = bearer_token(authorization)
        if token is None:
            raise Unauthorized(MISSING_KEY)
        presented = token.encode()
        if any(secrets.compare_digest(presented, key) for key in self._bootstrap):
            return bootstrap_principal(token)
        principal = await self._lookup(hash_key(token), token)
        if principal is None:
            raise Unauthorized(UNKNOWN_KEY)
        return principal

    async def _lookup(self, hashed: str, token: str) -> Principal | None:
        now = self._clock()
        remembered = self._remembered.get(hashed)
        if remembered is not None and remembered.until > now:
            return remembered.principal
        try:
            async with self._sessions() as session:
                key = await find_active_key(session, token)
        except DATABASE_UNAVAILABLE as err:
            raise ServiceUnavailable(
                "the database is unavailable, so the API key cannot be checked; try again"
            ) from err
        principal = Principal.of(key) if key is not None else None
        self._remember(hashed, _Remembered(principal, now + self._cache_seconds), now)
        return principal

    def _remember(self, hashed: str, remembered: _Remembered, now: float) -> None:
        if len(self._remembered) >= CACHE_LIMIT:
            self._remembered = {h: r for h, r in self._remembered.items() if r.until > now}
            if len(self._remembered) >= CACHE_LIMIT:
                self._remembered.clear()
        self._remembered[hashed] = remembered


def bearer_token(authorization: str | None) -> str | None:
    scheme, _, token = (authorization or "").partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def api_key_verifier(app: Starlette) -> ApiKeyVerifier:
    verifier: ApiKeyVerifier = app.state.api_key_verifier
    return verifier
