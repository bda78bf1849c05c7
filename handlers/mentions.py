"""`@dms-tasks-bot <command text>`: the command, answered in the thread it was asked in.

Slash commands cannot be run inside threads, and incident work happens in threads. A mention of
the bot in a channel or a thread (the `app_mention` event) is read as the text of the command
and answered in that thread (the mention's own thread, or a new one under a top-level mention),
through the same service and renderer as the command.

The answer is public: a task listing or a task's params is posted as the shared copy is (date
tokens each reader sees in their own zone, nothing relative that would freeze, no buttons that
one click would change for everyone); anything else (help, a refusal, a problem) is posted in
the thread too, since the question was asked in public. Events carry no response_url, so there
is nowhere private to answer: what cannot be posted is logged.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.request.async_request import AsyncBoltRequest

from bot.blockkit import InvalidMessage, check_posted_message, unescape
from bot.ids import ActionId
from bot.poster import ChannelUnavailable, PostFailed, PostOutcome
from bot.render import render_outcome, render_problem, shared_copy
from bot.render.words import join_words
from bot.report import Outcome, Problem, WhichInstance, is_shareable
from handlers.deps import Deps, requester_of

log = logging.getLogger(__name__)

# The bot user's display name in both manifests, for examples people can type.
BOT_NAME = "dms-tasks-bot"

# Slack's Events API retries an event it could not deliver: at once, after 1 minute and after
# 5 minutes, with X-Slack-Retry-Num (1, 2, 3) and X-Slack-Retry-Reason (http_timeout,
# too_many_redirects, connection_failed, ssl_error, http_error, unknown_error). In Socket Mode
# the envelope's retry_attempt and retry_reason arrive as the same headers (Bolt's socket mode
# adapter, build_headers). After http_timeout (no ack within 3 s) the original did arrive and is
# being answered, and an unknown reason may mean the same: such a retry is acked and skipped,
# so one mention never gets two answers. NEVER_DELIVERED are the reasons that prove no listener
# took the original: the connection or TLS failed, or the bot answered non-2xx (503 while
# shutting down, so that another replica or the restarted process takes it). Then the retry is
# the only delivery, and it is answered.
RETRY_NUM = "x-slack-retry-num"
RETRY_REASON = "x-slack-retry-reason"
NEVER_DELIVERED = frozenset({"connection_failed", "ssl_error", "http_error"})

# A mention inside an edited, deleted or bot-posted message is not a new question.
IGNORED_SUBTYPES = frozenset({"message_changed", "message_deleted", "bot_message"})

# Slack refused the message itself: a short one in words can still get through.
REJECTED = frozenset(
    {"msg_blocks_too_long", "invalid_blocks", "msg_too_long", "invalid_arguments", "no_text"}
)

# <@U123> or <@U123|name>; W… ids on Enterprise Grid.
_ANY_MENTION = re.compile(r"\s*<@[UW][A-Z0-9]+(?:\|[^<>]*)?>")
# As many names as the pick buttons of the slash command's answer offer.
MAX_NAMED_INSTANCES = 20


def _header(headers: Mapping[str, Sequence[str]], name: str) -> str:
    values = headers.get(name) or ()
    return str(values[0]).strip() if values else ""


def repeats_a_delivered_event(headers: Mapping[str, Sequence[str]]) -> bool:
    """A retry of an event whose original may already have been answered (see RETRY_NUM)."""
    raw = _header(headers, RETRY_NUM)
    try:
        attempt = int(raw) if raw else 0
    except ValueError:
        attempt = 1  # a retry header we cannot read: rather no answer than two
    if attempt <= 0:  # Socket Mode sends retry_attempt 0 on the first delivery
        return False
    return _header(headers, RETRY_REASON).lower() not in NEVER_DELIVERED


def is_ignored(event: Mapping[str, Any]) -> bool:
    """Bots (this one included: its own messages carry bot_id), edits and deletions."""
    return bool(
        event.get("bot_id") or event.get("subtype") in IGNORED_SUBTYPES or event.get("edited")
    )


def command_text(text: str, bot_user_id: str | None) -> str:
    """What follows the bot's mention, as the command's text: Slack writes the mention as
    <@U123> (or <@U123|name>) and sends &, < and > as HTML entities. Text before the mention
    ("hey @dms-tasks-bot …") and repeated mentions of the bot are dropped. Without the bot's
    id (or its mention), every leading mention is taken for the bot's."""
    parts = (
        re.compile(rf"<@{re.escape(bot_user_id)}(?:\|[^<>]*)?>").split(text)
        if bot_user_id
        else [text]
    )
    if len(parts) > 1:
        text = " ".join(parts[1:])
    else:
        while match := _ANY_MENTION.match(text):
            text = text[match.end() :]
    return unescape(" ".join(text.split()))


def thread_of(event: Mapping[str, Any]) -> str | None:
    """The thread to answer in: the mention's thread, or a new one under a top-level mention."""
    thread_ts = event.get("thread_ts") or event.get("ts")
    return str(thread_ts) if thread_ts else None


def _which_instance_in_words(which: WhichInstance, text: str) -> Problem:
    """The pick buttons would replace the thread's message for everyone with one person's
    private listing: the choice is given as names and an example to type instead."""
    label = which.query.window.label
    if not which.instances:
        return Problem(
            summary="Which instance? None has an alias for this channel: put its id first.",
            example=f"@{BOT_NAME} <instance id> {text}",
        )
    names = list(which.instances[:MAX_NAMED_INSTANCES])
    more = len(which.instances) - len(names)
    if more:
        names.append(f"{more} more")
    return Problem(
        summary=f"Which instance? I can show {label} for {join_words(names, 'or')}.",
        hint="Mention me again with the instance first.",
        example=f"@{BOT_NAME} {which.instances[0]} {text}",
    )


def _without_changing_buttons(message: dict[str, Any]) -> dict[str, Any]:
    """The message less every button whose click would rewrite it for everyone. "Open full list"
    stays: it answers whoever clicks, privately, and leaves the message as it is."""

    def keeps(element: Mapping[str, Any]) -> bool:
        if element.get("type") != "button":
            return True
        return ActionId.parse(str(element.get("action_id", ""))) is ActionId.OPEN_LIST

    blocks: list[dict[str, Any]] = []
    for block in message.get("blocks") or []:
        block = dict(block)
        accessory = block.get("accessory")
        if isinstance(accessory, Mapping) and not keeps(accessory):
            del block["accessory"]
        if block.get("type") == "actions":
            elements = [e for e in block.get("elements") or [] if keeps(e)]
            if not elements:
                continue
            block["elements"] = elements
        blocks.append(block)
    return {**message, "blocks": blocks}


def public_answer(outcome: Outcome, user_id: str, text: str) -> dict[str, Any]:
    """The message posted in the thread for `outcome`."""
    if is_shareable(outcome):
        message = shared_copy(outcome, user_id)
    elif isinstance(outcome, WhichInstance):
        message = render_problem(_which_instance_in_words(outcome, text))
    else:
        message = render_outcome(outcome)
    message = _without_changing_buttons(message)
    try:
        check_posted_message(message)
    except InvalidMessage as exc:
        log.error("an answer to a mention is too long to post: %s", exc)
        return render_problem(
            Problem(
                summary="This answer is too long to post in the thread.",
                hint="Ask for a smaller page with limit=10.",
            )
        )
    return message


async def _after_failure(
    deps: Deps, posted: PostOutcome, channel: str, thread_ts: str | None
) -> None:
    """Events carry no response_url: a post Slack refuses cannot be told to the asker
    privately, so it is logged; a message Slack rejected for its content is followed by a short
    one in words, in the thread."""
    if isinstance(posted, ChannelUnavailable):
        log.warning(
            "could not answer a mention in %s (%s); an event has no response_url, so the asker "
            "cannot be told",
            channel,
            posted.reason,
        )
        return
    if not isinstance(posted, PostFailed):
        return
    if posted.error not in REJECTED:
        log.warning(
            "could not answer a mention in %s (%s); an event has no response_url, so the asker "
            "cannot be told",
            channel,
            posted.error,
        )
        return
    log.error("Slack rejected the answer to a mention in %s: %s", channel, posted.error)
    fallback = render_problem(
        Problem(
            summary="Slack would not take this answer.",
            hint="Ask for a smaller page with limit=10.",
            reference=f"Slack error {posted.error}",
        )
    )
    again = await deps.poster.post(channel, fallback, thread_ts=thread_ts)
    if isinstance(again, ChannelUnavailable | PostFailed):
        log.warning("the note about it failed too; an event has no response_url to fall back on")


async def handle_mention(
    event: dict[str, Any], request: AsyncBoltRequest, context: AsyncBoltContext
) -> None:
    # Bolt acks events itself (auto-acknowledgement) before this runs, so Slack has its 200
    # whatever happens here; the work is tracked so that shutdown lets it finish.
    if repeats_a_delivered_event(request.headers):
        log.info("skipped a retried mention (the original was delivered)")
        return
    if is_ignored(event):
        return
    deps = Deps.of(context)
    async with deps.work.track():
        requester = requester_of(context)
        channel = requester.channel_id
        if not channel:
            log.warning("a mention without a channel; nothing to answer in")
            return
        # Nothing after the mention: help, even where the channel has a default instance.
        text = command_text(str(event.get("text") or ""), context.bot_user_id) or "help"
        outcome = await deps.service.command(text, requester, announce=deps.poster.post)
        thread_ts = thread_of(event)
        posted = await deps.poster.post(
            channel, public_answer(outcome, requester.user_id, text), thread_ts=thread_ts
        )
        await _after_failure(deps, posted, channel, thread_ts)
        # Paused-digest notices (deps.digests.notices_for) are left for the next slash command:
        # they are meant for one person, and an event has no response_url to tell them
        # privately; posting them in the thread would tell everyone.


def register(app: AsyncApp) -> None:
    app.event("app_mention")(handle_mention)
