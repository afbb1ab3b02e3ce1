"""Rate limiting of message submission: a token bucket per API key.

Each key may submit ``HERALD_RATE_LIMIT_PER_SECOND`` messages a second on average and up to
``HERALD_RATE_LIMIT_BURST`` at once. A batch counts as its number of messages. ``high``
messages bypass the bucket entirely: they are never refused and spend nothing, so a batch
counts only its other messages. A request over the limit is refused whole (nothing stored)
with 429 and ``Retry-After``.

A request costing more than the burst (a batch bigger than ``HERALD_RATE_LIMIT_BURST``) passes
only with a full bucket and leaves it in debt, to be refilled before the key submits again:
the average rate holds, and a batch up to ``HERALD_BATCH_SIZE_LIMIT`` can still pass.

The buckets live in the API process (one :class:`RateLimiter` per app, held in
``app.state``): with N API replicas a key may submit N times the limit.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from herald.api.deps import require_api_key
from herald.core.contract import Priority
from herald.core.errors import TooManyRequests
from herald.core.models import MessageCreate
from herald.core.settings import Settings

__all__ = ["Clock", "Quota", "QuotaDep", "RateLimiter", "TokenBucket"]

Clock = Callable[[], float]
"""Seconds on a monotonic clock."""


@dataclass
class TokenBucket:
    """``capacity`` tokens at most, refilled at ``rate`` tokens a second."""

    rate: float
    capacity: float
    tokens: float
    updated_at: float
    """The clock reading ``tokens`` was counted at."""

    @classmethod
    def full(cls, rate: float, capacity: float, now: float) -> TokenBucket:
        return cls(rate, capacity, capacity, now)

    def take(self, cost: float, now: float) -> float:
        """Spend ``cost`` tokens and answer 0 if the bucket holds enough; otherwise spend
        nothing and answer the seconds until it will.

        A ``cost`` above the capacity needs a full bucket and leaves it below zero.
        """
        self.tokens = min(self.capacity, self.tokens + (now - self.updated_at) * self.rate)
        self.updated_at = now
        needed = min(cost, self.capacity)
        if self.tokens < needed:
            return (needed - self.tokens) / self.rate
        self.tokens -= cost
        return 0.0


class RateLimiter:
    """A token bucket per API key, created full on the key's first request."""

    def __init__(self, per_second: float, burst: int, clock: Clock = time.monotonic) -> None:
        self.per_second = per_second
        self.burst = burst
        self._clock = clock
        self._buckets: dict[str, TokenBucket] = {}

    @classmethod
    def from_settings(cls, settings: Settings) -> RateLimiter:
        return cls(settings.rate_limit_per_second, settings.rate_limit_burst)

    def charge(self, api_key: str, cost: int) -> None:
        """Spend ``cost`` messages of ``api_key``'s budget, or raise :class:`TooManyRequests`
        (spending nothing) when the key is over its limit. A cost of 0 always passes."""
        if cost == 0:
            return
        now = self._clock()
        bucket = self._buckets.setdefault(
            api_key, TokenBucket.full(self.per_second, self.burst, now)
        )
        wait = bucket.take(cost, now)
        if wait > 0:
            retry_after = math.ceil(wait)
            raise TooManyRequests(
                f"this API key is over its rate limit of {self.per_second:g} messages a second "
                f"with bursts of {self.burst} (HERALD_RATE_LIMIT_PER_SECOND, "
                f"HERALD_RATE_LIMIT_BURST); this request counts {cost} (high-priority messages "
                f"do not count); retry in {retry_after} s",
                retry_after=retry_after,
            )


@dataclass(frozen=True)
class Quota:
    """The calling API key's budget, as the submit routes declare it."""

    limiter: RateLimiter
    api_key: str

    def spend(self, messages: Iterable[MessageCreate]) -> None:
        """Charge the validated ``messages`` other than ``high`` ones; 429 when over."""
        cost = sum(message.priority is not Priority.HIGH for message in messages)
        self.limiter.charge(self.api_key, cost)


def get_quota(request: Request, api_key: Annotated[str, Depends(require_api_key)]) -> Quota:
    limiter: RateLimiter = request.app.state.rate_limiter
    return Quota(limiter, api_key)


QuotaDep = Annotated[Quota, Depends(get_quota)]
