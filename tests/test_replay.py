"""Histories the suite's sandboxed workers wrote replay under production's unsandboxed runner.

The suite runs every workflow in Temporal's sandbox (``HERALD_WORKFLOW_SANDBOX``), which fails
a non-deterministic call as it happens; production runs them without it. Replaying real
histories (a retry, an ack, a dead letter and its requeue, a strict line) with the runner
production builds shows the workflows make the same decisions there.
"""

from __future__ import annotations

from temporalio.client import Client, WorkflowHistory
from temporalio.worker import Replayer, UnsandboxedWorkflowRunner

from herald.core.contract import DEFAULT_TENANT, Line, workflow_id_for
from herald.worker import workflow_runner
from herald.workflows.delivery import MessageDelivery
from herald.workflows.sequence import RecipientSequence
from tests.stack import Stack
from tests.test_ordering import ack_when_sent, submit_line


async def history_of(client: Client, workflow_id: str) -> WorkflowHistory:
    return await client.get_workflow_handle(workflow_id).fetch_history()


async def test_real_histories_replay_without_the_sandbox(
    stack: Stack, temporal_client: Client
) -> None:
    stack.gateway.answer(503)  # the head's first attempt: a retry
    head, second = await submit_line(stack, 2)
    for message in (head, second):
        await ack_when_sent(stack, message)
    stack.gateway.answer(400)
    refused = await stack.submit()
    await stack.wait_for_status(refused["id"], "dead_lettered")
    assert (await stack.api.post(f"/v1/dead-letters/{refused['id']}/requeue")).status_code == 200
    await ack_when_sent(stack, refused)

    line = Line(DEFAULT_TENANT, head["recipient"]).workflow_id
    ids = [workflow_id_for(m["id"]) for m in (head, second, refused)] + [line]
    histories = [await history_of(temporal_client, workflow_id) for workflow_id in ids]
    runner = workflow_runner(stack.settings.model_copy(update={"workflow_sandbox": False}))
    assert isinstance(runner, UnsandboxedWorkflowRunner)
    replayer = Replayer(workflows=[MessageDelivery, RecipientSequence], workflow_runner=runner)
    for history in histories:
        await replayer.replay_workflow(history)  # raises where the decisions diverge
    assert all(len(history.events) > 10 for history in histories)
