"""Rate limits per tenant, shared by every API process: token buckets in PostgreSQL.

A tenant submits on average ``rate_limit_per_second`` messages a second (its own, or
``HERALD_RATE_LIMIT_PER_SECOND``) in bursts of up to ``rate_limit_burst``. ``high`` messages
skip that bucket, as an entitlement with a budget of its own: a second bucket per tenant,
``HERALD_RATE_LIMIT_HIGH_PER_SECOND`` / ``_BURST`` (by default ten times the tenant's normal
ones), so marking everything ``high`` does not escape the limit.

A charge is one ``INSERT ... ON CONFLICT DO UPDATE ... WHERE ... RETURNING``, committed on
its own (autocommit): the bucket is refilled for the time since its last charge and spent only if it
holds enough, atomically, whichever API process asks. A request costing more than a bucket's
burst passes only on a full bucket and leaves it in debt (the average holds, and a full batch
can still pass). A request over either limit is refused whole with 429 and ``Retry-After``;
a high-priority charge already taken for it is given back.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import Float, Select, String, bindparam, func, literal, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col

from herald.core.contract import Priority
from herald.core.errors import TooManyRequests
from herald.core.hot_statements import HotStatement
from herald.core.models import MessageCreate, RateBucket, Tenant
from herald.core.settings import Settings

__all__ = ["Bucket", "RateLimits"]

BucketName = Literal["normal", "high"]
HIGH_FACTOR = 10
"""The high bucket's rate and burst, against the normal ones, unless configured."""


@dataclass(frozen=True)
class Bucket:
    name: BucketName
    per_second: float
    burst: int


class RateLimits:
    def __init__(self, engine: AsyncEngine, settings: Settings) -> None:
        # Autocommit: a charge holds its bucket's row lock for its one statement only, not
        # across a COMMIT round trip that waits for a busy event loop (50 concurrent submits
        # of one tenant queued about 35 ms each on that lock before).
        self._engine = engine.execution_options(isolation_level="AUTOCOMMIT")
        self._settings = settings

    def buckets(self, tenant: Tenant) -> tuple[Bucket, Bucket]:
        """The tenant's normal and high buckets."""
        settings = self._settings
        per_second = tenant.rate_limit_per_second or settings.rate_limit_per_second
        burst = tenant.rate_limit_burst or settings.rate_limit_burst
        high = Bucket(
            "high",
            settings.rate_limit_high_per_second or per_second * HIGH_FACTOR,
            settings.rate_limit_high_burst or burst * HIGH_FACTOR,
        )
        return Bucket("normal", per_second, burst), high

    async def charge(self, tenant: Tenant, messages: Iterable[MessageCreate]) -> None:
        """Spend the messages from the tenant's buckets, or raise :class:`TooManyRequests`
        having spent nothing."""
        priorities = [message.priority for message in messages]
        high_cost = priorities.count(Priority.HIGH)
        normal_cost = len(priorities) - high_cost
        normal, high = self.buckets(tenant)
        if high_cost:
            await self._take(tenant, high, high_cost)
        if normal_cost:
            try:
                await self._take(tenant, normal, normal_cost)
            except TooManyRequests:
                if high_cost:
                    await self._give_back(tenant, high, high_cost)
                raise

    async def _take(self, tenant: Tenant, bucket: Bucket, cost: int) -> None:
        values = {
            "tenant_id": tenant.id,
            "bucket": bucket.name,
            "per_second": bucket.per_second,
            "burst": bucket.burst,
            "cost": cost,
            "needed": min(cost, bucket.burst),
        }
        if await _CHARGE.fetch(self._engine, values):
            return
        async with self._engine.connect() as connection:
            tokens = await connection.scalar(_TOKENS, values)
        raise _over_limit(tenant, bucket, cost, float(tokens or 0.0))

    async def _give_back(self, tenant: Tenant, bucket: Bucket, cost: int) -> None:
        async with self._engine.connect() as connection:
            await connection.execute(
                update(RateBucket)
                .where(
                    col(RateBucket.tenant_id) == tenant.id, col(RateBucket.bucket) == bucket.name
                )
                .values(tokens=func.least(bucket.burst, col(RateBucket.tokens) + literal(cost)))
            )


def _charge_statements() -> tuple[HotStatement, Select[float]]:
    """The charge (a submit's hot path, run on the driver), and the tokens a refused one
    found, built once: the tenant, the bucket and its shape are bound at each execution."""
    tenant_id, name = bindparam("tenant_id", type_=String), bindparam("bucket", type_=String)
    per_second, burst = bindparam("per_second", type_=Float), bindparam("burst", type_=Float)
    cost, needed = bindparam("cost", type_=Float), bindparam("needed", type_=Float)
    now = func.statement_timestamp()
    refilled = func.least(
        burst,
        col(RateBucket.tokens)
        + per_second * func.extract("epoch", now - col(RateBucket.updated_at)),
    )
    charge = (
        insert(RateBucket)
        .values(tenant_id=tenant_id, bucket=name, tokens=burst - cost, updated_at=now)
        .on_conflict_do_update(
            index_elements=[col(RateBucket.tenant_id), col(RateBucket.bucket)],
            set_={"tokens": refilled - cost, "updated_at": now},
            where=refilled >= needed,
        )
        .returning(col(RateBucket.tokens))
    )
    tokens: Select[float] = select(refilled).where(
        col(RateBucket.tenant_id) == tenant_id, col(RateBucket.bucket) == name
    )
    return HotStatement(charge), tokens


_CHARGE, _TOKENS = _charge_statements()


def _over_limit(tenant: Tenant, bucket: Bucket, cost: int, tokens: float) -> TooManyRequests:
    retry_after = max(1, math.ceil((min(cost, bucket.burst) - tokens) / bucket.per_second))
    which = "high-priority " if bucket.name == "high" else ""
    settings = (
        "HERALD_RATE_LIMIT_HIGH_PER_SECOND, _BURST"
        if bucket.name == "high"
        else ("the tenant's rate_limit_per_second and rate_limit_burst, or HERALD_RATE_LIMIT_*")
    )
    return TooManyRequests(
        f"tenant {tenant.id!r} is over its {which}rate limit of {bucket.per_second:g} messages "
        f"a second with bursts of {bucket.burst} ({settings}); this request counts {cost}; "
        f"nothing was stored, retry in {retry_after} s",
        retry_after=retry_after,
    )
