"""The task list: one page of an instance's tasks in a window.

Heading, counts over the whole window (before the rows: they answer the question first), one row
per task with its Params button, the pager and a footer saying how fresh the data is.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

from bot.blockkit import (
    MAX_BLOCKS,
    MAX_POSTED_BLOCKS_TEXT,
    actions_block,
    blocks_text_len,
    button_element,
    context_block,
    escape,
    section_block,
    slack_len,
    slack_message,
)
from bot.domain.durations import DurationRange
from bot.domain.instances import InstanceRef
from bot.domain.query import TaskQuery
from bot.domain.tasks import ACTIVE_STATUSES, Task, TaskStatus, is_finished
from bot.ids import ActionId, BlockId
from bot.labels import STATUS_ORDER, status_emoji, status_word, task_label
from bot.render.button_state import button_state
from bot.render.notices import overdue_words
from bot.render.safety_net import checked
from bot.render.timewords import (
    date_token,
    describe_window,
    format_duration,
    moment_text,
    zone_name,
)
from bot.render.watch import watch_button
from bot.render.words import NAME_LIMIT, USER_LIMIT, bold, piece, plural, short_id
from bot.report import TaskReport, TimelineReport

# How much of each user- or API-derived piece a task row may take. A row stays one line on a
# laptop screen; the full name is in the Params view.
ROW_LABEL_LIMIT = 80
# When a page has more tasks than blocks allow one section each, rows are packed this many to a
# section, each section followed by the Params buttons of its rows. Row pieces are cut shorter so
# that ten rows always fit one section: 10 x (60 + 30 + ~150 of fixed text) < 3000.
PACKED_ROWS_PER_SECTION = 10
PACKED_LABEL_LIMIT = 60
PACKED_USER_LIMIT = 30
# Pieces of the filter and counts text: the counts stay well inside a section's 3000.
FILTER_VALUE_LIMIT = 80
COUNTS_TEXT_LIMIT = 2000
# Younger cached data still reads as "fetched just now".
FRESH = timedelta(seconds=5)


def _describe_filters(query: TaskQuery) -> str:
    filters = query.filters
    parts: list[str] = []
    if filters.statuses:
        parts.append("status=" + ",".join(sorted(status_word(s) for s in filters.statuses)))
    if filters.name_glob:
        parts.append(f"name={filters.name_glob}")
    if filters.user:
        parts.append(f"user={filters.user}")
    return piece(" ".join(parts), FILTER_VALUE_LIMIT * 3)


def _instance_heading(instance: InstanceRef) -> str:
    name = piece(instance.display_name, NAME_LIMIT)
    if instance.display_name == instance.instance_id:
        return bold(piece(short_id(instance.instance_id), NAME_LIMIT))
    return f"{bold(name)} ({piece(short_id(instance.instance_id), NAME_LIMIT)})"


def _window_text(report: TaskReport) -> str:
    window = report.query.window
    try:
        if report.public:
            # The label is the user's words (escaped); the tokens are ours.
            return f"{escape(window.label)}: {date_token(window.begin)} – {date_token(window.end)}"
        return escape(describe_window(window, report.tz, now=report.now))
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
    parts = [f"{status_emoji(s)} {counts[s]} {piece(status_word(s), 40)}" for s in ordered]
    line = bold(plural(total, "task"))
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
    earlier = len(report.earlier_running)
    lines: list[str] = []
    if report.window_total == 0:
        lines.append("No tasks in this window.")
    elif report.query.filters.active and report.matched == 0:
        lines.append(
            f"No tasks match {filters} in this window; "
            f"{plural(report.window_total, 'task')} in total."
        )
    else:
        lines.append(_counts_text(report))
    if earlier:
        lines.append(
            f"{status_emoji(TaskStatus.EXECUTING)} {plural(earlier, 'more task')} started before "
            "this window and " + ("is" if earlier == 1 else "are") + " still running"
        )
    elif report.earlier_unknown:
        lines.append("_I could not check for tasks still running from before this window._")
    if report.shortfall:
        # Never a partial list presented as the whole.
        lines.append(
            f"⚠ Showing {report.window_total} of {report.reported_total}: the API returned fewer "
            "tasks than it counted."
        )
    if report.query.filters.active and report.matched:
        lines.append(f"{report.matched} match {filters}")
    if not report.page_tasks and report.matched:
        lines.append(
            f"Nothing on page {report.page}: there "
            f"{'is 1 page' if report.pages == 1 else f'are {report.pages} pages'}."
        )
    return "\n".join(lines)


@dataclass(frozen=True)
class RowSpec:
    """One row of a listing: the task, what the row says about it, and what its Params button
    carries."""

    task: Task
    earlier: bool = False  # started before the window and still running
    overdue: bool = False
    usual: DurationRange | None = None  # its usual duration, when overdue and known
    instance: str = ""  # escaped, for a timeline over several instances
    query: TaskQuery | None = None  # the Params button's listing; None: the report's


def row_specs(report: TaskReport) -> list[RowSpec]:
    return [
        RowSpec(
            task,
            earlier=report.started_earlier(task),
            overdue=task.id in report.overdue,
            usual=report.overdue.get(task.id),
        )
        for task in report.page_tasks
    ]


def _duration_text(row: RowSpec, report: TaskReport) -> str:
    task = row.task
    status = task.status_upper
    start, end = task.created_at, task.updated_at
    if start is None:
        return ""
    as_of = f" as of {date_token(report.now, '{time}')}" if report.public else ""
    if status == TaskStatus.EXECUTING:
        text = f"running for {format_duration(max(report.now - start, timedelta(0)))}{as_of}"
        if row.overdue:
            text += f"  {overdue_words(row.usual)}"
        return text
    if status == TaskStatus.CREATED:
        return f"queued for {format_duration(max(report.now - start, timedelta(0)))}{as_of}"
    if task.is_active:
        # An undocumented status (ROLLING_BACK, …) is not known to be done: no "took".
        return f"in progress for {format_duration(max(report.now - start, timedelta(0)))}{as_of}"
    if end is not None:
        return f"took {format_duration(max(end - start, timedelta(0)))}"
    return ""


def _task_row(row: RowSpec, report: TaskReport, *, label_limit: int, user_limit: int) -> str:
    task = row.task
    label = bold(piece(task_label(task.name), label_limit))
    known = task.status_upper in STATUS_ORDER
    status = "" if known else f" ({piece(status_word(task.status), 30)})"
    user = piece(task.user_name, user_limit) or "—"
    if task.created_at is not None:
        start = moment_text(task.created_at, report.tz, report.now, public=report.public)
    else:
        start = "start unknown"
    if row.earlier:
        start += ", started before this window"
    pieces = [f"{status_emoji(task.status)}  {label}{status}", user, start]
    if row.instance:
        pieces.insert(1, row.instance)
    duration = _duration_text(row, report)
    if duration:
        pieces.append(duration)
    return "  ·  ".join(pieces)


def _params_button(row: RowSpec, report: TaskReport, text: str, n: int) -> dict[str, Any] | None:
    task = row.task
    if not task.id or not task.has_params:
        return None
    query = row.query or report.query
    return button_element(text, ActionId.PARAMS.unique(n), button_state(query, task_id=task.id))


def _watch_button(row: RowSpec, report: TaskReport, text: str, n: int) -> dict[str, Any] | None:
    """Watch, on a task that is queued or running (bot/render/watch.py): it follows the task in
    a message of its own, for as long as it runs."""
    task = row.task
    query = row.query or report.query
    # In a timeline the row's instance is `on` (an alias or id, as its Params carries it).
    target = query.target or query.on
    if not task.id or not target or task.status_upper not in ACTIVE_STATUSES:
        return None
    return watch_button(target, task.id, n=n, text=text)


Groups = list[tuple[int, list[dict[str, Any]]]]


def row_groups(
    report: TaskReport,
    specs: Sequence[RowSpec],
    room: int,
    *,
    per_section: int = PACKED_ROWS_PER_SECTION,
) -> Groups:
    """The task blocks, as (tasks in the group, blocks) so that whole groups can be dropped:
    a section per row while they fit `room` blocks, else `per_section` rows to a section."""
    groups: Groups = []
    watches = [_watch_button(spec, report, "Watch", n) for n, spec in enumerate(specs, start=1)]
    # A row with a Watch button takes a second block, its actions (a section has one accessory).
    if len(specs) + sum(w is not None for w in watches) <= room:
        for n, (spec, watch) in enumerate(zip(specs, watches, strict=True), start=1):
            row = _task_row(spec, report, label_limit=ROW_LABEL_LIMIT, user_limit=USER_LIMIT)
            button = _params_button(spec, report, "Params", n)
            blocks = [section_block(BlockId.TASK.unique(n), row, button)]
            watch_row = actions_block(BlockId.WATCH_ACTIONS.unique(n), [watch])
            if watch_row is not None:
                blocks.append(watch_row)
            groups.append((1, blocks))
        return groups
    for first in range(0, len(specs), per_section):
        chunk = specs[first : first + per_section]
        rows: list[str] = []
        buttons: list[dict[str, Any] | None] = []
        for n, spec in enumerate(chunk, start=first + 1):
            row = _task_row(
                spec, report, label_limit=PACKED_LABEL_LIMIT, user_limit=PACKED_USER_LIMIT
            )
            rows.append(f"`{n}`  {row}")
            buttons.append(_params_button(spec, report, f"Params {n}", n))
            buttons.append(_watch_button(spec, report, f"Watch {n}", n))
        blocks = [section_block(BlockId.TASK.unique(first + 1), "\n".join(rows))]
        actions = actions_block(BlockId.TASK_ACTIONS.unique(first + 1), buttons)
        if actions is not None:
            blocks.append(actions)
        groups.append((len(chunk), blocks))
    return groups


def _problem_statuses(report: TaskReport) -> frozenset[str]:
    """What "Show failed & running" filters on: failed, running, and every status in the window
    not known to be finished (a ROLLING_BACK is as interesting as an EXECUTING)."""
    counts = _status_counts(report)
    unfinished = {s for s, n in counts.items() if n and s and not is_finished(s)}
    unfinished |= {t.status_upper for t in report.earlier_running if t.status_upper}
    # Queued tasks are not running yet; they have their own status= word.
    return frozenset({TaskStatus.FAILED, TaskStatus.EXECUTING, *unfinished} - {TaskStatus.CREATED})


def _has_problems(report: TaskReport) -> bool:
    counts = _status_counts(report)
    return bool(report.earlier_running) or any(
        counts.get(s, 0) > 0 for s in _problem_statuses(report)
    )


def _pager(report: TaskReport) -> list[dict[str, Any] | None]:
    query = report.query
    buttons: list[dict[str, Any] | None] = []
    if report.page > 1:
        buttons.append(
            button_element(
                "◀ Prev",
                ActionId.PREV.unique(1),
                button_state(replace(query, page=report.page - 1)),
            )
        )
    if report.page < report.pages:
        buttons.append(
            button_element(
                "Next ▶",
                ActionId.NEXT.unique(1),
                button_state(replace(query, page=report.page + 1)),
            )
        )
    buttons.append(button_element("↻ Refresh", ActionId.REFRESH.unique(1), button_state(query)))
    buttons.append(
        button_element("Share in channel", ActionId.SHARE.unique(1), button_state(query))
    )
    if _has_problems(report) and not query.filters.statuses:
        problems = replace(
            query,
            filters=replace(query.filters, statuses=_problem_statuses(report)),
            page=1,
        )
        buttons.append(
            button_element(
                "Show failed & running", ActionId.SHOW_PROBLEMS.unique(1), button_state(problems)
            )
        )
    page_line = (
        context_block(BlockId.PAGER.unique("page"), _page_line(report))
        if report.pages > 1 or report.requested_page
        else None
    )
    return [page_line, actions_block(BlockId.PAGER, buttons)]


def _page_line(report: TaskReport) -> str:
    line = f"Page {report.page} of {report.pages}"
    if report.requested_page:
        line += f" (there is no page {report.requested_page}; this is the last)"
    return line


def _footer(report: TaskReport) -> dict[str, Any]:
    if report.public:
        # Nothing relative: "fetched just now" would be wrong within the hour, for ever.
        return context_block(
            BlockId.FOOTER,
            f"as of {date_token(report.fetched_at)} · times in each reader's own time zone",
        )
    age = report.now - report.fetched_at
    if report.from_cache:
        fresh = "fetched just now" if age < FRESH else f"fetched {format_duration(age)} ago"
        fresh += " (cached)"
    else:
        fresh = "fetched just now"
    # The zone is the configured default when Slack did not tell us the user's, so the footer
    # names it without claiming whose it is.
    zone = escape(zone_name(report.tz, report.now))
    return context_block(BlockId.FOOTER, f"{fresh} · times in {zone}")


def _report_text(report: TaskReport) -> str:
    counts = _status_counts(report)
    details = [
        f"{counts[s]} {status_word(s)}"
        for s in (TaskStatus.FAILED, TaskStatus.EXECUTING)
        if counts.get(s)
    ]
    name = piece(report.instance.display_name, NAME_LIMIT)
    summary = plural(report.window_total, "task")
    if details:
        summary += f" ({', '.join(details)})"
    return f"{name} · {piece(report.query.window.label, NAME_LIMIT)}: {summary}"


def render_report(report: TaskReport) -> dict[str, Any]:
    """One page of the task list: heading, counts over the window, rows, pager, footer."""
    if isinstance(report, TimelineReport) or report.instance is None:
        # Imported here: the timeline is laid out with this module's pieces.
        from bot.render.timeline import render_timeline

        return render_timeline(report)
    instance = report.instance
    head: list[dict[str, Any] | None] = [
        section_block(BlockId.HEADER, f"{_instance_heading(instance)} · {_window_text(report)}"),
        section_block(BlockId.COUNTS, _summary_text(report)),
    ]
    specs = row_specs(report)
    return assemble(
        report,
        head,
        lambda room: row_groups(report, specs, room),
        _report_text(report),
        instance.display_name,
    )


def assemble(
    report: TaskReport,
    head: list[dict[str, Any] | None],
    groups_for: Callable[[int], Groups],
    text: str,
    about: str,
) -> dict[str, Any]:
    """Head, as many row groups as Slack takes (a notice says how many were left out), pager
    and footer; checked against Block Kit's limits."""
    tail = [*_pager(report), _footer(report)]
    fixed = len([b for b in head + tail if b is not None]) + 1  # + room for an "N more" notice
    groups = groups_for(MAX_BLOCKS - fixed)
    rows: list[dict[str, Any]] = []
    dropped = 0
    # A public copy is posted with chat.postMessage, which also caps the total text.
    room = MAX_POSTED_BLOCKS_TEXT - blocks_text_len([b for b in head + tail if b]) - 200
    for count, blocks in groups:
        size = blocks_text_len(blocks)
        too_many = fixed + len(rows) + len(blocks) > MAX_BLOCKS
        if dropped or too_many or (report.public and size > room):
            dropped += count
            continue
        room -= size
        rows.extend(blocks)
    notice = None
    if dropped:
        why = (
            "Slack limits how long a posted message may be"
            if report.public
            else f"Slack allows {MAX_BLOCKS} blocks per message"
        )
        notice = context_block(
            BlockId.NOTICE,
            f"{dropped} more tasks on this page not shown: {why}. Ask for fewer with limit=20.",
        )
    message = slack_message(text, [*head, *rows, notice, *tail])
    return checked(message, about)
