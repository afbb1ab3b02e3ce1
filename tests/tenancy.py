"""Tenants and keys for tests, made through the admin API as an operator would."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx

__all__ = ["Tenant", "as_key", "new_tenant"]


@dataclass(frozen=True)
class Tenant:
    id: str
    key: str
    """A key of the tenant with the scopes asked for."""
    key_id: str


async def new_tenant(admin: httpx.AsyncClient, *scopes: str, **fields: Any) -> Tenant:
    """A tenant of the test's own, and a key of it with ``scopes``."""
    tenant_id = f"t-{uuid.uuid4().hex[:12]}"
    created = await admin.post("/v1/tenants", json={"id": tenant_id, "name": tenant_id, **fields})
    assert created.status_code == 201, created.text
    key = await admin.post(
        "/v1/api-keys", json={"tenant_id": tenant_id, "name": "test", "scopes": list(scopes)}
    )
    assert key.status_code == 201, key.text
    return Tenant(tenant_id, key.json()["key"], key.json()["id"])


@asynccontextmanager
async def as_key(admin: httpx.AsyncClient, key: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the same API that authenticates with ``key``."""
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=admin.base_url, headers=headers, timeout=30) as client:
        yield client
