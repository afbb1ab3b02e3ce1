"""Requests as data: what each API operation sends and how its answer is read, shared by the
blocking and the asyncio client (each only sends them).

An operation is a function that returns a :class:`Call`; :func:`blocking` and
:func:`asynchronous` turn it into a method of a client, typed with the operation's own
parameters.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Concatenate, Generic, ParamSpec, Protocol, TypeVar

import httpx
from pydantic import TypeAdapter

from herald.client.errors import HeraldAPIError, RateLimited, Unavailable

__all__ = ["Call", "RetryPolicy", "asynchronous", "blocking", "read", "retry_wait"]

P = ParamSpec("P")
R = TypeVar("R")


@dataclass(frozen=True)
class Call(Generic[R]):
    """One request and the reading of its answer."""

    method: str
    path: str
    answer: Callable[[httpx.Response], R]
    params: dict[str, Any] = field(default_factory=dict)
    json: Any = None
    headers: dict[str, str] = field(default_factory=dict)

    def request(self, client: httpx.Client | httpx.AsyncClient) -> httpx.Request:
        params = {name: value for name, value in self.params.items() if value is not None}
        return client.build_request(
            self.method, self.path, params=params, json=self.json, headers=self.headers
        )


def read(shape: Any) -> Callable[[httpx.Response], Any]:
    """Read an answer's JSON as ``shape`` (a model, or ``list[Model]``); ``None`` reads
    nothing (a ``204``)."""
    if shape is None:
        return lambda _response: None
    adapter: TypeAdapter[Any] = TypeAdapter(shape)
    return lambda response: adapter.validate_json(response.content)


@dataclass(frozen=True)
class RetryPolicy:
    """A ``429`` or ``503`` (nothing was stored or changed) is sent again, after the
    ``Retry-After`` the API gave (or a doubling wait), up to ``max_attempts`` in all."""

    max_attempts: int = 4
    max_wait_seconds: float = 30.0


def retry_wait(error: HeraldAPIError, attempt: int, policy: RetryPolicy) -> float | None:
    """Seconds to wait before sending again after attempt ``attempt`` (from 1) failed with
    ``error``; ``None`` to give up and raise it."""
    if not isinstance(error, RateLimited | Unavailable) or attempt >= policy.max_attempts:
        return None
    wait = error.retry_after if error.retry_after is not None else 0.5 * 2**attempt
    return min(wait, policy.max_wait_seconds)


class Runs(Protocol):
    def run(self, call: Call[R], /) -> R: ...


class RunsAsync(Protocol):
    def run(self, call: Call[R], /) -> Awaitable[R]: ...


def blocking(operation: Callable[P, Call[R]]) -> Callable[Concatenate[Runs, P], R]:
    """The operation as a method of a blocking client."""

    def method(self: Runs, /, *args: P.args, **kwargs: P.kwargs) -> R:
        return self.run(operation(*args, **kwargs))

    method.__doc__ = operation.__doc__
    return method


def asynchronous(
    operation: Callable[P, Call[R]],
) -> Callable[Concatenate[RunsAsync, P], Awaitable[R]]:
    """The operation as a coroutine method of an asyncio client."""

    async def method(self: RunsAsync, /, *args: P.args, **kwargs: P.kwargs) -> R:
        return await self.run(operation(*args, **kwargs))

    method.__doc__ = operation.__doc__
    return method
