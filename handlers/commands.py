"""The slash command: ack at once (Slack allows 3 s), then answer through the response_url."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_bolt.context.async_context import AsyncBoltContext

from bot.blockkit import unescape
from bot.render import render_outcome, render_problem
from bot.report import Problem
from handlers.deps import Deps, requester_of


async def handle_command(
    ack: AsyncAck, command: dict[str, Any], respond: AsyncRespond, context: AsyncBoltContext
) -> None:
    # Ack before any I/O: with process_before_response=False Bolt answers Slack right here and
    # the DMS call continues in the background.
    await ack()
    deps = Deps.of(context)
    async with deps.work.track():
        # Slack sends &, < and > as HTML entities in command text (its text formatting rules).
        text = unescape(command.get("text", ""))
        requester = requester_of(context)
        outcome = await deps.service.command(text, requester, announce=deps.poster.post)
        # Slash command replies are ephemeral unless shared.
        await respond(response_type="ephemeral", **render_outcome(outcome))
        if deps.digests is not None:
            # A digest this person added that Slack stopped taking: they hear of it once.
            for notice in await deps.digests.notices_for(requester.user_id):
                await respond(response_type="ephemeral", **render_problem(Problem(summary=notice)))
        if deps.alerts is not None:
            # An alert this person added that Slack stopped taking: they hear of it once.
            for notice in await deps.alerts.notices_for(requester.user_id):
                await respond(response_type="ephemeral", **render_problem(Problem(summary=notice)))


def register(app: AsyncApp, command: str) -> None:
    app.command(command)(handle_command)
