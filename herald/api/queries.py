"""Paged, filtered and sorted reads of messages, straight from PostgreSQL."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Query
from sqlalchemy import ColumnElement, UnaryExpression
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from herald.api.schemas import MessagePage
from herald.core.models import TENANT_ID_PATTERN, Message, MessagePublic
from herald.operations.keys import Principal

__all__ = ["MAX_PAGE", "MAX_PAGE_SIZE", "Pagination", "page_of_messages", "sort_order"]

MAX_PAGE_SIZE = 500
MAX_PAGE = 10_000
"""Deeper pages are refused (422): the offset stays at most 5 million rows, far inside
PostgreSQL's bigint, and a page never makes PostgreSQL skip more than that; filter or sort
to reach older messages."""


@dataclass
class Pagination:
    """``page`` (from 1) and ``page_size`` query parameters."""

    page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1
    page_size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 50


def sort_order(sort: str) -> UnaryExpression[Any]:
    """``name`` ascending or ``-name`` descending, by a column of ``messages`` (the caller
    validates the name); rows without a value come last either way."""
    column = col(getattr(Message, sort.removeprefix("-")))
    order = column.desc() if sort.startswith("-") else column.asc()
    return order.nulls_last()


async def page_of_messages(
    session: AsyncSession,
    pagination: Pagination,
    order: UnaryExpression[Any],
    *conditions: ColumnElement[bool] | bool | None,
) -> MessagePage:
    """One page of the messages matching every condition given (``None`` ones are skipped)."""
    where = [condition for condition in conditions if condition is not None]
    total = await session.scalar(select(func.count()).select_from(Message).where(*where))
    rows = await session.exec(
        select(Message)
        .where(*where)
        .order_by(order, col(Message.id))
        .offset((pagination.page - 1) * pagination.page_size)
        .limit(pagination.page_size)
    )
    return MessagePage(
        items=[MessagePublic.of(message) for message in rows],
        total=total or 0,
        page=pagination.page,
        page_size=pagination.page_size,
    )


TenantQuery = Annotated[
    str | None,
    Query(
        pattern=TENANT_ID_PATTERN,
        description="Admin keys: only this tenant's (default: every tenant's); other keys see "
        "only their own tenant's and may name only that one",
    ),
]


def tenant_condition(principal: Principal, requested: str | None) -> ColumnElement[bool] | None:
    """The rows the caller may list: its tenant's, or an admin's choice (``None``: all)."""
    tenant = principal.tenant_to_list(requested)
    return col(Message.tenant_id) == tenant if tenant is not None else None
