"""One global middleware: refuses new work while the process shuts down, and builds the
Requester (channel, user, time zone) once per request, into the context."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

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


def register(app: AsyncApp, deps: Deps) -> None:
    async def requester_context(
        context: AsyncBoltContext,
        client: AsyncWebClient,
        next: Callable[[], Awaitable[BoltResponse]],
    ) -> BoltResponse | None:
        if not deps.work.accepting:
            # Shutting down: Slack retries events, and a command shows the user a timeout
            # rather than an answer that would be cut off halfway.
            return BoltResponse(status=503, body="shutting down")
        user_id = context.user_id or ""
        context[DEPS] = deps
        context[REQUESTER] = Requester(
            channel_id=context.channel_id or "",
            user_id=user_id,
            tz=await deps.timezones.for_user(client, user_id, wait_s=ZONE_LOOKUP_WAIT_S),
        )
        return await next()

    app.middleware(requester_context)
