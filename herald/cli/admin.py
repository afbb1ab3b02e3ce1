"""``herald tenants create|list`` and ``herald keys create|list|revoke``, straight on the
database (``HERALD_DATABASE_URL``): the same operations as ``/v1/tenants`` and
``/v1/api-keys``, for the operator who has no admin key yet. ``--json`` prints what the API
would answer."""

from __future__ import annotations

import argparse
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlmodel.ext.asyncio.session import AsyncSession

from herald.cli.output import Subcommands, add_group, add_json_flag, show
from herald.core.database import sessions
from herald.core.errors import ProblemError
from herald.core.models import ApiKeyCreate, TenantCreate
from herald.core.scopes import Scope
from herald.core.settings import Settings
from herald.operations.keys import create_key, list_keys, revoke_key
from herald.operations.tenants import create_tenant, list_tenants

__all__ = ["add_commands"]

Operation = Callable[[AsyncSession, argparse.Namespace], Awaitable[Any]]


def add_commands(commands: Subcommands) -> None:
    tenants = add_group(commands, "tenants", "manage tenants (the submitters sharing Herald)")
    create = tenants.add_parser("create", help="create a tenant")
    create.add_argument("id", help="a slug: lowercase letters, digits and dashes")
    create.add_argument("--name", required=True)
    create.add_argument("--rate-limit-per-second", type=float)
    create.add_argument("--rate-limit-burst", type=int)
    create.add_argument("--weight", type=float, help="share of delivery capacity (default 1)")
    _runs(create, _create_tenant, ["id", "name", "weight", "rate_limit_per_second"])
    _runs(tenants.add_parser("list", help="list the tenants"), _list_tenants, ["id", "name"])

    keys = add_group(commands, "keys", "manage API keys (shown once, stored as a hash)")
    create = keys.add_parser("create", help="create a key; prints it once")
    create.add_argument("--tenant", required=True, dest="tenant_id")
    create.add_argument("--name", required=True)
    create.add_argument(
        "--scope",
        action="append",
        required=True,
        dest="scopes",
        choices=[scope.value for scope in Scope],
        help="repeat for several",
    )
    _runs(create, _create_key, ["id", "tenant_id", "prefix", "scopes", "key"])
    listing = keys.add_parser("list", help="list the keys (never the keys themselves)")
    listing.add_argument("--tenant", dest="tenant_id")
    _runs(listing, _list_keys, ["id", "tenant_id", "name", "prefix", "scopes", "revoked_at"])
    revoke = keys.add_parser("revoke", help="revoke a key")
    revoke.add_argument("key_id", type=uuid.UUID)
    _runs(revoke, _revoke_key, ["id", "tenant_id", "prefix", "revoked_at"])


def _runs(parser: argparse.ArgumentParser, operation: Operation, columns: list[str]) -> None:
    add_json_flag(parser)

    async def run(settings: Settings, args: argparse.Namespace) -> None:
        async with sessions(settings.require_database_url()) as factory, factory() as session:
            try:
                result = await operation(session, args)
            except ValidationError as err:
                raise RuntimeError(_first_error(err)) from None
            except ProblemError as err:
                raise RuntimeError(err.detail) from None
        show(result, columns, args.json)

    parser.set_defaults(run=run)


async def _create_tenant(session: AsyncSession, args: argparse.Namespace) -> BaseModel:
    fields = {"id": args.id, "name": args.name}
    for optional in ("rate_limit_per_second", "rate_limit_burst", "weight"):
        if getattr(args, optional) is not None:
            fields[optional] = getattr(args, optional)
    return await create_tenant(session, TenantCreate.model_validate(fields))


async def _list_tenants(session: AsyncSession, _args: argparse.Namespace) -> Sequence[BaseModel]:
    return await list_tenants(session)


async def _create_key(session: AsyncSession, args: argparse.Namespace) -> BaseModel:
    request = ApiKeyCreate(tenant_id=args.tenant_id, name=args.name, scopes=args.scopes)
    return await create_key(session, request)


async def _list_keys(session: AsyncSession, args: argparse.Namespace) -> Sequence[BaseModel]:
    return await list_keys(session, args.tenant_id)


async def _revoke_key(session: AsyncSession, args: argparse.Namespace) -> BaseModel:
    return await revoke_key(session, args.key_id)


def _first_error(err: ValidationError) -> str:
    first = err.errors()[0]
    field = ".".join(str(part) for part in first["loc"])
    return f"{field}: {first['msg']}" if field else str(first["msg"])
