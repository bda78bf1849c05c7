"""Service results -> Slack messages (`{"text": ..., "blocks": [...]}`), and the same messages as
plain text for the terminal. Pure: no I/O, the clock comes in the results.

Everything that came from a user or the API passes through `escape` (or its code variants) before
it reaches mrkdwn, and every message is checked against Block Kit's limits before it leaves. Any
content, however long or strange, is shortened with "…" rather than allowed to break a limit: a
message Slack rejects shows the user nothing at all.

One module per kind of message: `task_list`, `params`, `notices` (refusal, problem, unknown
instance) and `help`; `text` renders any of them for a terminal. The Block Kit building blocks
live next to the checker in `bot.blockkit`.
"""

from __future__ import annotations

import logging
import re
from dataclasses import replace
from typing import Any

from bot.blockkit import MAX_BLOCKS, InvalidMessage, check_posted_message, context_block
from bot.channel_defaults import ChannelDefaultView
from bot.domain.alerts import AlertAdded, AlertListing, AlertRemoved
from bot.ids import BlockId
from bot.render.alerts import render_alert_outcome
from bot.render.digest import render_digest
from bot.render.digest_admin import (
    render_digest_added,
    render_digest_listing,
    render_digest_preview,
    render_digest_removed,
)
from bot.render.help import render_help
from bot.render.notices import (
    render_channel_default,
    render_problem,
    render_refusal,
    render_unknown_instance,
    render_which_instance,
)
from bot.render.params import params_lines, render_params
from bot.render.safety_net import checked
from bot.render.task_list import render_report
from bot.render.text import message_buttons, render_text
from bot.render.words import piece
from bot.report import (
    DigestAdded,
    DigestListing,
    DigestPreviewView,
    DigestRemoved,
    HelpView,
    Outcome,
    ParamsView,
    Problem,
    Refusal,
    TaskReport,
    UnknownInstance,
    WhichInstance,
)

__all__ = [
    "message_buttons",
    "params_lines",
    "render_digest",
    "render_help",
    "render_outcome",
    "render_params",
    "render_problem",
    "render_refusal",
    "render_report",
    "render_text",
    "render_unknown_instance",
    "render_which_instance",
    "shared_copy",
]

log = logging.getLogger(__name__)

# Slack user ids: U, or W on Enterprise Grid. Only these become <@...> mentions.
# Matched with fullmatch: `$` alone would let a trailing newline into the token.
_USER_ID = re.compile(r"[UW][A-Z0-9]{1,30}")


def render_outcome(outcome: Outcome | ChannelDefaultView) -> dict[str, Any]:
    """Any service result as a message. Never raises: the user always gets an answer."""
    try:
        return _render_outcome(outcome)
    except Exception:
        log.exception("rendering %s failed", type(outcome).__name__)
        return render_problem(
            Problem(
                summary="I could not lay out this answer.",
                hint="Try again, or ask for a smaller page with limit=10.",
            )
        )


def _render_outcome(outcome: Outcome | ChannelDefaultView) -> dict[str, Any]:
    match outcome:
        case TaskReport():
            return render_report(outcome)
        case ParamsView():
            return render_params(outcome)
        case Refusal():
            return render_refusal(outcome)
        case Problem():
            return render_problem(outcome)
        case UnknownInstance():
            return render_unknown_instance(outcome)
        case HelpView():
            return render_help(outcome)
        case WhichInstance():
            return render_which_instance(outcome)
        case DigestAdded():
            return render_digest_added(outcome)
        case DigestListing():
            return render_digest_listing(outcome)
        case DigestRemoved():
            return render_digest_removed(outcome)
        case DigestPreviewView():
            return render_digest_preview(outcome)
        case AlertAdded() | AlertListing() | AlertRemoved():
            return render_alert_outcome(outcome)
        case ChannelDefaultView():
            return render_channel_default(outcome)
    return render_problem(Problem(summary="I have nothing to show for that."))


def shared_copy(outcome: TaskReport | ParamsView, user_id: str) -> dict[str, Any]:
    """The public copy Share posts: the same answer rendered for everyone (times as date tokens,
    nothing relative that would freeze), no buttons (a click on them would change the message
    for everyone), and who shared it."""
    message = render_outcome(replace(outcome, public=True))
    blocks: list[dict[str, Any]] = []
    for block in message.get("blocks", []):
        if block.get("type") == "actions":
            continue
        copy = {k: v for k, v in block.items() if k != "accessory"}
        blocks.append(copy)
    who = f"<@{user_id}>" if _USER_ID.fullmatch(user_id) else (piece(user_id, 40) or "someone")
    # Room for the credit line within Slack's 50 blocks per message.
    blocks = blocks[: MAX_BLOCKS - 1]
    blocks.append(context_block(BlockId.NOTICE.unique("shared"), f"Shared by {who}"))
    copy = checked({"text": message.get("text") or "dms-tasks", "blocks": blocks}, "shared")
    try:
        check_posted_message(copy)
    except InvalidMessage as exc:
        # The rows were budgeted for this; what is left is a bug, still answered in words.
        log.error("the shared copy is too long to post: %s", exc)
        return render_problem(
            Problem(
                summary="This answer is too long to post in the channel.",
                hint="Share a smaller page: run the command again with limit=10.",
            )
        )
    return copy
