"""Alert messages: the post for a task that failed or runs far too long, one post summing up many
at once, and the replies to `alert add | list | remove`.

Posts are read by everyone in the channel, so every time is a Slack date token and nothing is
relative ("running 3 h 10 min" is measured when posted and says so by its token). Key params are
shown as digests show them (redacted, the first few scalar ones); the full record is one click
away, privately, through Open list.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.blockkit import (
    MAX_POSTED_BLOCKS_TEXT,
    MAX_SECTION_TEXT,
    actions_block,
    blocks_text_len,
    button_element,
    context_block,
    section_block,
    slack_len,
    slack_message,
)
from bot.domain.alerts import (
    ALL_TARGETS,
    AlertAdded,
    AlertEvent,
    AlertKind,
    AlertListing,
    AlertRemoved,
    AlertView,
)
from bot.domain.durations import OVERDUE_WITHOUT_HISTORY
from bot.domain.instances import InstanceRef
from bot.domain.query import MAX_WINDOW, Anchor, TaskQuery, TimeWindow, whole_seconds
from bot.domain.tasks import TaskStatus
from bot.ids import ActionId, BlockId
from bot.labels import status_emoji, task_label
from bot.render.button_state import button_state
from bot.render.notices import expectation
from bot.render.params import key_params
from bot.render.safety_net import checked
from bot.render.timewords import date_token, format_duration
from bot.render.words import (
    NAME_LIMIT,
    USER_LIMIT,
    bold,
    command_example,
    join_words,
    piece,
    plural,
    short_task_id,
)

MAX_LISTED = 10  # tasks named in a summary, and alerts in a listing (x2)
MAX_BUTTONS = 5  # Open buttons in a summary, one per instance
MAX_TARGETS = 5  # targets an alert is shown with, by name
OPEN_LABEL = "since the task started"
_USER_ID = re.compile(r"[UW][A-Z0-9]{1,30}")
# Room left in a summary for the blocks around its list.
_SUMMARY_MARGIN = 1500


@dataclass(frozen=True)
class Fired:
    """One event to post, with the instance it happened on (as the alert's channel names it)."""

    instance: InstanceRef
    event: AlertEvent


def _who(user_id: str) -> str:
    return f"<@{user_id}>" if _USER_ID.fullmatch(user_id) else "Someone"


def _watching(view: AlertView) -> str:
    alert = view.alert
    if ALL_TARGETS in alert.targets:
        names = join_words([piece(c, NAME_LIMIT) for c in view.covers[:MAX_LISTED]])
        more = len(view.covers) - MAX_LISTED
        names += f" and {more} more" if more > 0 else ""
        return "every instance this channel may see" + (f" (now {names})" if names else "")
    shown = [piece(t, NAME_LIMIT) for t in alert.targets[:MAX_TARGETS]]
    more = len(alert.targets) - MAX_TARGETS
    return join_words([*shown, f"{more} more"] if more > 0 else shown)


def _what(view: AlertView) -> str:
    return "tasks that fail or run far too long" if view.alert.stuck else "tasks that fail"


# ---- posts -----------------------------------------------------------------------------------


def _why_stuck(fired: Fired, now: datetime) -> str:
    task = fired.event.task
    running = format_duration(now - task.created_at) if task.created_at else "a long time"
    if fired.event.usual is not None:
        return f"running {running}; {expectation(fired.event.usual, 'usually done in {}')}"
    return (
        f"running {running}; no finished run of this kind to compare with, and past "
        f"{format_duration(OVERDUE_WITHOUT_HISTORY)}"
    )


def _detail(fired: Fired, now: datetime) -> str:
    """Who, when and what: one line of a post or of a summary, after the task's name."""
    task = fired.event.task
    pieces = [piece(task.user_name, USER_LIMIT) or "—"]
    if task.created_at is not None:
        pieces.append(f"started {date_token(task.created_at)}")
    if fired.event.kind is AlertKind.STUCK:
        pieces.append(_why_stuck(fired, now))
    else:
        if task.updated_at is not None:
            took = ""
            if task.created_at is not None:
                spent = max(task.updated_at - task.created_at, timedelta(0))
                took = f" (took {format_duration(spent)})"
            pieces.append(f"failed {date_token(task.updated_at)}{took}")
        if params := key_params(task):
            pieces.append(params)
    return " · ".join(pieces)


def _headline(fired: Fired) -> str:
    task, name = fired.event.task, piece(fired.instance.display_name, NAME_LIMIT)
    label = bold(piece(task_label(task.name), NAME_LIMIT))
    if fired.event.kind is AlertKind.STUCK:
        return (
            f"{status_emoji(TaskStatus.EXECUTING)} {label} on {bold(name)} is running far too long"
        )
    return f"{status_emoji(TaskStatus.FAILED)} {label} failed on {bold(name)}"


def _line(fired: Fired, now: datetime) -> str:
    task = fired.event.task
    emoji = TaskStatus.EXECUTING if fired.event.kind is AlertKind.STUCK else TaskStatus.FAILED
    return " · ".join(
        (
            f"{status_emoji(emoji)} {piece(fired.instance.display_name, NAME_LIMIT)}",
            bold(piece(task_label(task.name), NAME_LIMIT)),
            _detail(fired, now),
        )
    )


def _open_button(
    instance: InstanceRef, begin: datetime, now: datetime, n: int, text: str
) -> dict[str, Any] | None:
    """Whoever clicks gets their own listing of the instance since the task started, with the
    usual buttons; the channel's post stays as it is."""
    end = whole_seconds(now) + timedelta(seconds=1)
    # A minute before the task, within the longest window a listing takes, and never past its
    # end: clamped before the arithmetic, since the API may send a time at year 1 or 9999.
    margin = timedelta(minutes=1)
    begin = whole_seconds(min(max(begin, end - MAX_WINDOW + margin), end) - margin)
    window = TimeWindow(begin, end, OPEN_LABEL, Anchor.GROWING)
    target = instance.alias or instance.instance_id
    state = button_state(TaskQuery(target, window))
    return button_element(text, ActionId.OPEN_LIST.unique(n), state)


def _footer(alert_id: str, command: str) -> str:
    return f"alert `{piece(alert_id, 20)}` · stop it with " + command_example(
        f"{command} alert remove {alert_id}"
    )


def render_alert_event(alert_id: str, fired: Fired, now: datetime, command: str) -> dict[str, Any]:
    """The post for one task."""
    task = fired.event.task
    head = _headline(fired)
    body = f"{head}\n{_detail(fired, now)}"
    tid = f"task `{piece(short_task_id(task.id), 20)}`"
    blocks = [
        section_block(BlockId.TASK.unique("alert"), body),
        context_block(BlockId.FOOTER.unique("alert"), f"{tid} · {_footer(alert_id, command)}"),
        actions_block(
            BlockId.TASK_ACTIONS.unique("alert"),
            [_open_button(fired.instance, task.created_at or now, now, 1, "Open list")],
        ),
    ]
    verb = "running far too long" if fired.event.kind is AlertKind.STUCK else "failed"
    # The notification text is read as mrkdwn too: escaped like the blocks.
    text = (
        f"{piece(fired.instance.display_name, NAME_LIMIT)}: "
        f"{piece(task_label(task.name), NAME_LIMIT)} {verb}"
        f" ({piece(task.user_name, USER_LIMIT) or 'unknown user'})"
    )
    return checked(slack_message(text, blocks), "alert")


def render_alert_summary(
    alert_id: str, fired: list[Fired], now: datetime, command: str
) -> dict[str, Any]:
    """One post for many tasks at once: counted, the first few named, the rest one click away."""
    names: list[str] = []
    for f in fired:
        if f.instance.display_name not in names:
            names.append(f.instance.display_name)
    failed = sum(1 for f in fired if f.event.kind is AlertKind.FAILED)
    stuck = len(fired) - failed
    counts = [plural(failed, "task") + " failed"] if failed else []
    if stuck:
        counts.append(plural(stuck, "task") + " running far too long")
    shown = join_words([piece(n, NAME_LIMIT) for n in names[:MAX_BUTTONS]])
    if len(names) > MAX_BUTTONS:
        shown += f" and {len(names) - MAX_BUTTONS} more"
    head = section_block(BlockId.HEADER.unique("alert"), f"🚨 {' and '.join(counts)} on {shown}")
    firsts: dict[str, datetime] = {}
    for f in fired:
        begin = f.event.task.created_at or now
        key = f.instance.display_name
        firsts[key] = min(firsts.get(key, begin), begin)
    by_name = {f.instance.display_name: f.instance for f in fired}
    buttons = [
        _open_button(by_name[name], firsts[name], now, n, f"Open {piece(name, 40)}")
        for n, name in enumerate(names[:MAX_BUTTONS], start=1)
    ]
    tail = [
        context_block(BlockId.FOOTER.unique("alert"), _footer(alert_id, command)),
        actions_block(BlockId.TASK_ACTIONS.unique("alert"), buttons),
    ]
    room = min(
        MAX_SECTION_TEXT,
        MAX_POSTED_BLOCKS_TEXT - blocks_text_len([head, *[b for b in tail if b]]) - _SUMMARY_MARGIN,
    )
    kept: list[str] = []
    used = 60  # the "… and N more" line
    for f in fired[:MAX_LISTED]:
        line = _line(f, now)
        if used + slack_len(line) + 1 > room:
            break
        kept.append(line)
        used += slack_len(line) + 1
    if len(fired) > len(kept):
        kept.append(f"_… and {len(fired) - len(kept)} more: Open list shows them all_")
    listing = section_block(BlockId.TASK.unique("alert"), "\n".join(kept))
    text = f"{' and '.join(counts)} on {shown}"
    return checked(slack_message(text, [head, listing, *tail]), "alert summary")


# ---- replies to the person managing alerts ---------------------------------------------------


def render_alert_announcement(view: AlertView, user_id: str) -> dict[str, Any]:
    """Posted in the channel when an alert is added: everyone there learns what will arrive,
    and the post itself proves the bot can post there."""
    text = (
        f"🚨 {_who(user_id)} added an alert here: {_what(view)} on {_watching(view)} will be "
        "posted in this channel as it happens."
    )
    return checked(
        slack_message(text, [section_block(BlockId.NOTICE.unique("alert"), text)]), "alert"
    )


def render_alert_added(added: AlertAdded) -> dict[str, Any]:
    alert = added.view.alert
    text = (
        f"Alert `{piece(alert.id, 20)}` added: {_what(added.view)} on {_watching(added.view)} "
        f"are posted here from now on ({date_token(alert.created_at)}). What failed or ran long "
        "before that is not posted; a listing of the instance shows it.\n"
        f"Remove it with {command_example(f'{added.command} alert remove {alert.id}')}."
    )
    return checked(
        slack_message(
            f"Alert {alert.id} added", [section_block(BlockId.NOTICE.unique("alert"), text)]
        ),
        "alert",
    )


def _listed(view: AlertView) -> str:
    alert = view.alert
    state = (
        f"*paused* ({piece(alert.paused, 60)}): invite the bot, then add it again"
        if alert.paused
        else "active"
    )
    who = f" by <@{alert.created_by}>" if _USER_ID.fullmatch(alert.created_by) else ""
    return (
        f"`{piece(alert.id, 20)}` · {_what(view)} on {_watching(view)} · {state}\n"
        f"    added{who} {date_token(alert.created_at)}"
    )


def render_alert_listing(listing: AlertListing) -> dict[str, Any]:
    if not listing.alerts:
        text = "This channel has no alerts. Add one with " + command_example(
            f"{listing.command} alert add prod-orders"
        )
        return checked(
            slack_message(text, [section_block(BlockId.NOTICE.unique("alerts"), text)]), "alerts"
        )
    # Each line is bounded, and so is their sum: a reply Slack refuses shows nothing at all.
    lines: list[str] = []
    used = 0
    for v in listing.alerts[: 2 * MAX_LISTED]:
        line = _listed(v)
        if used + slack_len(line) > MAX_POSTED_BLOCKS_TEXT - _SUMMARY_MARGIN:
            break
        lines.append(line)
        used += slack_len(line)
    if len(listing.alerts) > len(lines):
        lines.append(f"… and {len(listing.alerts) - len(lines)} more")
    title = f"{plural(len(listing.alerts), 'alert')} in this channel"
    blocks = [section_block(BlockId.HEADER, f"*{title}*")]
    blocks += [section_block(BlockId.TASK.unique(n), line) for n, line in enumerate(lines)]
    return checked(slack_message(title, blocks), "alerts")


def render_alert_removed(removed: AlertRemoved) -> dict[str, Any]:
    text = f"Alert `{piece(removed.alert.id, 20)}` removed; it will not post again."
    return checked(
        slack_message(text, [section_block(BlockId.NOTICE.unique("alert"), text)]), "alert"
    )


def render_alert_outcome(outcome: AlertAdded | AlertListing | AlertRemoved) -> dict[str, Any]:
    """For bot.render.render_outcome: the reply to an alert command."""
    match outcome:
        case AlertAdded():
            return render_alert_added(outcome)
        case AlertListing():
            return render_alert_listing(outcome)
        case AlertRemoved():
            return render_alert_removed(outcome)
    raise TypeError(type(outcome).__name__)
