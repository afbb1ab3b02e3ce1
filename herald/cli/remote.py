"""``herald messages``, ``herald dead-letters`` and ``herald webhooks``: everyday operations
over the API, through :mod:`herald.client`.

The API is ``--url`` (or ``HERALD_API_URL``, else ``http://HERALD_API_HOST:HERALD_API_PORT``)
and the key ``--key`` (or ``HERALD_API_KEY``, else the first of ``HERALD_API_KEYS``, else
the key ``herald dev`` keeps in ``HERALD_DATA_DIR/dev-api-key``).
"""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any

import httpx
from pydantic import BaseModel

from herald.cli.output import Subcommands, add_group, add_json_flag, show
from herald.client import AsyncHeraldClient, HeraldAPIError
from herald.core.contract import FailureClass, MessageStatus, Priority
from herald.core.outcomes import OutcomeEvent
from herald.core.settings import Settings

__all__ = ["add_commands"]

Action = Callable[[AsyncHeraldClient, argparse.Namespace], Awaitable[Any]]
MESSAGE = ["id", "recipient", "priority", "status", "retry_count", "failure_reason", "created_at"]
RESULT = ["id", "outcome", "status"]
ENDPOINT = ["id", "url", "events", "description", "created_at"]


def add_commands(commands: Subcommands) -> None:
    messages = add_group(commands, "messages", "send, read, list and cancel messages")
    send = _action(messages, "send", "submit a message", _send, MESSAGE)
    send.add_argument("recipient", help="E.164, e.g. +14155550123")
    send.add_argument("content")
    send.add_argument("--priority", choices=[p.value for p in Priority])
    send.add_argument("--ordering", choices=["best_effort", "strict"])
    send.add_argument("--send-at", type=datetime.fromisoformat, help="RFC 3339, with offset")
    send.add_argument("--metadata", action="append", default=[], help="key=value; repeat")
    send.add_argument("--idempotency-key")
    get = _action(messages, "get", "show a message", _get, MESSAGE)
    get.add_argument("message_id")
    listing = _action(messages, "list", "list messages, newest first", _list, MESSAGE)
    listing.add_argument("--status", choices=[s.value for s in MessageStatus])
    listing.add_argument("--recipient")
    listing.add_argument("--priority", choices=[p.value for p in Priority])
    _limit(listing)
    cancel = _action(messages, "cancel", "cancel messages not sent yet", _cancel, RESULT)
    cancel.add_argument("message_ids", nargs="+")

    dead = add_group(commands, "dead-letters", "list, requeue and discard dead letters")
    listing = _action(dead, "list", "list dead letters, newest first", _dead_letters, MESSAGE)
    listing.add_argument("--failure-class", choices=[c.value for c in FailureClass])
    listing.add_argument("--recipient")
    _limit(listing)
    requeue = _action(dead, "requeue", "deliver dead letters again", _requeue, RESULT)
    requeue.add_argument("message_ids", nargs="+")
    discard = _action(dead, "discard", "discard a dead letter", _discard, RESULT)
    discard.add_argument("message_id")

    hooks = add_group(commands, "webhooks", "manage outcome webhook endpoints")
    _action(hooks, "list", "list the endpoints", _webhooks, ENDPOINT)
    create = _action(
        hooks, "create", "register an endpoint", _create_webhook, [*ENDPOINT, "secret"]
    )
    create.add_argument("endpoint_url", metavar="URL")
    create.add_argument("--event", action="append", dest="events", choices=list(OutcomeEvent))
    create.add_argument("--description")
    delete = _action(hooks, "delete", "delete an endpoint", _delete_webhook, ENDPOINT)
    delete.add_argument("endpoint_id")


def _action(
    group: Subcommands, name: str, summary: str, action: Action, columns: list[str]
) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = group.add_parser(name, help=summary, description=summary)
    parser.add_argument("--url", help="the API's base URL")
    parser.add_argument("--key", help="an API key with the scope this needs")
    add_json_flag(parser)

    async def run(settings: Settings, args: argparse.Namespace) -> None:
        url = args.url or settings.api_url or settings.api_base_url
        async with AsyncHeraldClient(url, _key(args, settings)) as client:
            try:
                result = await action(client, args)
            except HeraldAPIError as err:
                raise RuntimeError(str(err)) from None
            except httpx.TransportError as err:
                raise RuntimeError(f"cannot reach the API at {url} ({err!r})") from None
        show(result, columns, args.json)

    parser.set_defaults(run=run)
    return parser


def _key(args: argparse.Namespace, settings: Settings) -> str:
    if args.key:
        return str(args.key)
    if settings.api_key:
        return settings.api_key
    if settings.api_keys:
        return settings.api_keys[0]
    kept = settings.data_dir / "dev-api-key"
    if kept.exists():
        return kept.read_text().strip()
    raise RuntimeError("no API key: pass --key, or set HERALD_API_KEY")


def _limit(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--limit", type=int, default=50, help="at most this many (default 50)")


async def _send(client: AsyncHeraldClient, args: argparse.Namespace) -> BaseModel:
    metadata = dict(pair.split("=", 1) for pair in args.metadata) if args.metadata else None
    return await client.send(
        args.recipient,
        args.content,
        priority=args.priority,
        ordering=args.ordering,
        metadata=metadata,
        send_at=args.send_at,
        idempotency_key=args.idempotency_key,
    )


async def _get(client: AsyncHeraldClient, args: argparse.Namespace) -> BaseModel:
    return await client.get_message(args.message_id)


async def _list(client: AsyncHeraldClient, args: argparse.Namespace) -> Sequence[BaseModel]:
    filters = {"status": args.status, "recipient": args.recipient, "priority": args.priority}
    return await _first(client.iter_messages(**filters), args.limit)


async def _cancel(client: AsyncHeraldClient, args: argparse.Namespace) -> Sequence[BaseModel]:
    return (await client.cancel_many(args.message_ids)).results


async def _dead_letters(client: AsyncHeraldClient, args: argparse.Namespace) -> Sequence[BaseModel]:
    filters = {"failure_class": args.failure_class, "recipient": args.recipient}
    return await _first(client.iter_dead_letters(**filters), args.limit)


async def _requeue(client: AsyncHeraldClient, args: argparse.Namespace) -> Sequence[BaseModel]:
    return (await client.requeue_many(args.message_ids)).results


async def _discard(client: AsyncHeraldClient, args: argparse.Namespace) -> BaseModel:
    return await client.discard(args.message_id)


async def _webhooks(client: AsyncHeraldClient, _args: argparse.Namespace) -> Sequence[BaseModel]:
    return await client.list_webhooks()


async def _create_webhook(client: AsyncHeraldClient, args: argparse.Namespace) -> BaseModel:
    return await client.create_webhook(
        args.endpoint_url, events=args.events, description=args.description
    )


async def _delete_webhook(client: AsyncHeraldClient, args: argparse.Namespace) -> BaseModel:
    return await client.delete_webhook(args.endpoint_id)


async def _first(items: Any, limit: int) -> list[BaseModel]:
    """The first ``limit`` items of an async iterator."""
    found: list[BaseModel] = []
    async for item in items:
        if len(found) >= limit:
            break
        found.append(item)
    return found
