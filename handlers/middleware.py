"""One global middleware: refuses new work while the process shuts down, and builds the
Requester (channel, user, time zone) once per request, into the context."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.response import BoltResponse
from slack_sdk.web.async_client import AsyncWebClient

from bot.service import Requester
from handlers.deps import DEPS, REQUESTER, Deps

log = logging.getLogger(__name__)

# users.info is usually answered in tens of milliseconds, but it sits before ack() in the 3 s
# Slack allows: past this, the request goes on in the configured zone while the look-up still
# fills the cache for the next one.
ZONE_LOOKUP_WAIT_S = 1.0


def _who_and_where(context: AsyncBoltContext, body: dict[str, Any]) -> tuple[str, str]:
    event = body.get("event")
    event = event if isinstance(event, dict) else {}
    channel = context.channel_id or event.get("channel")
    user = context.user_id or event.get("user")
    return (
        channel if isinstance(channel, str) else "",
        user if isinstance(user, str) else "",
    )


def register(app: AsyncApp, deps: Deps) -> None:
    async def requester_context(
        context: AsyncBoltContext,
        body: dict[str, Any],
        client: AsyncWebClient,
        next: Callable[[], Awaitable[BoltResponse]],
    ) -> BoltResponse | None:
        if not deps.work.accepting:
            # Shutting down: Slack retries an event answered non-2xx (handlers/mentions.py
            # answers that retry), and a command shows the user a timeout rather than an
            # answer that would be cut off halfway.
            return BoltResponse(status=503, body="shutting down")
        # Bolt's context reads who and where from every kind of body: user_id / channel_id for
        # commands, user.id / channel.id for clicks, event.user / event.channel for events
        # (an app_mention); `_who_and_where` reads an event's own fields when it did not.
        channel_id, user_id = _who_and_where(context, body)
        context[DEPS] = deps
        context[REQUESTER] = Requester(
            channel_id=channel_id,
            user_id=user_id,
            tz=await deps.timezones.for_user(client, user_id, wait_s=ZONE_LOOKUP_WAIT_S),
        )
        return await next()

    app.middleware(requester_context)
