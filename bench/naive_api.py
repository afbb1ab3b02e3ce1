"""The naive baseline's ack receiver: a bare FastAPI app with the route the simulator's ack
callback calls, ``POST /v1/messages/ack`` (``{"message_ids": [...]}``), which signals ``ack``
to each message's workflow. Naive: no signature check, no database."""

from __future__ import annotations

import asyncio

from fastapi import FastAPI
from pydantic import BaseModel
from temporalio.client import Client

from bench.naive_workflow import NaiveWorkflow

__all__ = ["create_naive_api"]


class AckBody(BaseModel):
    message_ids: list[str]


def create_naive_api(client: Client) -> FastAPI:
    app = FastAPI(title="Naive baseline's acks")

    @app.post("/v1/messages/ack")
    async def acknowledge(body: AckBody) -> dict[str, int]:
        await asyncio.gather(
            *(client.get_workflow_handle(id_).signal(NaiveWorkflow.ack) for id_ in body.message_ids)
        )
        return {"acknowledged": len(body.message_ids)}

    return app
