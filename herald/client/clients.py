"""``HeraldClient`` (blocking) and ``AsyncHeraldClient`` (asyncio): the same operations
(:mod:`herald.client.operations`), the same retries, the same errors.

::

    with HeraldClient("http://127.0.0.1:8000", key) as herald:
        message = herald.send("+14155550123", "Your code is 1234", priority="high")
        for dead in herald.iter_dead_letters():
            herald.requeue(dead.id)
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator
from types import TracebackType
from typing import Any, Self, TypeVar

import httpx

from herald.api.schemas import MessagePage, SuppressionPage
from herald.client import operations as api
from herald.client.calls import Call, RetryPolicy, asynchronous, blocking, retry_wait
from herald.client.errors import error_of
from herald.core.models import MessagePublic, SuppressionPublic

__all__ = ["AsyncHeraldClient", "HeraldClient"]

R = TypeVar("R")
Item = TypeVar("Item")
PAGE_SIZE = 200
DEFAULT_TIMEOUT = 30.0


def _headers(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}", "User-Agent": "herald-client"}


class HeraldClient:
    """A blocking client of Herald's API; use it as a context manager (or ``close()``)."""

    def __init__(
        self,
        base_url: str,
        key: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        retries: RetryPolicy | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._http = httpx.Client(
            base_url=base_url, headers=_headers(key), timeout=timeout, transport=transport
        )
        self._retries = retries or RetryPolicy()

    def run(self, call: Call[R], /) -> R:
        """Send the call (again after a 429 or 503, as the API asks) and read its answer."""
        attempt = 1
        while True:
            response = self._http.send(call.request(self._http))
            if response.status_code < 400:
                return call.answer(response)
            error = error_of(response)
            wait = retry_wait(error, attempt, self._retries)
            if wait is None:
                raise error
            time.sleep(wait)
            attempt += 1

    send = blocking(api.send)
    send_batch = blocking(api.send_batch)
    get_message = blocking(api.get_message)
    messages_page = blocking(api.messages_page)
    attempts = blocking(api.attempts)
    cancel = blocking(api.cancel)
    cancel_many = blocking(api.cancel_many)
    change_priority = blocking(api.change_priority)
    acknowledge = blocking(api.acknowledge)
    dead_letters_page = blocking(api.dead_letters_page)
    requeue = blocking(api.requeue)
    requeue_many = blocking(api.requeue_many)
    discard = blocking(api.discard)
    list_webhooks = blocking(api.list_webhooks)
    create_webhook = blocking(api.create_webhook)
    get_webhook = blocking(api.get_webhook)
    delete_webhook = blocking(api.delete_webhook)
    suppress = blocking(api.suppress)
    lift_suppression = blocking(api.lift_suppression)
    suppressions_page = blocking(api.suppressions_page)
    metrics = blocking(api.metrics)

    def iter_messages(
        self, *, page_size: int = PAGE_SIZE, **filters: Any
    ) -> Iterator[MessagePublic]:
        """Every message the filters (``status``, ``recipient``, ...) match, page by page."""
        return self._iterate(
            lambda page: api.messages_page(page, page_size, **filters), page_size, _message_items
        )

    def iter_dead_letters(
        self, *, page_size: int = PAGE_SIZE, **filters: Any
    ) -> Iterator[MessagePublic]:
        return self._iterate(
            lambda page: api.dead_letters_page(page, page_size, **filters),
            page_size,
            _message_items,
        )

    def iter_suppressions(
        self, *, page_size: int = PAGE_SIZE, **filters: Any
    ) -> Iterator[SuppressionPublic]:
        return self._iterate(
            lambda page: api.suppressions_page(page, page_size, **filters),
            page_size,
            _suppression_items,
        )

    def _iterate(
        self,
        fetch: Callable[[int], Call[Any]],
        page_size: int,
        items: Callable[[Any], list[Item]],
    ) -> Iterator[Item]:
        page = 1
        while True:
            found = items(self.run(fetch(page)))
            yield from found
            if len(found) < page_size:
                return
            page += 1

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class AsyncHeraldClient:
    """An asyncio client of Herald's API; use it as an async context manager (or
    ``await aclose()``)."""

    def __init__(
        self,
        base_url: str,
        key: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        retries: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._http = httpx.AsyncClient(
            base_url=base_url, headers=_headers(key), timeout=timeout, transport=transport
        )
        self._retries = retries or RetryPolicy()

    async def run(self, call: Call[R], /) -> R:
        """Send the call (again after a 429 or 503, as the API asks) and read its answer."""
        attempt = 1
        while True:
            response = await self._http.send(call.request(self._http))
            if response.status_code < 400:
                return call.answer(response)
            error = error_of(response)
            wait = retry_wait(error, attempt, self._retries)
            if wait is None:
                raise error
            await asyncio.sleep(wait)
            attempt += 1

    send = asynchronous(api.send)
    send_batch = asynchronous(api.send_batch)
    get_message = asynchronous(api.get_message)
    messages_page = asynchronous(api.messages_page)
    attempts = asynchronous(api.attempts)
    cancel = asynchronous(api.cancel)
    cancel_many = asynchronous(api.cancel_many)
    change_priority = asynchronous(api.change_priority)
    acknowledge = asynchronous(api.acknowledge)
    dead_letters_page = asynchronous(api.dead_letters_page)
    requeue = asynchronous(api.requeue)
    requeue_many = asynchronous(api.requeue_many)
    discard = asynchronous(api.discard)
    list_webhooks = asynchronous(api.list_webhooks)
    create_webhook = asynchronous(api.create_webhook)
    get_webhook = asynchronous(api.get_webhook)
    delete_webhook = asynchronous(api.delete_webhook)
    suppress = asynchronous(api.suppress)
    lift_suppression = asynchronous(api.lift_suppression)
    suppressions_page = asynchronous(api.suppressions_page)
    metrics = asynchronous(api.metrics)

    def iter_messages(
        self, *, page_size: int = PAGE_SIZE, **filters: Any
    ) -> AsyncIterator[MessagePublic]:
        return self._iterate(
            lambda page: api.messages_page(page, page_size, **filters), page_size, _message_items
        )

    def iter_dead_letters(
        self, *, page_size: int = PAGE_SIZE, **filters: Any
    ) -> AsyncIterator[MessagePublic]:
        return self._iterate(
            lambda page: api.dead_letters_page(page, page_size, **filters),
            page_size,
            _message_items,
        )

    def iter_suppressions(
        self, *, page_size: int = PAGE_SIZE, **filters: Any
    ) -> AsyncIterator[SuppressionPublic]:
        return self._iterate(
            lambda page: api.suppressions_page(page, page_size, **filters),
            page_size,
            _suppression_items,
        )

    async def _iterate(
        self,
        fetch: Callable[[int], Call[Any]],
        page_size: int,
        items: Callable[[Any], list[Item]],
    ) -> AsyncIterator[Item]:
        page = 1
        while True:
            found = items(await self.run(fetch(page)))
            for item in found:
                yield item
            if len(found) < page_size:
                return
            page += 1

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


def _message_items(page: MessagePage) -> list[MessagePublic]:
    return page.items


def _suppression_items(page: SuppressionPage) -> list[SuppressionPublic]:
    return page.items
