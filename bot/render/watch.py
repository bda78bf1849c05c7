"""Watch messages: the Watch button on a running task's row, the message a watch owns and edits
in place, the reply in its thread when the task ends, and the private answers to Watch and Stop.

The watch message is read by everyone in the conversation and edited for hours, so times are
Slack date tokens; "running 1 h 12 min" is measured at the look it says it was ("checked"), as
the message is edited after every look that changed it. Everything from the API or a person is
escaped and cut (bot.render.words.piece); every message is checked before it leaves.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.blockkit import (
    actions_block,
    button_element,
    context_block,
    section_block,
    slack_message,
)
from bot.domain.tasks import Task
from bot.domain.watches import (
    AlreadyFinished,
    AlreadyWatched,
    EndReason,
    NotWatching,
    Stopping,
    StopRefused,
    StopValue,
    TooManyWatches,
    Watch,
    WatchLimits,
    WatchOutcome,
    WatchStarted,
    WatchValue,
    task_duration,
)
from bot.ids import ActionId, BlockId
from bot.labels import status_emoji, status_word, task_label
from bot.render.params import key_params
from bot.render.safety_net import checked
from bot.render.timewords import date_token, format_duration
from bot.render.words import NAME_LIMIT, bold, piece, short_task_id

ERROR_LIMIT = 300
STEP_LIMIT = 60
_USER_ID = re.compile(r"[UW][A-Z0-9]{1,30}")
_TS = re.compile(r"\d{1,12}\.\d{1,6}")
_CHANNEL = re.compile(r"[CG][A-Z0-9]{1,30}")


def watch_button(
    target: str, task_id: str, *, n: int | str = 1, text: str = "Watch"
) -> dict[str, Any] | None:
    """The Watch button for a task row (action WATCH, unique within the message by `n`), or
    None when its value cannot be made (a target or task id no button can carry): one button
    that Slack would refuse must not take the whole listing with it."""
    try:
        value = WatchValue(target, task_id).encode()
    except ValueError:
        return None
    return button_element(text, ActionId.WATCH.unique(n), value)


def _who(user_id: str) -> str:
    return f"<@{user_id}>" if _USER_ID.fullmatch(user_id) else "someone"


def _label(watch: Watch) -> str:
    if watch.task is not None and watch.task.name.strip():
        return piece(task_label(watch.task.name), NAME_LIMIT)
    return f"task {piece(short_task_id(watch.task_id), 20)}"


def _what(watch: Watch) -> str:
    """`*Add brokers* on *prod-orders*`."""
    return f"{bold(_label(watch))} on {bold(piece(watch.instance.display_name, NAME_LIMIT))}"


def _status(task: Task | None) -> str:
    if task is None:
        return "❔ not seen yet"
    return f"{status_emoji(task.status)} {piece(status_word(task.status), 30)}"


def _progress(watch: Watch) -> str:
    progress = watch.progress
    if progress is None:
        return ""
    pieces = [f"{progress.percentage} %"]
    if progress.step:
        pieces.append(f"step {piece(progress.step, STEP_LIMIT)}")
    if progress.remain_s:
        pieces.append(f"about {format_duration(timedelta(seconds=progress.remain_s))} left")
    return " · ".join(pieces)


def _lifetime(limits: WatchLimits) -> str:
    hours = limits.lifetime.total_seconds() / 3600
    return f"{hours:g} h" if hours == int(hours) else format_duration(limits.lifetime)


def _started(watch: Watch, now: datetime) -> str:
    """`started <date> · running 1 h 12 min · asked by <@U>`."""
    task = watch.task
    pieces = []
    if task is not None and task.created_at is not None:
        pieces.append(f"started {date_token(task.created_at)}")
        spent = task_duration(task, watch.checked_at or now)
        if spent is not None and task.is_active:
            pieces.append(f"running {format_duration(spent)}")
    pieces.append(f"asked by {_who(watch.user_id)}")
    return " · ".join(pieces)


def _footer(watch: Watch) -> str:
    pieces = [f"task `{piece(short_task_id(watch.task_id), 20)}`"]
    if watch.checked_at is not None:
        pieces.append(f"checked {date_token(watch.checked_at)}")
    return " · ".join(pieces)


def _took(task: Task, now: datetime) -> str:
    spent = task_duration(task, now)
    return f" after {format_duration(spent)}" if spent is not None else ""


def _final_head(watch: Watch, now: datetime, limits: WatchLimits) -> str:
    assert watch.ending is not None
    reason, task = watch.ending.reason, watch.task
    last = f"{_status(task)}" + (f", {_progress(watch)}" if _progress(watch) else "")
    if reason is EndReason.FINISHED and task is not None:
        head = (
            f"{status_emoji(task.status)} {_what(watch)} finished: "
            f"{bold(piece(task.status_upper, 30))}{_took(task, now)}"
        )
        if task.status_upper == "FAILED" and (params := key_params(task)):
            head += f"\n{params}"
        return head
    if reason is EndReason.GONE:
        return (
            f"🗑 {_what(watch)}: the task record is gone (deleted upstream, or its instance "
            f"was), so I stopped watching. Last seen: {last}."
        )
    if reason is EndReason.EXPIRED:
        return (
            f"⌛ Stopped watching {_what(watch)} after {_lifetime(limits)}; it was still "
            f"{last}. Press Watch on a new listing to keep following it."
        )
    if reason is EndReason.NO_ACCESS:
        return (
            f"⏹ Stopped watching {_what(watch)}: the bot's access rules no longer let this "
            "conversation see it."
        )
    who = _who(watch.ending.by or watch.user_id)
    return (
        f"⏹ Stopped watching {_what(watch)}: {who} stopped it {date_token(watch.ending.at)}. "
        f"Last seen: {last}."
    )


def render_watch(watch: Watch, now: datetime, limits: WatchLimits | None = None) -> dict[str, Any]:
    """The message the watch owns: its live state with a Stop watching button, or, once it has
    ended, its final state without one."""
    limits = limits or WatchLimits()
    if watch.ending is not None:
        task = watch.task
        lines = [_final_head(watch, now, limits)]
        times = []
        if task is not None and task.created_at is not None:
            times.append(f"started {date_token(task.created_at)}")
        if task is not None and not task.is_active and task.updated_at is not None:
            times.append(f"ended {date_token(task.updated_at)}")
        times.append(f"asked by {_who(watch.user_id)}")
        lines.append(" · ".join(times))
        blocks = [
            section_block(BlockId.WATCH.unique("state"), "\n".join(lines)),
            context_block(BlockId.WATCH.unique("footer"), _footer(watch)),
        ]
        text = _plain_final(watch, now, limits)
        return checked(slack_message(text, list(blocks)), "watch")
    lines = [f"👀 Watching {_what(watch)} · {_status(watch.task)}"]
    if progress := _progress(watch):
        lines.append(progress)
    lines.append(_started(watch, now))
    if watch.error:
        retry = format_duration(timedelta(seconds=max(watch.interval_s, 1)))
        lines.append(
            f"⚠ could not check: {piece(watch.error, ERROR_LIMIT)} Trying again in {retry}."
        )
    stop = button_element(
        "Stop watching",
        ActionId.WATCH_STOP.unique(1),
        StopValue(watch.id, watch.generation).encode(),
    )
    blocks = [
        section_block(BlockId.WATCH.unique("state"), "\n".join(lines)),
        context_block(
            BlockId.WATCH.unique("footer"),
            f"{_footer(watch)} · edited as the task moves on, with a reply in the thread "
            "when it ends",
        ),
        actions_block(BlockId.WATCH_ACTIONS, [stop]),
    ]
    text = f"Watching {_plain_what(watch)}: {_plain_status(watch.task)}"
    return checked(slack_message(text, list(blocks)), "watch")


def render_watch_reply(
    watch: Watch, now: datetime, limits: WatchLimits | None = None
) -> dict[str, Any]:
    """The reply in the message's thread when the watch ends, mentioning whoever asked."""
    limits = limits or WatchLimits()
    assert watch.ending is not None
    reason, task, who = watch.ending.reason, watch.task, _who(watch.user_id)
    if reason is EndReason.FINISHED and task is not None:
        text = (
            f"{who} {_what(watch)} finished: {bold(piece(task.status_upper, 30))}{_took(task, now)}"
        )
        if task.status_upper == "FAILED" and (params := key_params(task)):
            text += f" · {params}"
    elif reason is EndReason.GONE:
        text = (
            f"{who} the task record of {_what(watch)} is gone (deleted upstream), so I stopped "
            "watching it."
        )
    elif reason is EndReason.EXPIRED:
        text = (
            f"{who} I stopped watching {_what(watch)} after {_lifetime(limits)}; it was still "
            f"{_plain_status(task)}."
        )
    else:
        text = f"{who} I stopped watching {_what(watch)}: the bot's access rules changed."
    return checked(slack_message(text, [section_block(BlockId.WATCH.unique("end"), text)]), "watch")


def _plain_what(watch: Watch) -> str:
    return f"{_label(watch)} on {piece(watch.instance.display_name, NAME_LIMIT)}"


def _plain_status(task: Task | None) -> str:
    return piece(status_word(task.status), 30) if task is not None else "not seen yet"


def _plain_final(watch: Watch, now: datetime, limits: WatchLimits) -> str:
    assert watch.ending is not None
    reason, task = watch.ending.reason, watch.task
    if reason is EndReason.FINISHED and task is not None:
        return f"{_plain_what(watch)} finished: {piece(task.status_upper, 30)}{_took(task, now)}"
    if reason is EndReason.GONE:
        return f"{_plain_what(watch)}: the task record is gone"
    if reason is EndReason.EXPIRED:
        return f"Stopped watching {_plain_what(watch)} after {_lifetime(limits)}"
    return f"Stopped watching {_plain_what(watch)}"


# ---- private answers to Watch and Stop -------------------------------------------------------


def _where(watch: Watch) -> str:
    if watch.in_dm:
        return "in your DM with the bot"
    channel = (
        f"<#{watch.channel_id}>" if re.fullmatch(r"[CG][A-Z0-9]{1,30}", watch.channel_id) else ""
    )
    if watch.thread_ts:
        return "in this thread"
    return f"in {channel}" if channel else "in this conversation"


def _posted_at(watch: Watch) -> str:
    if not _TS.fullmatch(watch.message_ts):
        return ""
    moment = datetime.fromtimestamp(float(watch.message_ts), UTC)
    return f" (posted {date_token(moment)})"


def render_watch_outcome(
    outcome: WatchOutcome, limits: WatchLimits | None = None
) -> dict[str, Any]:
    """The private answer to a Watch or Stop watching click."""
    limits = limits or WatchLimits()
    match outcome:
        case WatchStarted(watch=watch, dm_reason=reason):
            why = {
                "not_in_channel": " (the bot is not in this channel, so it posts there instead)",
                "restricted": " (this instance is limited to certain people, so not in the "
                "channel)",
            }.get(reason or "", "")
            text = (
                f"👀 Watching {_what(watch)} {_where(watch)}{why}. Its message is edited as the "
                f"task moves on, and you are mentioned when it ends (or after "
                f"{_lifetime(limits)})."
            )
        case AlreadyWatched(watch=watch, link=link):
            message = f"<{link}|its message>" if link else f"its message{_posted_at(watch)}"
            text = f"You are already watching {_what(watch)}: see {message} {_where(watch)}."
        case AlreadyFinished(instance=instance, task=task, now=now):
            name = piece(task_label(task.name), NAME_LIMIT)
            text = (
                f"{status_emoji(task.status)} {bold(name)} on "
                f"{bold(piece(instance.display_name, NAME_LIMIT))} has already finished: "
                f"{bold(piece(task.status_upper, 30))}{_took(task, now)}. Nothing to watch."
            )
        case TooManyWatches(limit=limit, per_user=True, yours=yours):
            names = ", ".join(_plain_what(w) for w in yours[:limit])
            text = (
                f"You are watching {limit} tasks already, the most one person may"
                + (f" ({names})" if names else "")
                + ". Stop one with its Stop watching button, then press Watch again."
            )
        case TooManyWatches(limit=limit):
            text = (
                f"The bot is watching {limit} tasks already, the most it follows at once. Try "
                "again when some have finished."
            )
        case StopRefused(watch=watch):
            text = (
                f"Only {_who(watch.user_id)} can stop this watch: it mentions them when the task "
                f"ends. It stops by itself after {_lifetime(limits)}."
            )
        case Stopping():
            text = "Stopping: the message says so as soon as the look under way is done."
        case NotWatching():
            text = "This watch has already ended."
        case _:
            text = "I have nothing to show for that."
    message = slack_message(text, [section_block(BlockId.NOTICE.unique("watch"), text)])
    return checked(message, "watch")
