"""What an API key may do (DESIGN §10): its scopes."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["Scope"]


class Scope(StrEnum):
    MESSAGES_WRITE = "messages:write"
    MESSAGES_READ = "messages:read"
    DEAD_LETTERS_WRITE = "dead_letters:write"
    SUPPRESSIONS_WRITE = "suppressions:write"
    WEBHOOKS_WRITE = "webhooks:write"
    ACKS_WRITE = "acks:write"
    ADMIN = "admin"

    @property
    def allows(self) -> str:
        """What the scope allows, in a few words (for help texts and the docs)."""
        return {
            Scope.MESSAGES_WRITE: "submit (one, batch), cancel, change priority",
            Scope.MESSAGES_READ: "read and list messages, their attempts, dead letters, the "
            "tenant's metrics",
            Scope.DEAD_LETTERS_WRITE: "requeue, discard",
            Scope.SUPPRESSIONS_WRITE: "manage the suppression list",
            Scope.WEBHOOKS_WRITE: "manage outcome webhook endpoints",
            Scope.ACKS_WRITE: "acknowledge deliveries of any tenant (the provider gateway's key)",
            Scope.ADMIN: "everything, for every tenant; tenants, keys, circuit breakers",
        }[self]
