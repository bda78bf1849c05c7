"""Service results -> Slack messages (`{"text": ..., "blocks": [...]}`), and the same messages as
plain text for the terminal. Pure: no I/O, the clock comes in the results.

Everything that came from a user or the API passes through `escape` (or its code variants) before
it reaches mrkdwn, and every message is checked against Block Kit's limits before it leaves. Any
content, however long or strange, is shortened with "…" rather than allowed to break a limit: a
message Slack rejects shows the user nothing at all.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.blockkit import (
    ELLIPSIS,
    FALLBACK_TEXT_LIMIT,
    MAX_ACTIONS_ELEMENTS,
    MAX_BLOCKS,
    MAX_BUTTON_VALUE,
    MAX_SECTION_TEXT,
    InvalidMessage,
    check_message,
    code_block,
    escape,
    escape_code_block,
    escape_inline_code,
    iter_elements,
    slack_len,
    strip_code_guards,
    truncate,
    unescape,
)
from bot.domain.durations import DurationRange
from bot.domain.instances import InstanceRef
from bot.domain.query import MAX_WINDOW, TaskQuery
from bot.domain.tasks import Task, TaskStatus
from bot.grammar.state import encode_state
from bot.grammar.words import DEFAULT_LABEL, MAX_LIMIT
from bot.ids import ActionId, BlockId
from bot.labels import STATUS_ORDER, status_emoji, status_word, task_label
from bot.redact import REDACTED, redact
from bot.render.timewords import describe_window, format_day, format_duration
from bot.report import HelpView, Outcome, ParamsView, Problem, Refusal, TaskReport, UnknownInstance

log = logging.getLogger(__name__)

EXAMPLE_INSTANCE = "prod-orders"

# How much of each user- or API-derived piece a task row may take. A row stays one line on a
# laptop screen; the full name is in the Params view.
ROW_LABEL_LIMIT = 80
ROW_USER_LIMIT = 40
# When a page has more tasks than blocks allow one section each, rows are packed this many to a
# section, each section followed by the Params buttons of its rows. Row pieces are cut shorter so
# that ten rows always fit one section: 10 x (60 + 30 + ~150 of fixed text) < 3000.
PACKED_ROWS_PER_SECTION = 10
PACKED_LABEL_LIMIT = 60
PACKED_USER_LIMIT = 30
# Pieces of the header and filter text.
NAME_LIMIT = 80
FILTER_VALUE_LIMIT = 80
COUNTS_TEXT_LIMIT = 2000
PARAMS_LINE_VALUE_LIMIT = 200
PARAMS_KEY_LIMIT = 80
PARAMS_SUMMARY_LINES = 30
MAX_LISTED_CHANNELS = 10
MAX_LISTED_INSTANCES = 30
FRESH = timedelta(seconds=5)

# Slack conversation ids: C (public), G (private / mpim), D (IM). Only these become <#...> links.
# Matched with fullmatch: `$` alone would let a trailing newline into the token.
_CHANNEL_ID = re.compile(r"[CGD][A-Z0-9]{1,30}")
_USER_ID = re.compile(r"[UW][A-Z0-9]{1,30}")


# ---- small pieces ----------------------------------------------------------------------------


def _mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": text}


def _plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text, "emoji": True}


def _section(block_id: str, text: str, accessory: dict[str, Any] | None = None) -> dict[str, Any]:
    block: dict[str, Any] = {
        "type": "section",
        "block_id": block_id,
        "text": _mrkdwn(truncate(text, MAX_SECTION_TEXT) or "—"),
    }
    if accessory is not None:
        block["accessory"] = accessory
    return block


def _context(block_id: str, *texts: str) -> dict[str, Any]:
    return {
        "type": "context",
        "block_id": block_id,
        "elements": [_mrkdwn(truncate(t, MAX_SECTION_TEXT)) for t in texts if t.strip()][:10],
    }


def _button(text: str, action_id: str, value: str | None) -> dict[str, Any] | None:
    """A button, or None when its value cannot fit (the button would break the whole message)."""
    if not value:
        return None
    if slack_len(value) > MAX_BUTTON_VALUE:
        log.warning("button %s dropped: value is %d characters", action_id, len(value))
        return None
    return {"type": "button", "text": _plain(text), "action_id": action_id, "value": value}


def _actions(block_id: str, buttons: Iterable[dict[str, Any] | None]) -> dict[str, Any] | None:
    elements = [b for b in buttons if b is not None][:MAX_ACTIONS_ELEMENTS]
    if not elements:
        return None
    return {"type": "actions", "block_id": block_id, "elements": elements}


def _state(query: TaskQuery, *, task_id: str | None = None) -> str | None:
    try:
        return encode_state(query, task_id=task_id)
    except (ValueError, TypeError):
        log.warning("could not encode a button state", exc_info=True)
        return None


def _message(text: str, blocks: list[dict[str, Any] | None]) -> dict[str, Any]:
    return {
        "text": truncate(text.strip() or "dms-tasks", FALLBACK_TEXT_LIMIT),
        "blocks": [b for b in blocks if b is not None],
    }


def short_id(value: str) -> str:
    """`4f1c2a3b-...-9d8ce2a1` -> `4f1c…e2a1`: enough to tell instances apart at a glance."""
    return value if len(value) <= 10 else f"{value[:4]}{ELLIPSIS}{value[-4:]}"


def short_task_id(value: str) -> str:
    return value if len(value) <= 10 else f"{value[:8]}{ELLIPSIS}"


def _bold(escaped: str) -> str:
    # An asterisk inside would end the bold span early and leave a stray one on screen.
    return f"*{escaped.replace('*', '∗')}*" if escaped.strip() else escaped


def _piece(text: str, limit: int) -> str:
    """User- or API-derived text, escaped, on one line, at most `limit` long."""
    return truncate(escape(" ".join(text.split())), limit)


def _join_words(items: Sequence[str], conjunction: str = "and") -> str:
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} {conjunction} {items[-1]}"


def _tz_name(tz: ZoneInfo, at: datetime) -> str:
    return at.astimezone(tz).tzname() or str(tz)


def _clock_time(moment: datetime, tz: ZoneInfo, now: datetime) -> str:
    try:
        local = moment.astimezone(tz)
    except OverflowError:
        # A timestamp at the edge of year 1 or 9999 (the API sends what it has) has no local time.
        return f"{moment.date().isoformat()} {moment:%H:%M} UTC"
    today = now.astimezone(tz).date()
    clock = f"{local:%H:%M}"
    return clock if local.date() == today else f"{format_day(local.date(), today)} {clock}"


def _ago(moment: datetime, now: datetime) -> str:
    delta = now - moment
    if delta < timedelta(minutes=1):
        # Also covers small clock differences between DMS and us (a start "in the future").
        return "just now"
    return f"{format_duration(delta)} ago"


def _usual(usual: DurationRange) -> str:
    low, high = format_duration(usual.low), format_duration(usual.high)
    if low == high:
        return low
    low_num, _, low_unit = low.rpartition(" ")
    high_num, _, high_unit = high.rpartition(" ")
    if low_unit == high_unit and low_num and high_num and " " not in low_num + high_num:
        return f"{low_num}–{high_num} {low_unit}"
    return f"{low}–{high}"


def _describe_filters(query: TaskQuery) -> str:
    filters = query.filters
    parts: list[str] = []
    if filters.statuses:
        parts.append("status=" + ",".join(sorted(status_word(s) for s in filters.statuses)))
    if filters.name_glob:
        parts.append(f"name={filters.name_glob}")
    if filters.user:
        parts.append(f"user={filters.user}")
    return _piece(" ".join(parts), FILTER_VALUE_LIMIT * 3)


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


# ---- the task list ---------------------------------------------------------------------------


def _instance_heading(instance: InstanceRef) -> str:
    name = _piece(instance.display_name, NAME_LIMIT)
    if instance.display_name == instance.instance_id:
        return _bold(_piece(short_id(instance.instance_id), NAME_LIMIT))
    return f"{_bold(name)} ({_piece(short_id(instance.instance_id), NAME_LIMIT)})"


def _window_text(report: TaskReport) -> str:
    try:
        return escape(describe_window(report.query.window, report.tz, now=report.now))
    except (ValueError, TypeError, OverflowError):
        return escape(report.query.window.label)


def _status_counts(report: TaskReport) -> dict[str, int]:
    """The window's counts by upper-case status; spellings of one status are added up."""
    counts: dict[str, int] = {}
    for status, count in report.window_counts.items():
        key = str(status).strip().upper()
        counts[key] = counts.get(key, 0) + count
    return counts


def _counts_text(report: TaskReport) -> str:
    counts = _status_counts(report)
    total = report.window_total
    ordered = [s for s in STATUS_ORDER if counts.get(s)]
    ordered += sorted(s for s in counts if s not in STATUS_ORDER and counts[s])
    parts = [f"{status_emoji(s)} {counts[s]} {_piece(status_word(s), 40)}" for s in ordered]
    line = _bold(_plural(total, "task"))
    shown = 0
    for part in parts:
        if slack_len(line) + slack_len(part) + 40 > COUNTS_TEXT_LIMIT:
            break
        line += "   " + part
        shown += 1
    if shown < len(parts):
        line += f"   and {len(parts) - shown} more statuses"
    return line


def _summary_text(report: TaskReport) -> str:
    filters = _describe_filters(report.query)
    if report.window_total == 0:
        return "No tasks in this window."
    if report.query.filters.active and report.matched == 0:
        return (
            f"No tasks match {filters} in this window; "
            f"{_plural(report.window_total, 'task')} in total."
        )
    text = _counts_text(report)
    if report.query.filters.active:
        text += f"\n{report.matched} match {filters}"
    if not report.page_tasks:
        text += (
            f"\nNothing on page {report.page}: there "
            f"{'is 1 page' if report.pages == 1 else f'are {report.pages} pages'}."
        )
    return text


def _duration_text(task: Task, report: TaskReport) -> str:
    status = task.status_upper
    start, end = task.created_at, task.updated_at
    if start is None:
        return ""
    if status == TaskStatus.EXECUTING:
        text = f"running for {format_duration(max(report.now - start, timedelta(0)))}"
        if task.id in report.overdue:
            usual = report.overdue[task.id]
            text += f"  ⚠ usually {_usual(usual)}" if usual else "  ⚠ running far too long"
        return text
    if status == TaskStatus.CREATED:
        return f"queued for {format_duration(max(report.now - start, timedelta(0)))}"
    if end is not None:
        return f"took {format_duration(max(end - start, timedelta(0)))}"
    return ""


def _task_row(task: Task, report: TaskReport, *, label_limit: int, user_limit: int) -> str:
    label = _bold(_piece(task_label(task.name), label_limit))
    known = task.status_upper in STATUS_ORDER
    status = "" if known else f" ({_piece(status_word(task.status), 30)})"
    user = _piece(task.user_name, user_limit) or "—"
    if task.created_at is not None:
        start = (
            f"{_clock_time(task.created_at, report.tz, report.now)} "
            f"({_ago(task.created_at, report.now)})"
        )
    else:
        start = "start unknown"
    pieces = [f"{status_emoji(task.status)}  {label}{status}", user, start]
    duration = _duration_text(task, report)
    if duration:
        pieces.append(duration)
    return "  ·  ".join(pieces)


def _params_button(task: Task, report: TaskReport, text: str, n: int) -> dict[str, Any] | None:
    if not task.id or not task.has_params:
        return None
    return _button(text, ActionId.PARAMS.unique(n), _state(report.query, task_id=task.id))


def _row_groups(report: TaskReport, room: int) -> list[tuple[int, list[dict[str, Any]]]]:
    """The task blocks, as (tasks in the group, blocks) so that whole groups can be dropped."""
    tasks = report.page_tasks
    if len(tasks) <= room:
        groups = []
        for n, task in enumerate(tasks, start=1):
            row = _task_row(task, report, label_limit=ROW_LABEL_LIMIT, user_limit=ROW_USER_LIMIT)
            button = _params_button(task, report, "Params", n)
            groups.append((1, [_section(BlockId.TASK.unique(n), row, button)]))
        return groups
    groups = []
    for first in range(0, len(tasks), PACKED_ROWS_PER_SECTION):
        chunk = tasks[first : first + PACKED_ROWS_PER_SECTION]
        rows, buttons = [], []
        for n, task in enumerate(chunk, start=first + 1):
            row = _task_row(
                task, report, label_limit=PACKED_LABEL_LIMIT, user_limit=PACKED_USER_LIMIT
            )
            rows.append(f"`{n}`  {row}")
            buttons.append(_params_button(task, report, f"Params {n}", n))
        blocks = [_section(BlockId.TASK.unique(first + 1), "\n".join(rows))]
        actions = _actions(BlockId.TASK_ACTIONS.unique(first + 1), buttons)
        if actions is not None:
            blocks.append(actions)
        groups.append((len(chunk), blocks))
    return groups


def _has_problems(report: TaskReport) -> bool:
    counts = _status_counts(report)
    return any(counts.get(s, 0) > 0 for s in (TaskStatus.FAILED, TaskStatus.EXECUTING))


def _pager(report: TaskReport) -> list[dict[str, Any] | None]:
    query = report.query
    buttons: list[dict[str, Any] | None] = []
    if report.page > 1:
        buttons.append(
            _button("◀ Prev", ActionId.PREV.unique(1), _state(replace(query, page=report.page - 1)))
        )
    if report.page < report.pages:
        buttons.append(
            _button("Next ▶", ActionId.NEXT.unique(1), _state(replace(query, page=report.page + 1)))
        )
    buttons.append(_button("↻ Refresh", ActionId.REFRESH.unique(1), _state(query)))
    buttons.append(_button("Share in channel", ActionId.SHARE.unique(1), _state(query)))
    if _has_problems(report) and not query.filters.statuses:
        problems = replace(
            query,
            filters=replace(
                query.filters, statuses=frozenset({TaskStatus.FAILED, TaskStatus.EXECUTING})
            ),
            page=1,
        )
        buttons.append(
            _button("Show failed & running", ActionId.SHOW_PROBLEMS.unique(1), _state(problems))
        )
    page_line = (
        _context(BlockId.PAGER.unique("page"), _page_line(report))
        if report.pages > 1 or report.requested_page
        else None
    )
    return [page_line, _actions(BlockId.PAGER, buttons)]


def _page_line(report: TaskReport) -> str:
    line = f"Page {report.page} of {report.pages}"
    if report.requested_page:
        line += f" (there is no page {report.requested_page}; this is the last)"
    return line


def _footer(report: TaskReport) -> dict[str, Any]:
    age = report.now - report.fetched_at
    if report.from_cache:
        fresh = "fetched just now" if age < FRESH else f"fetched {format_duration(age)} ago"
        fresh += " (cached)"
    else:
        fresh = "fetched just now"
    # The zone is the configured default when Slack did not tell us the user's, so the footer
    # names it without claiming whose it is.
    zone = escape(_tz_name(report.tz, report.now))
    return _context(BlockId.FOOTER, f"{fresh} · times in {zone}")


def _report_text(report: TaskReport) -> str:
    counts = _status_counts(report)
    details = [
        f"{counts[s]} {status_word(s)}"
        for s in (TaskStatus.FAILED, TaskStatus.EXECUTING)
        if counts.get(s)
    ]
    name = _piece(report.instance.display_name, NAME_LIMIT)
    summary = _plural(report.window_total, "task")
    if details:
        summary += f" ({', '.join(details)})"
    return f"{name} · {_piece(report.query.window.label, NAME_LIMIT)}: {summary}"


def render_report(report: TaskReport) -> dict[str, Any]:
    """One page of the task list: heading, counts over the window, rows, pager, footer."""
    head: list[dict[str, Any] | None] = [
        _section(BlockId.HEADER, f"{_instance_heading(report.instance)} · {_window_text(report)}"),
        _section(BlockId.COUNTS, _summary_text(report)),
    ]
    tail = [*_pager(report), _footer(report)]
    fixed = len([b for b in head + tail if b is not None]) + 1  # + room for an "N more" notice
    groups = _row_groups(report, MAX_BLOCKS - fixed)
    rows: list[dict[str, Any]] = []
    dropped = 0
    for count, blocks in groups:
        if dropped or fixed + len(rows) + len(blocks) > MAX_BLOCKS:
            dropped += count
            continue
        rows.extend(blocks)
    notice = None
    if dropped:
        notice = _context(
            BlockId.NOTICE,
            f"{dropped} more tasks on this page not shown: Slack allows {MAX_BLOCKS} blocks per "
            "message. Ask for fewer with limit=20.",
        )
    message = _message(_report_text(report), [*head, *rows, notice, *tail])
    return _checked(message, report.instance.display_name)


# ---- params ----------------------------------------------------------------------------------


def _value_text(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return _piece(text, PARAMS_LINE_VALUE_LIMIT)


def _paired_name(key: str, params: dict[str, Any]) -> str | None:
    """`x` when `key` is `old_x` or `origin_x` and the params also hold `new_x`."""
    for prefix in ("old_", "origin_"):
        name = key.removeprefix(prefix)
        if name != key and f"new_{name}" in params:
            return name
    return None


def params_lines(params: dict[str, Any]) -> list[str]:
    """`x: old → new` for old_x/new_x and origin_x/new_x pairs, `key: value` for the rest.

    Takes the params as sent by the API (not redacted): secrets become "•••••• (hidden)".
    """
    safe = redact(params)
    lines: list[str] = []
    shown: set[Any] = set()
    for key in params:
        if key in shown:
            continue
        label, keys = str(key), [key]
        name = _paired_name(label, params)
        if name is not None and f"new_{name}" not in shown:
            label, keys = name.replace("_", " "), [key, f"new_{name}"]
        shown.update(keys)
        heading = _bold(_piece(label, PARAMS_KEY_LIMIT))
        # The redactor alone decides what is secret; a value it masked whole is said to be hidden.
        if any(safe[k] == REDACTED for k in keys):
            lines.append(f"{heading}: {REDACTED} (hidden)")
        else:
            lines.append(f"{heading}: {' → '.join(_value_text(safe[k]) for k in keys)}")
    return lines


def _lines_section(lines: list[str]) -> dict[str, Any] | None:
    if not lines:
        return None
    kept: list[str] = []
    used = 0
    for line in lines[:PARAMS_SUMMARY_LINES]:
        if used + slack_len(line) + 1 > MAX_SECTION_TEXT - 80:
            break
        kept.append(line)
        used += slack_len(line) + 1
    more = len(lines) - len(kept)
    if more:
        kept.append(f"_… and {more} more (in the JSON below)_")
    return _section(BlockId.PARAMS.unique("changes"), "\n".join(kept))


def _params_document(task: Task) -> str:
    value = task.params
    safe = redact(value)
    if isinstance(safe, dict | list):
        return json.dumps(safe, ensure_ascii=False, indent=2)
    return str(safe)


def _code_section(block_id: str, document: str) -> tuple[dict[str, Any], int]:
    """The document in a code block cut to fit one section; also how many characters were cut."""
    escaped = escape_code_block(document)
    budget = MAX_SECTION_TEXT - slack_len(code_block(""))
    shown = truncate(escaped, budget)
    if shown == escaped:
        return _section(block_id, code_block(escaped)), 0
    kept = len(unescape(strip_code_guards(shown.removesuffix(ELLIPSIS))))
    return _section(block_id, code_block(shown)), max(len(document) - kept, 0)


def render_params(view: ParamsView) -> dict[str, Any]:
    """One task's params: a title line, the changes as `x: old → new`, then the redacted JSON."""
    task = view.task
    label = _piece(task_label(task.name), NAME_LIMIT)
    when = (
        f"{_clock_time(task.created_at, view.tz, view.now)} {escape(_tz_name(view.tz, view.now))}"
        if task.created_at
        else "start unknown"
    )
    title = " · ".join(
        [
            f"{status_emoji(task.status)} {_bold(label)}",
            _piece(view.instance.display_name, NAME_LIMIT),
            when,
            _piece(task.status_upper or "UNKNOWN", 30),
            f"task {_piece(short_task_id(task.id), 20)}" if task.id else "no task id",
        ]
    )
    user = _piece(task.user_name, ROW_USER_LIMIT)
    if user:
        title += f"\nstarted by {user}"
    blocks: list[dict[str, Any] | None] = [_section(BlockId.PARAMS.unique("title"), title)]
    value = task.params
    if not task.has_params:
        blocks.append(_section(BlockId.PARAMS.unique("empty"), "This task has no params."))
    else:
        if isinstance(value, dict):
            blocks.append(_lines_section(params_lines(value)))
        code, cut = _code_section(BlockId.PARAMS.unique("json"), _params_document(task))
        blocks.append(code)
        if cut:
            blocks.append(
                _context(BlockId.PARAMS.unique("cut"), f"({cut} more characters not shown)")
            )
    buttons = [_button("◀ Back to list", ActionId.BACK.unique(1), _state(view.query))]
    if task.id:
        buttons.append(
            _button(
                "Share in channel",
                ActionId.SHARE.unique(1),
                _state(view.query, task_id=task.id),
            )
        )
    blocks.append(_actions(BlockId.PAGER, buttons))
    text = f"Params of {label} on {_piece(view.instance.display_name, NAME_LIMIT)}"
    return _checked(_message(text, blocks), view.instance.display_name)


# ---- refusals, problems, help ----------------------------------------------------------------


def _channel_link(channel: str) -> str:
    return f"<#{channel}>" if _CHANNEL_ID.fullmatch(channel) else _piece(channel, 80)


def render_refusal(refusal: Refusal) -> dict[str, Any]:
    name = _piece(refusal.instance_label, NAME_LIMIT)
    text = f"I can't show {name} here."
    channels = [c for c in refusal.allowed_channels if c.strip()]
    if refusal.people_only:
        text += " It is limited to certain people; ask an admin if you need it."
    elif channels:
        links = [_channel_link(c) for c in channels[:MAX_LISTED_CHANNELS]]
        if len(channels) > MAX_LISTED_CHANNELS:
            links.append(_plural(len(channels) - MAX_LISTED_CHANNELS, "more channel"))
        text += f" It is available in {_join_words(links)}."
    else:
        text += " Ask an admin to grant this channel access in the bot's config."
    return _checked(_message(f"I can't show {name} here.", [_section(BlockId.NOTICE, text)]), name)


def _command_example(example: str) -> str:
    example = " ".join(example.split())
    return f"`{escape_inline_code(truncate(example, 300))}`"


def render_problem(problem: Problem) -> dict[str, Any]:
    summary = _piece(problem.summary or "Something went wrong.", 1000)
    if problem.reference:
        reference = _piece(problem.reference, 300)
        if summary.endswith("."):
            summary = f"{summary[:-1]} ({reference})."
        else:
            summary = f"{summary} ({reference})"
    lines = [summary]
    if problem.hint.strip():
        lines.append(_piece(problem.hint, 1000))
    if problem.example.strip():
        lines.append(f"Try: {_command_example(problem.example)}")
    return _checked(_message(summary, [_section(BlockId.NOTICE, "\n".join(lines))]), "problem")


def render_unknown_instance(unknown: UnknownInstance) -> dict[str, Any]:
    typed = _piece(unknown.typed, NAME_LIMIT)
    first = f'I don\'t know an instance called "{typed}".'
    lines = [first]
    suggestions = [_piece(s, NAME_LIMIT) for s in unknown.suggestions if s.strip()][:5]
    if suggestions:
        lines[0] += f" Did you mean {_join_words(suggestions, 'or')}?"
    if unknown.example.strip():
        lines.append(f"Try: {_command_example(unknown.example)}")
    return _checked(_message(first, [_section(BlockId.NOTICE, "\n".join(lines))]), "unknown")


def render_help(help_view: HelpView) -> dict[str, Any]:
    visible = [i for i in help_view.instances if i.strip()]
    example_instance = help_view.default_instance or (visible[0] if visible else EXAMPLE_INSTANCE)
    target = " ".join(example_instance.split())
    command = help_view.command
    examples = [
        (f"{command} {target} last 1h", "every task of the last hour"),
        (f"{command} {target} today status=failed", "what failed today"),
        (
            f"{command} {target} since 09:00 status=failed,running user=alice",
            "alice's failed and running tasks since 09:00",
        ),
    ]
    example_lines = "\n".join(f"• {_command_example(c)}  {d}" for c, d in examples)
    grammar = "\n".join(
        [
            "*How to ask:*  "
            + _command_example(f"{command} [instance] [window] [filters] [options]"),
            "• *instance*: an alias below, an instance name or an instance id"
            + (
                f" (here it defaults to {_piece(help_view.default_instance, NAME_LIMIT)})"
                if help_view.default_instance
                else ""
            ),
            "• *window*: `last 90m`, `last 6h`, `last 2d`, `today`, `yesterday`, `since 09:00`, "
            "`since yesterday 18:00`, `between 09:00 and 11:30`, `between 2026-01-05 and "
            f"2026-01-07` (your Slack time zone; at most {MAX_WINDOW.days} days; "
            f"default: {DEFAULT_LABEL})",
            "• *filters*: `status=failed,running` (succeeded, failed, running, queued, cancelled, "
            "deleted), `name=offset` (part of the task name) or `name=*Topic*`, `user=alice`",
            f"• *options*: `limit=25` (tasks per page, up to {MAX_LIMIT}), `page=2`",
        ]
    )
    if visible:
        names = [_piece(i, NAME_LIMIT) for i in visible[:MAX_LISTED_INSTANCES]]
        if len(visible) > MAX_LISTED_INSTANCES:
            names.append(f"and {len(visible) - MAX_LISTED_INSTANCES} more")
        instances = "*Instances you can use here:* " + ", ".join(names)
    else:
        instances = (
            "*Instances you can use here:* none has an alias for this channel; "
            "ask an admin, or use an instance id."
        )
    blocks: list[dict[str, Any] | None] = [
        _section(BlockId.HEADER, f"*Kafka background tasks, for example:*\n{example_lines}"),
        _section(BlockId.NOTICE, grammar),
        _section(BlockId.FOOTER, instances),
    ]
    return _checked(_message(f"How to use {_piece(command, 40)}", blocks), "help")


def render_outcome(outcome: Outcome) -> dict[str, Any]:
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


def _render_outcome(outcome: Outcome) -> dict[str, Any]:
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
    return render_problem(Problem(summary="I have nothing to show for that."))


def shared_copy(message: dict[str, Any], user_id: str) -> dict[str, Any]:
    """The public copy the Share button posts: the same content, no buttons (a click on them
    would change the message for everyone), and who shared it."""
    blocks = []
    for block in message.get("blocks", []):
        if block.get("type") == "actions":
            continue
        copy = {k: v for k, v in block.items() if k != "accessory"}
        blocks.append(copy)
    who = f"<@{user_id}>" if _USER_ID.fullmatch(user_id) else (_piece(user_id, 40) or "someone")
    blocks = blocks[: MAX_BLOCKS - 1]
    blocks.append(_context(BlockId.NOTICE.unique("shared"), f"Shared by {who}"))
    return _checked({"text": message.get("text") or "dms-tasks", "blocks": blocks}, "shared")


# ---- the safety net --------------------------------------------------------------------------


def _checked(message: dict[str, Any], about: str) -> dict[str, Any]:
    try:
        check_message(message)
    except InvalidMessage as exc:
        # A bug in this module, not in the data: still say something rather than nothing.
        log.error("rendered message failed the Block Kit check: %s", exc)
        text = truncate(escape(about), 200)
        return {
            "text": f"I could not lay out the answer for {text}.",
            "blocks": [
                _section(
                    BlockId.NOTICE.unique("fallback"),
                    f"I could not lay out the answer for {text} within Slack's limits. "
                    "Try a smaller page with limit=10.",
                )
            ],
        }
    return message


# ---- the terminal ----------------------------------------------------------------------------

_LINK = re.compile(r"<([^<>|]*)\|([^<>]*)>|<([^<>]*)>")


def _plain_mrkdwn(text: str) -> str:
    def link(match: re.Match[str]) -> str:
        if match.group(1) is not None:
            return f"{match.group(2)} ({match.group(1)})"
        target = match.group(3)
        if target.startswith(("#", "@")):
            return target
        if target.startswith("!"):
            return f"@{target[1:]}"
        return target

    text = strip_code_guards(_LINK.sub(link, text))
    lines = [line for line in text.split("\n") if line.strip() != "```"]
    return unescape("\n".join(lines).replace("```", ""))


def message_buttons(message: dict[str, Any]) -> list[dict[str, Any]]:
    """The message's buttons in the order they appear, as numbered by `render_text`."""
    return [e for e in iter_elements(message) if e.get("type") == "button"]


def render_text(message: dict[str, Any]) -> str:
    """The message for a terminal: one line per row, buttons as `[1] Params` in message order."""
    lines: list[str] = []
    number = 0

    def label(element: dict[str, Any]) -> str:
        nonlocal number
        number += 1
        return f"[{number}] {element.get('text', {}).get('text', '')}"

    blocks = message.get("blocks") or []
    if not blocks:
        return _plain_mrkdwn(str(message.get("text", "")))
    for block in blocks:
        kind = block.get("type")
        if kind in ("section", "header"):
            text = _plain_mrkdwn((block.get("text") or {}).get("text", ""))
            fields = [_plain_mrkdwn(f.get("text", "")) for f in block.get("fields") or []]
            body = "\n".join([t for t in [text, *fields] if t.strip()])
            accessory = block.get("accessory")
            if isinstance(accessory, dict) and accessory.get("type") == "button":
                body += f"   {label(accessory)}"
            lines.append(body)
        elif kind == "context":
            lines.append(
                " · ".join(_plain_mrkdwn(e.get("text", "")) for e in block.get("elements", []))
            )
        elif kind == "actions":
            lines.append(
                "  ".join(label(e) for e in block.get("elements", []) if e.get("type") == "button")
            )
        elif kind == "divider":
            lines.append("—" * 20)
    return "\n".join(lines)
