"""The slash command: ack at once (Slack allows 3 s), then answer through response_url."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.blockkit import unescape
from bot.render import render_outcome
from bot.service import Requester
from handlers import Deps

log = logging.getLogger(__name__)


def register(app: AsyncApp, deps: Deps) -> None:
    @app.command(deps.command)
    async def handle_command(
        ack: AsyncAck, command: dict[str, Any], respond: AsyncRespond, client: AsyncWebClient
    ) -> None:
        # Ack before any I/O: with process_before_response=False Bolt answers Slack right here
        # and the DMS call continues in the background.
        await ack()
        user_id = command.get("user_id", "")
        requester = Requester(
            channel_id=command.get("channel_id", ""),
            user_id=user_id,
            tz=await deps.timezones.for_user(client, user_id),
        )
        # Slack sends &, < and > as HTML entities in command text (its text formatting rules).
        outcome = await deps.service.command(unescape(command.get("text", "")), requester)
        # Slash command replies are ephemeral unless shared (the Share button posts a copy).
        await respond(response_type="ephemeral", **render_outcome(outcome))
