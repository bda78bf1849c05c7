"""The daily digest, as posted to a channel: the period, one line per instance, what failed,
what is still running, the busiest kinds of task, and a button to open the full list.

Everyone in the channel reads it, so every time is a Slack date token and nothing is relative.
Thousands of tasks are summarised, never listed: the failure and running lists are capped, and
the whole message stays under what chat.postMessage accepts.
"""

from __future__ import annotations

from typing import Any

from bot.blockkit import (
    MAX_POSTED_BLOCKS_TEXT,
    MAX_SECTION_TEXT,
    actions_block,
    blocks_text_len,
    button_element,
    context_block,
    escape,
    section_block,
    slack_len,
    slack_message,
)
from bot.domain.query import Anchor, TaskQuery, TimeWindow
from bot.domain.tasks import Task, TaskStatus
from bot.ids import ActionId, BlockId
from bot.labels import status_emoji, status_word, task_label
from bot.render.button_state import button_state
from bot.render.notices import expectation
from bot.render.params import key_params
from bot.render.safety_net import checked
from bot.render.timewords import date_token, format_duration
from bot.render.words import NAME_LIMIT, USER_LIMIT, bold, join_words, piece, plural
from bot.report import DigestReport, InstanceDigest

MAX_LISTED = 10  # failures, and running tasks, listed by name
MAX_BUTTONS = 5  # "Open full list" buttons, one per instance
DIGEST_LABEL = "digest period"


def _period(report: DigestReport) -> str:
    return f"{date_token(report.begin)} → {date_token(report.end)}"


def _change(part: InstanceDigest) -> str:
    if part.previous_total is None:
        return ""
    delta = part.total - part.previous_total
    if delta == 0:
        return "  = same as the period before"
    arrow = "▲" if delta > 0 else "▼"
    return f"  {arrow} {delta:+d} vs the period before"


def _instance_line(part: InstanceDigest, report: DigestReport) -> str:
    name = bold(piece(part.instance.display_name, NAME_LIMIT))
    if part.unavailable:
        return f"{name}  unavailable: {piece(part.unavailable, 300)} (the next digest tries again)"
    if part.total == 0 and not part.running:
        return f"{name}  no tasks"
    pieces = [plural(part.total, "task")]
    failed = part.counts.get(TaskStatus.FAILED, 0)
    if failed:
        pieces.append(f"{status_emoji(TaskStatus.FAILED)} {failed} failed")
    if part.running:
        running = f"{status_emoji(TaskStatus.EXECUTING)} {len(part.running)} running"
        overdue = [t for t in part.running if t.id in part.overdue and t.created_at]
        if overdue:
            longest = max(report.now - t.created_at for t in overdue if t.created_at)
            running += f" (⚠ {format_duration(longest)})"
        pieces.append(running)
    if not failed and not part.running and part.total:
        pieces.append(
            "all finished" if part.counts.get(TaskStatus.SUCCESS) != part.total else "all succeeded"
        )
    line = f"{name}  " + "  ".join(pieces) + _change(part)
    if part.shortfall:
        line += f"  (⚠ the API counted {part.shortfall} more than it returned)"
    return line


def _task_line(part: InstanceDigest, task: Task, report: DigestReport) -> str:
    pieces = [
        f"{status_emoji(task.status)} {piece(part.instance.display_name, NAME_LIMIT)}",
        bold(piece(task_label(task.name), NAME_LIMIT)),
        piece(task.user_name, USER_LIMIT) or "—",
    ]
    if task.created_at is not None:
        pieces.append(date_token(task.created_at))
    if task.is_active and task.created_at is not None:
        running = f"running {format_duration(report.now - task.created_at)}"
        if task.id in part.started_earlier:
            running += ", started before this period"
        usual = part.overdue.get(task.id)
        if task.id in part.overdue:
            running += f" ⚠ {expectation(usual)}" if usual else " ⚠ far too long"
        pieces.append(running)
        if task.status_upper not in (TaskStatus.EXECUTING, TaskStatus.CREATED):
            pieces.append(piece(status_word(task.status), 30))
    else:
        params = key_params(task)
        if params:
            pieces.append(params)
    return " · ".join(pieces)


def _list_section(
    block_id: str, title: str, lines: list[str], total: int, room: int
) -> dict[str, Any] | None:
    """A titled list cut to `room` characters (and MAX_LISTED lines), saying how many it left."""
    if not lines:
        return None
    kept: list[str] = []
    used = slack_len(title) + 60
    for line in lines[:MAX_LISTED]:
        cost = slack_len(line) + 1
        if used + cost > min(room, MAX_SECTION_TEXT):
            break
        kept.append(line)
        used += cost
    more = total - len(kept)
    if more > 0:
        kept.append(f"_… and {more} more: Open full list_")
    return section_block(block_id, f"*{title}*\n" + "\n".join(kept))


def _open_buttons(report: DigestReport) -> dict[str, Any] | None:
    window = TimeWindow(report.begin, report.end, DIGEST_LABEL, Anchor.FIXED)
    buttons = []
    readable = [p for p in report.instances if not p.unavailable]
    for n, part in enumerate(readable[:MAX_BUTTONS], start=1):
        target = part.instance.alias or part.instance.instance_id
        text = (
            "Open full list"
            if len(readable) == 1
            else f"Open {piece(part.instance.display_name, 40)}"
        )
        buttons.append(
            button_element(
                text, ActionId.OPEN_LIST.unique(n), button_state(TaskQuery(target, window))
            )
        )
    return actions_block(BlockId.TASK_ACTIONS.unique("digest"), buttons)


def render_digest(report: DigestReport) -> dict[str, Any] | None:
    """The digest message; None for a quiet digest with nothing to say and nothing to post."""
    names = [piece(p.instance.display_name, NAME_LIMIT) for p in report.instances]
    period = _period(report)
    if report.nothing_happened and report.quiet:
        if report.silent:
            return None
        text = f"Nothing happened on {join_words(names) or 'these instances'} · {period}"
        return checked(slack_message(text, [section_block(BlockId.DIGEST, text)]), "digest")
    head = section_block(BlockId.DIGEST, f"*Kafka background tasks* · {period}")
    lines = [_instance_line(p, report) for p in report.instances] or ["No instances to report."]
    summary = section_block(BlockId.COUNTS, "\n".join(lines)[:MAX_SECTION_TEXT])
    tail: list[dict[str, Any] | None] = []
    busiest = [
        f"{escape(name)} ×{count}"
        for part in report.instances
        for name, count in part.busiest[: 1 if len(report.instances) > 3 else 3]
    ]
    if busiest:
        tail.append(
            context_block(BlockId.FOOTER.unique("busiest"), "Busiest: " + ", ".join(busiest[:6]))
        )
    if report.refused:
        tail.append(
            context_block(
                BlockId.NOTICE.unique("refused"),
                "Not included: " + ", ".join(piece(r, 120) for r in report.refused[:10]),
            )
        )
    tail.append(_open_buttons(report))
    fixed = [b for b in (head, summary, *tail) if b]
    room = MAX_POSTED_BLOCKS_TEXT - blocks_text_len(fixed) - 100
    failed = [(p, t) for p in report.instances for t in p.failed]
    running = [(p, t) for p in report.instances for t in p.running]
    failures = _list_section(
        BlockId.TASK.unique("failed"),
        "Failures",
        [_task_line(p, t, report) for p, t in failed],
        len(failed),
        room // 2,
    )
    still = _list_section(
        BlockId.TASK.unique("running"),
        "Still running",
        [_task_line(p, t, report) for p, t in running],
        len(running),
        room // 2,
    )
    text = f"Kafka background tasks: {join_words(names) or 'no instances'}"
    return checked(slack_message(text, [head, summary, failures, still, *tail]), "digest")
