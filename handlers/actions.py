"""Button clicks: ack at once, decode the button's state once, then update the message in place
through the click's response_url (the only way to update an ephemeral message; chat.update
cannot), or, for Share, post a public copy with chat.postMessage."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_bolt.context.async_context import AsyncBoltContext

from bot.grammar.state import ButtonState
from bot.grammar.words import QueryError
from bot.ids import ActionId
from bot.poster import ChannelUnavailable, Posted
from bot.render import render_outcome, render_problem, shared_copy
from bot.report import Outcome, Problem, is_shareable
from handlers.deps import Deps, requester_of

_SHARE_FAILURES = {
    "not_in_channel": "This button is too old to share from here: run the command again and "
    "press Share on the new answer, or invite the bot (/invite @dms-tasks-bot).",
    "channel_not_found": "This button is too old to share from here: run the command again and "
    "press Share on the new answer.",
    "is_archived": "This channel is archived.",
    "restricted_action": "This workspace does not let the bot post here.",
    "ratelimited": "Slack is rate limiting the bot. Press Share again in a minute.",
    "msg_blocks_too_long": "The answer is too long for Slack to post: share a smaller page "
    "(run the command again with limit=10).",
}

IN_PLACE = (
    ActionId.PARAMS,
    ActionId.PREV,
    ActionId.NEXT,
    ActionId.REFRESH,
    ActionId.BACK,
    ActionId.SHOW_PROBLEMS,
    ActionId.PICK_INSTANCE,
)


async def _pressed(action: dict[str, Any], context: AsyncBoltContext) -> Outcome:
    """What the button shows next. The value is decoded here, once: the service gets typed
    state, or the user a clear message that the button is damaged."""
    deps = Deps.of(context)
    action_id = ActionId.parse(str(action.get("action_id", "")))
    if action_id is None:
        return Problem(summary="I don't know that button.", hint="Run the command again.")
    try:
        state = ButtonState.decode(action.get("value", ""))
    except QueryError as exc:
        return Problem(summary=exc.message, example=f"{deps.command} {exc.example}")
    return await deps.service.press(action_id, state, requester_of(context))


async def replace_in_place(
    ack: AsyncAck, action: dict[str, Any], respond: AsyncRespond, context: AsyncBoltContext
) -> None:
    await ack()
    async with Deps.of(context).work.track():
        outcome = await _pressed(action, context)
        await respond(replace_original=True, **render_outcome(outcome))


async def share(
    ack: AsyncAck, action: dict[str, Any], respond: AsyncRespond, context: AsyncBoltContext
) -> None:
    """Share through the click's response_url with response_type in_channel: it works in every
    conversation the command works in, with no membership and no extra scope, where
    chat.postMessage answers channel_not_found (private channels, DMs, group DMs) or
    not_in_channel (public channels the bot was never invited to). Then the ephemeral original
    goes, so the person who shared does not see the answer twice."""
    await ack()
    deps = Deps.of(context)
    async with deps.work.track():
        outcome = await _pressed(action, context)
        if not is_shareable(outcome):
            # Nothing to share: tell the person who clicked, privately.
            await respond(
                replace_original=False, response_type="ephemeral", **render_outcome(outcome)
            )
            return
        requester = requester_of(context)
        copy = shared_copy(outcome, requester.user_id)
        if _delivered(await respond(response_type="in_channel", replace_original=False, **copy)):
            await respond(delete_original=True)
            return
        # A response_url lives 30 minutes and takes 5 posts: past that, post as the bot, which
        # needs it to be in the channel.
        posted = await deps.poster.post(requester.channel_id, copy)
        if isinstance(posted, Posted):
            return
        error = posted.reason if isinstance(posted, ChannelUnavailable) else posted.error
        problem = Problem(
            summary="I could not post this in the channel.",
            hint=_SHARE_FAILURES.get(error, "Try again in a moment."),
            reference=f"Slack error {error}",
        )
        await respond(replace_original=False, response_type="ephemeral", **render_problem(problem))


def _delivered(response: Any) -> bool:
    status = getattr(response, "status_code", None)
    return status == 200


async def open_list(
    ack: AsyncAck, action: dict[str, Any], respond: AsyncRespond, context: AsyncBoltContext
) -> None:
    """A digest's "Open full list": the clicker's own ephemeral listing, with the usual buttons;
    the channel's message stays as it is."""
    await ack()
    async with Deps.of(context).work.track():
        outcome = await _pressed(action, context)
        await respond(replace_original=False, response_type="ephemeral", **render_outcome(outcome))


def register(app: AsyncApp) -> None:
    for action_id in IN_PLACE:
        app.action(action_id.pattern())(replace_in_place)
    app.action(ActionId.SHARE.pattern())(share)
    app.action(ActionId.OPEN_LIST.pattern())(open_list)
