"""Watch and Stop watching: ack at once, decode the button's value once, call the watch use case,
and answer the clicker privately through the click's response_url (the watch's own message is
posted and edited by the use case, as the bot)."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_bolt.context.async_context import AsyncBoltContext

from bot.domain.watches import WATCH_OUTCOMES, DamagedValue, StopValue, WatchValue
from bot.ids import ActionId
from bot.render import render_outcome
from bot.render.watch import render_watch_outcome
from bot.report import Problem
from bot.watches import StartOutcome, WatchService
from handlers.deps import Deps, requester_of

NOT_ON = Problem(
    summary="Watching tasks is not switched on in this bot.",
    hint="It needs the bot's store (DMS_BOT_DB or REDIS_URL); ask the bot's admins.",
)


def _watches(context: AsyncBoltContext) -> WatchService | None:
    # Deps.watches: None when the runtime runs without a store.
    watches: WatchService | None = getattr(Deps.of(context), "watches", None)
    return watches if watches is not None and watches.ready else None


def _damaged(exc: DamagedValue) -> Problem:
    return Problem(
        summary=f"That button's value is damaged or out of date ({exc}).",
        hint="Run the command again.",
    )


def thread_of(body: dict[str, Any]) -> str | None:
    """The thread the clicked message is in, if any: Slack sends it on the container, and on
    the message itself for messages everyone sees."""
    for part in ("container", "message"):
        section = body.get(part)
        ts = section.get("thread_ts") if isinstance(section, dict) else None
        if isinstance(ts, str) and ts:
            return ts
    return None


def _answer(outcome: StartOutcome) -> dict[str, Any]:
    if isinstance(outcome, WATCH_OUTCOMES):
        return render_watch_outcome(outcome)
    return render_outcome(outcome)


async def watch(
    ack: AsyncAck,
    action: dict[str, Any],
    body: dict[str, Any],
    respond: AsyncRespond,
    context: AsyncBoltContext,
) -> None:
    await ack()
    deps = Deps.of(context)
    async with deps.work.track():
        watches = _watches(context)
        outcome: StartOutcome
        if watches is None:
            outcome = NOT_ON
        else:
            try:
                value = WatchValue.decode(action.get("value", ""))
            except DamagedValue as exc:
                outcome = _damaged(exc)
            else:
                outcome = await watches.start(
                    value, requester_of(context), thread_ts=thread_of(body)
                )
        # A new private message: the listing the click came from stays as it was.
        await respond(replace_original=False, response_type="ephemeral", **_answer(outcome))


async def stop_watching(
    ack: AsyncAck, action: dict[str, Any], respond: AsyncRespond, context: AsyncBoltContext
) -> None:
    await ack()
    deps = Deps.of(context)
    async with deps.work.track():
        watches = _watches(context)
        if watches is None:
            outcome: StartOutcome | None = NOT_ON
        else:
            try:
                value = StopValue.decode(action.get("value", ""))
            except DamagedValue as exc:
                outcome = _damaged(exc)
            else:
                outcome = await watches.stop(value, requester_of(context))
        if outcome is not None:
            # Only to the clicker: the watch's message says for everyone when it stopped.
            await respond(replace_original=False, response_type="ephemeral", **_answer(outcome))


def register(app: AsyncApp) -> None:
    app.action(ActionId.WATCH.pattern())(watch)
    app.action(ActionId.WATCH_STOP.pattern())(stop_watching)
