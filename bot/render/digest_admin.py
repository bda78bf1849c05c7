"""Replies to `digest add | list | remove | preview`: for the person managing a channel's
digests, so times are in the digest's own zone and also as date tokens."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.blockkit import section_block, slack_message
from bot.domain.digests import ALL_TARGETS, DigestResult, ResultKind
from bot.ids import BlockId
from bot.render.digest import render_digest
from bot.render.safety_net import checked
from bot.render.timewords import date_token
from bot.render.words import NAME_LIMIT, command_example, join_words, piece
from bot.report import DigestAdded, DigestListing, DigestPreviewView, DigestRemoved, DigestScheduled

MAX_LISTED = 20
_USER_ID = re.compile(r"[UW][A-Z0-9]{1,30}")

_RESULT_WORDS = {
    ResultKind.POSTED: "posted",
    ResultKind.NOTHING: "nothing to report",
    ResultKind.SKIPPED: "skipped",
    ResultKind.FAILED: "failed",
    ResultKind.PAUSED: "paused",
}


def _when(moment: datetime, tz: str) -> str:
    local = moment.astimezone(ZoneInfo(tz))
    return f"{local:%a %d %b %H:%M} {local.tzname()} ({date_token(moment)})"


def _schedule(scheduled: DigestScheduled) -> str:
    sub = scheduled.subscription
    return f"{sub.days.value} at {sub.at:%H:%M} {piece(sub.tz, 40)}" + (
        " · quiet" if sub.quiet else ""
    )


def _targets(scheduled: DigestScheduled) -> str:
    sub = scheduled.subscription
    if ALL_TARGETS in sub.targets:
        return "every instance this channel may see" + (
            f" (now {join_words([piece(c, NAME_LIMIT) for c in scheduled.covers])})"
            if scheduled.covers
            else ""
        )
    return join_words([piece(t, NAME_LIMIT) for t in sub.targets])


def _result(result: DigestResult | None, tz: str) -> str:
    if result is None:
        return "not run yet"
    words = _RESULT_WORDS[result.kind]
    detail = f": {piece(result.detail, 120)}" if result.detail else ""
    return f"{words}{detail} ({_when(result.at, tz)})"


def _line(scheduled: DigestScheduled) -> str:
    sub = scheduled.subscription
    nxt = (
        f"next {_when(scheduled.next_run, sub.tz)}"
        if scheduled.next_run
        else f"*paused* ({piece(sub.paused or '', 60)}): invite the bot, then add it again"
    )
    return (
        f"`{piece(sub.id, 20)}` · {_targets(scheduled)} · {_schedule(scheduled)} · {nxt}\n"
        f"    last: {_result(sub.last_result, sub.tz)}"
    )


def render_digest_added(added: DigestAdded) -> dict[str, Any]:
    scheduled = added.digest
    sub = scheduled.subscription
    assert scheduled.next_run is not None
    text = (
        f"Digest `{piece(sub.id, 20)}` added: {_targets(scheduled)}, {_schedule(scheduled)}.\n"
        f"First run: {_when(scheduled.next_run, sub.tz)}, covering the 24 hours before it; then "
        "each covers the time since the one before.\n"
        f"Remove it with {command_example(f'{added.command} digest remove {sub.id}')}."
    )
    return checked(
        slack_message(f"Digest {sub.id} added", [section_block(BlockId.DIGEST, text)]), "digest"
    )


def render_digest_listing(listing: DigestListing) -> dict[str, Any]:
    if not listing.digests:
        text = "This channel has no digests. Add one with " + command_example(
            f"{listing.command} digest add prod-orders at 09:00"
        )
        return checked(slack_message(text, [section_block(BlockId.DIGEST, text)]), "digests")
    lines = [_line(d) for d in listing.digests[:MAX_LISTED]]
    if len(listing.digests) > MAX_LISTED:
        lines.append(f"… and {len(listing.digests) - MAX_LISTED} more")
    blocks = [section_block(BlockId.DIGEST.unique(n), line) for n, line in enumerate(lines)]
    title = f"{len(listing.digests)} digest(s) in this channel"
    return checked(
        slack_message(title, [section_block(BlockId.HEADER, f"*{title}*"), *blocks]), "digests"
    )


def render_digest_removed(removed: DigestRemoved) -> dict[str, Any]:
    text = f"Digest `{piece(removed.subscription.id, 20)}` removed; it will not post again."
    return checked(slack_message(text, [section_block(BlockId.DIGEST, text)]), "digest")


def render_digest_preview(preview: DigestPreviewView) -> dict[str, Any]:
    message = render_digest(preview.report)
    if message is None:  # only quiet digests stay silent, and a preview is never quiet
        text = "Nothing to report."
        return checked(slack_message(text, [section_block(BlockId.DIGEST, text)]), "preview")
    return message


def render_digest_announcement(scheduled: DigestScheduled, user_id: str) -> dict[str, Any]:
    """Posted in the channel when a digest is added: everyone there learns what will arrive,
    and the post itself proves the bot can post there."""
    who = f"<@{user_id}>" if _USER_ID.fullmatch(user_id) else "Someone"
    first = date_token(scheduled.next_run) if scheduled.next_run else "soon"
    text = (
        f"📬 {who} added a digest of {_targets(scheduled)} here: {_schedule(scheduled)}. "
        f"The first one arrives {first}."
    )
    return checked(slack_message(text, [section_block(BlockId.DIGEST, text)]), "announcement")
