"""Temporal connection and Herald's search attributes (DESIGN §7)."""

from __future__ import annotations

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    ListSearchAttributesRequest,
)
from temporalio.client import Client
from temporalio.common import SearchAttributeKey

__all__ = [
    "MESSAGE_PRIORITY",
    "MESSAGE_STATUS",
    "RECIPIENT",
    "SEARCH_ATTRIBUTES",
    "connect",
    "register_search_attributes",
]

MESSAGE_STATUS = SearchAttributeKey.for_keyword("MessageStatus")
RECIPIENT = SearchAttributeKey.for_keyword("Recipient")
MESSAGE_PRIORITY = SearchAttributeKey.for_keyword("MessagePriority")
SEARCH_ATTRIBUTES = (MESSAGE_STATUS, RECIPIENT, MESSAGE_PRIORITY)


async def connect(address: str, namespace: str, *, lazy: bool = False) -> Client:
    """Connect to Temporal; ``lazy`` defers the connection to the first call, so a process
    can start while the server is still down."""
    return await Client.connect(address, namespace=namespace, lazy=lazy)


async def register_search_attributes(client: Client, namespace: str) -> None:
    """Add Herald's search attributes to the namespace; those already there are kept."""
    existing = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=namespace)
    )
    missing = {
        key.name: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD
        for key in SEARCH_ATTRIBUTES
        if key.name not in existing.custom_attributes
    }
    if missing:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(namespace=namespace, search_attributes=missing)
        )
