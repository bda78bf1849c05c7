"""Button clicks: ack at once, then update the message in place through the click's
response_url (the only way to update an ephemeral message; chat.update cannot), or, for Share,
post a public copy with chat.postMessage."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.ids import ActionId
from bot.render import render_outcome, render_problem, shared_copy
from bot.report import Outcome, Problem, Refusal, UnknownInstance
from bot.service import Requester
from handlers import Deps

log = logging.getLogger(__name__)

_SHARE_FAILURES = {
    "not_in_channel": "Invite the bot to this channel (/invite @dms-tasks-bot), then press Share "
    "again.",
    "channel_not_found": "The bot cannot see this channel. Invite it, then press Share again.",
    "is_archived": "This channel is archived.",
    "restricted_action": "This workspace does not let the bot post here.",
    "ratelimited": "Slack is rate limiting the bot. Press Share again in a minute.",
}


async def _requester(body: dict[str, Any], client: AsyncWebClient, deps: Deps) -> Requester:
    user_id = (body.get("user") or {}).get("id", "")
    channel_id = (body.get("channel") or {}).get("id", "") or (
        (body.get("container") or {}).get("channel_id", "")
    )
    return Requester(
        channel_id=channel_id,
        user_id=user_id,
        tz=await deps.timezones.for_user(client, user_id),
    )


def register(app: AsyncApp, deps: Deps) -> None:
    async def press(
        ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient
    ) -> tuple[Requester, Outcome]:
        await ack()
        requester = await _requester(body, client, deps)
        action_id = ActionId(action["action_id"].split(":", 1)[0])
        outcome = await deps.service.press(action_id, action.get("value", ""), requester)
        return requester, outcome

    async def replace_in_place(
        ack: AsyncAck,
        body: dict[str, Any],
        action: dict[str, Any],
        respond: AsyncRespond,
        client: AsyncWebClient,
    ) -> None:
        _, outcome = await press(ack, body, action, client)
        await respond(replace_original=True, **render_outcome(outcome))

    for action_id in (
        ActionId.PARAMS,
        ActionId.PREV,
        ActionId.NEXT,
        ActionId.REFRESH,
        ActionId.BACK,
        ActionId.SHOW_PROBLEMS,
    ):
        app.action(action_id.pattern())(replace_in_place)

    @app.action(ActionId.SHARE.pattern())
    async def share(
        ack: AsyncAck,
        body: dict[str, Any],
        action: dict[str, Any],
        respond: AsyncRespond,
        client: AsyncWebClient,
    ) -> None:
        requester, outcome = await press(ack, body, action, client)
        message = render_outcome(outcome)
        if isinstance(outcome, Problem | Refusal | UnknownInstance):
            # Nothing to share: tell the person who clicked, privately.
            await respond(replace_original=False, response_type="ephemeral", **message)
            return
        try:
            await client.chat_postMessage(
                channel=requester.channel_id, **shared_copy(message, requester.user_id)
            )
        except SlackApiError as exc:
            error = exc.response.get("error", "") if exc.response is not None else ""
            log.warning("chat.postMessage failed for share: %s", error or exc)
            hint = _SHARE_FAILURES.get(error, "Try again in a moment.")
            problem = Problem(
                summary="I could not post this in the channel.",
                hint=hint,
                reference=f"Slack error {error}" if error else "",
            )
            await respond(
                replace_original=False, response_type="ephemeral", **render_problem(problem)
            )
