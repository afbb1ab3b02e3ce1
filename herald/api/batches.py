"""Batch submits: every item validated before anything is stored, all stored in one
transaction, their workflows started concurrently, a bounded number at a time.

A workflow Temporal does not start leaves its message ``pending``, for the outbox relay of
DESIGN §1 to start later; the batch is answered all the same.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from sqlmodel.ext.asyncio.session import AsyncSession

from herald.api.deps import SettingsDep
from herald.api.schemas import BatchItem, BatchItemResult, BatchResult
from herald.core.errors import Conflict, PayloadTooLarge
from herald.core.settings import Settings
from herald.operations.idempotency import Draft, Outcome, Submission, store_all
from herald.operations.workflows import WorkflowGateway

__all__ = ["accept_batch", "enforce_batch_limit", "refuse_repeated_keys"]


async def enforce_batch_limit(request: Request, settings: SettingsDep) -> None:
    """413 for more items than ``HERALD_BATCH_SIZE_LIMIT``, counted in the parsed JSON before
    any item is validated (FastAPI solves a route's dependencies before its body)."""
    try:
        body = await request.json()
    except ValueError:  # not JSON: the body's validation answers
        return
    items = body.get("messages") if isinstance(body, dict) else None
    if isinstance(items, list) and len(items) > settings.batch_size_limit:
        raise PayloadTooLarge(
            f"a batch holds at most {settings.batch_size_limit} messages "
            f"(HERALD_BATCH_SIZE_LIMIT), this one has {len(items)}; split it",
        )


async def accept_batch(
    items: Sequence[BatchItem],
    session: AsyncSession,
    settings: Settings,
    workflows: WorkflowGateway,
    tenant_id: str,
) -> BatchResult:
    """Store the valid ``items`` (see :func:`refuse_repeated_keys`) for the tenant in one
    transaction, start the new messages' workflows, and answer a result per item."""
    drafts = [Draft.of(item, settings, item.idempotency_key, tenant_id) for item in items]
    outcomes = await store_all(session, drafts, settings)
    stored = [o.message for o in outcomes if isinstance(o, Submission) and not o.replayed]
    await workflows.start(stored)
    results = [_result(index, outcome) for index, outcome in enumerate(outcomes)]
    failed = sum(result.error is not None for result in results)
    return BatchResult(
        total=len(results), succeeded=len(results) - failed, failed=failed, results=results
    )


def refuse_repeated_keys(items: Sequence[BatchItem]) -> None:
    """422, as for any invalid field, when an item repeats an earlier item's key."""
    first_with: dict[str, int] = {}
    errors: list[dict[str, Any]] = []
    for index, item in enumerate(items):
        if item.idempotency_key is None:
            continue
        first = first_with.setdefault(item.idempotency_key, index)
        if first != index:
            errors.append(
                {
                    "type": "value_error",
                    "loc": ("body", "messages", index, "idempotency_key"),
                    "msg": f"repeats the key of messages[{first}]; give each item its own key",
                }
            )
    if errors:
        raise RequestValidationError(errors)


def _result(index: int, outcome: Outcome) -> BatchItemResult:
    if isinstance(outcome, Conflict):
        return BatchItemResult(index=index, id=None, status=None, error=outcome.detail)
    message = outcome.message
    return BatchItemResult(
        index=index, id=message.id, status=message.status, replayed=outcome.replayed
    )
