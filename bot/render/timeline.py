"""A timeline over several instances (`all`, `prod-a,prod-b`): one page of their tasks merged,
newest first, each row naming its instance.

Heading (which instances, the window), counts over all of them, the counts per instance (a
fields section), the instances that could not be read (with why) and the targets that show
nothing (unknown, or not allowed here), then the rows, pager and footer of a task list. Any
number of instances, of any names, stays within Slack's limits: names are cut shorter as they
grow in number, unavailable ones with the same reason share a line, and every text is bounded.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from bot.blockkit import (
    MAX_FIELD_TEXT,
    MAX_SECTION_FIELDS,
    mrkdwn_text,
    section_block,
    truncate,
)
from bot.domain.instances import InstanceRef
from bot.domain.tasks import TaskStatus, is_finished
from bot.ids import BlockId
from bot.labels import status_emoji, status_word
from bot.render.task_list import (
    RowSpec,
    _counts_text,
    _describe_filters,
    _status_counts,
    _window_text,
    assemble,
    row_groups,
)
from bot.render.words import NAME_LIMIT, bold, piece, plural, short_id
from bot.report import InstancePart, TimelineReport

# A row names its instance in this much: enough to tell them apart at a glance.
ROW_INSTANCE_LIMIT = 30
# Packed rows carry the instance too, so fewer go to a section than in a list of one instance:
# 8 x (60 + 30 + 30 + the fixed text, at most ~240 with date tokens) stays under 3000.
TIMELINE_ROWS_PER_SECTION = 8
# Instance names in the counts per instance are shorter when there are many, and those counts
# take at most FIELDS_TEXT_LIMIT, the notices about instances at most 2,000: with the heading,
# counts, pager and footer that leaves a shared copy room for rows under chat.postMessage's
# ~11,000 characters (bot/blockkit.py MAX_POSTED_BLOCKS_TEXT), whatever the instances.
INSTANCE_NAME_LIMIT = 40
MANY_INSTANCES = 20
MANY_NAME_LIMIT = 24
FIELDS_TEXT_LIMIT = 4000
MIN_LINE = 60
UNAVAILABLE_LIMIT = 1400
NOT_SHOWN_LIMIT = 600
# The heading names the instances of a list in at most this much.
HEADING_NAMES_LIMIT = 300
REASON_LIMIT = 160
REFERENCE_LIMIT = 80


def _short(name: str, instance_id: str, limit: int) -> str:
    """An instance as a row or a line shows it: alias or name, else the short id."""
    shown = short_id(instance_id) if name == instance_id else name
    return piece(shown, limit)


def _instance_name(instance: InstanceRef, limit: int) -> str:
    return _short(instance.display_name, instance.instance_id, limit)


def _part_name(part: InstancePart, limit: int) -> str:
    return _instance_name(part.instance, limit)


def _heading(report: TimelineReport) -> str:
    count = len(report.parts)
    if report.everything:
        scope = bold(f"All {plural(count, 'instance')}") + " here"
    else:
        names = ", ".join(_part_name(p, NAME_LIMIT) for p in report.parts)
        scope = bold(truncate(names, HEADING_NAMES_LIMIT))
    return f"{scope} · {_window_text(report)}"


def _running(part: InstancePart) -> int:
    """Tasks not known to be finished: the window's (queued ones too) and those from before."""
    return part.earlier + sum(
        n for status, n in part.counts.items() if n and not is_finished(status)
    )


def _part_line(part: InstancePart, report: TimelineReport, limit: int) -> str:
    counts = {str(s).strip().upper(): n for s, n in part.counts.items()}
    line = f"{bold(_part_name(part, limit))}  {plural(part.total, 'task')}"
    failed = counts.get(TaskStatus.FAILED, 0)
    if failed:
        line += f"  {status_emoji(TaskStatus.FAILED)} {failed}"
    running = _running(part)
    if running:
        line += f"  {status_emoji(TaskStatus.EXECUTING)} {running}"
    if report.query.filters.active:
        line += f"  · {part.matched} match"
    if part.shortfall:
        line += f"  · ⚠ {part.shortfall} not returned"
    if part.earlier_unknown:
        line += "  · _earlier tasks unchecked_"
    return line


def _fields_block(report: TimelineReport) -> dict[str, Any] | None:
    """The counts per readable instance, as up to ten fields (two columns on a laptop)."""
    readable = [p for p in report.parts if not p.unavailable]
    if not readable:
        return None
    limit = INSTANCE_NAME_LIMIT if len(report.parts) <= MANY_INSTANCES else MANY_NAME_LIMIT
    per_field = -(-len(readable) // MAX_SECTION_FIELDS)
    room = min(MAX_FIELD_TEXT // per_field - 1, max(MIN_LINE, FIELDS_TEXT_LIMIT // len(readable)))
    lines = [truncate(_part_line(p, report, limit), room) for p in readable]
    fields = [
        mrkdwn_text(truncate("\n".join(lines[k : k + per_field]), MAX_FIELD_TEXT))
        for k in range(0, len(lines), per_field)
    ]
    return {"type": "section", "block_id": BlockId.COUNTS.unique("instances"), "fields": fields}


def _unavailable_text(report: TimelineReport) -> str:
    """Unavailable instances grouped by what failed: a cloud that is down fails them all alike."""
    groups: dict[str, list[InstancePart]] = {}
    for part in report.unavailable:
        groups.setdefault(part.unavailable, []).append(part)
    limit = INSTANCE_NAME_LIMIT if len(report.parts) <= MANY_INSTANCES else MANY_NAME_LIMIT
    lines = []
    for reason, parts in groups.items():
        names = ", ".join(bold(_part_name(p, limit)) for p in parts)
        line = f"⚠ {names} unavailable: {piece(reason, REASON_LIMIT)}"
        reference = next((p.reference for p in parts if p.reference), "")
        if reference:
            line += f" ({piece(reference, REFERENCE_LIMIT)})"
        lines.append(line)
    return truncate("\n".join(lines), UNAVAILABLE_LIMIT)


def _not_shown_text(report: TimelineReport) -> str:
    if not report.not_shown:
        return ""
    named = ", ".join(
        f"{bold(piece(n.label, NAME_LIMIT))} ({piece(n.reason, REASON_LIMIT)})"
        for n in report.not_shown
    )
    return truncate(f"Not shown ({len(report.not_shown)}): {named}", NOT_SHOWN_LIMIT)


def _summary(report: TimelineReport) -> str:
    filters = _describe_filters(report.query)
    lines: list[str] = []
    if not any(not p.unavailable for p in report.parts):
        lines.append("No instance could be read.")
    elif report.window_total == 0:
        lines.append("No tasks in this window.")
    elif report.query.filters.active and report.matched == 0:
        lines.append(
            f"No tasks match {filters} in this window; "
            f"{plural(report.window_total, 'task')} in total."
        )
    else:
        lines.append(_counts_text(report))
    earlier = len(report.earlier_running)
    if earlier:
        lines.append(
            f"{status_emoji(TaskStatus.EXECUTING)} {plural(earlier, 'more task')} started before "
            "this window and " + ("is" if earlier == 1 else "are") + " still running"
        )
    if report.query.filters.active and report.matched:
        lines.append(f"{report.matched} match {filters}")
    if not report.page_tasks and report.matched:
        lines.append(
            f"Nothing on page {report.page}: there "
            f"{'is 1 page' if report.pages == 1 else f'are {report.pages} pages'}."
        )
    return "\n".join(lines)


def _text(report: TimelineReport) -> str:
    """What notifications and screen readers show."""
    counts = _status_counts(report)
    details = [
        f"{counts[s]} {status_word(s)}"
        for s in (TaskStatus.FAILED, TaskStatus.EXECUTING)
        if counts.get(s)
    ]
    scope = (
        f"All {plural(len(report.parts), 'instance')}"
        if report.everything
        else truncate(", ".join(_part_name(p, NAME_LIMIT) for p in report.parts), 200)
    )
    summary = plural(report.window_total, "task")
    if details:
        summary += f" ({', '.join(details)})"
    if report.unavailable:
        summary += f"; {len(report.unavailable)} unavailable"
    return f"{scope} · {piece(report.query.window.label, NAME_LIMIT)}: {summary}"


def _specs(report: TimelineReport) -> list[RowSpec]:
    return [
        RowSpec(
            row.task,
            earlier=row.started_earlier,
            overdue=row.overdue,
            usual=row.usual,
            instance=_instance_name(row.instance, ROW_INSTANCE_LIMIT),
            # Params must say which instance the task is on; Back returns to this listing.
            query=replace(report.query, on=row.carried),
        )
        for row in report.rows
    ]


def render_timeline(report: TimelineReport) -> dict[str, Any]:
    notices: Sequence[str] = [
        t for t in (_unavailable_text(report), _not_shown_text(report), _note(report)) if t
    ]
    head: list[dict[str, Any] | None] = [
        section_block(BlockId.HEADER, _heading(report)),
        section_block(BlockId.COUNTS, _summary(report)),
        _fields_block(report),
        section_block(BlockId.NOTICE.unique("instances"), "\n".join(notices)) if notices else None,
    ]
    specs = _specs(report)
    return assemble(
        report,
        head,
        lambda room: row_groups(report, specs, room, per_section=TIMELINE_ROWS_PER_SECTION),
        _text(report),
        "these instances",
    )


def _note(report: TimelineReport) -> str:
    if not report.note:
        return ""
    return f"I could not list the project's instances: {piece(report.note, REASON_LIMIT)}"
