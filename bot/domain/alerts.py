"""Failure alerts: a channel asks to hear, as it happens, of tasks on some instances that turn
FAILED or (with `stuck`) run far too long. What an alert is, which tasks it fires for, and what
the use cases hand to the renderer. Pure: no I/O, the clock comes in.

An alert starts from the moment it was added. A task fires only for what happened after the
alert's `created_at`:
- FAILED: when the task's end time (`updated_at`, else `created_at`) is at or after it;
- stuck: when the task was not yet overdue at that moment but is now (judged by
  bot.domain.durations, exactly as listings and digests flag it).
This is decided from the alert record and the task alone, rather than from a baseline of task ids
read at add time: every replica and every restart decides alike with nothing more to store, a
failure while the bot was down still fires once it is back, and adding an alert needs no DMS
read that could fail. The cost is that the boundary is only as exact as the clocks: a DMS clock
s seconds ahead of the bot's lets a failure from s seconds before the alert fire. A FAILED task
with no end time that started before the alert never fires: when it failed cannot be told.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from bot.domain.durations import DurationRange, overdue_tasks
from bot.domain.tasks import Task, TaskStatus

# An alert on every instance the channel may see.
ALL_TARGETS = "all"
RECORD_KIND = "alert"


class AlertKind(StrEnum):
    FAILED = "failed"
    STUCK = "stuck"  # running far longer than that kind of task usually takes


@dataclass(frozen=True)
class Alert:
    """One channel's alert on some instances."""

    id: str  # short and typeable, e.g. "k3m9qa"
    channel_id: str
    targets: tuple[str, ...]  # aliases or instance ids as typed, or (ALL_TARGETS,)
    created_at: datetime  # aware UTC: nothing that happened before this fires
    stuck: bool = False  # also tasks running far too long, not only failures
    created_by: str = ""  # Slack user id of whoever added it
    # Why posting is paused (channel_not_found, not_in_channel, is_archived), None when active.
    paused: str | None = None

    @property
    def kinds(self) -> tuple[AlertKind, ...]:
        return (AlertKind.FAILED, AlertKind.STUCK) if self.stuck else (AlertKind.FAILED,)


@dataclass(frozen=True)
class AlertEvent:
    """One task an alert fires for, once."""

    kind: AlertKind
    task: Task
    # For STUCK: how long that kind of task usually takes, None when there is no history.
    usual: DurationRange | None = None

    def key(self, alert_id: str) -> str:
        """The claim key that makes it post once, across replicas and restarts."""
        return claim_key(alert_id, self.task.id, self.kind)


def claim_key(alert_id: str, task_id: str, kind: AlertKind) -> str:
    return f"alert:{alert_id}:{task_id}:{kind.value}"


def ended_at(task: Task) -> datetime | None:
    """When a finished task finished, as far as the record tells."""
    return task.updated_at or task.created_at


def events_for(
    alert: Alert,
    tasks: tuple[Task, ...],
    typical: dict[str, DurationRange],
    now: datetime,
) -> list[AlertEvent]:
    """What `alert` fires for among `tasks` (one instance's recent window), oldest first."""
    events: list[AlertEvent] = []
    for task in tasks:
        if task.status_upper != TaskStatus.FAILED or not task.id:
            continue
        # Without an end time, only a start after the alert proves it failed after it.
        ended = ended_at(task)
        if ended is not None and ended >= alert.created_at:
            events.append(AlertEvent(AlertKind.FAILED, task))
    if alert.stuck:
        # Overdue now but not when the alert was added, by the same rule and usual durations:
        # a task that was already stuck then is history, like an old failure.
        before = overdue_tasks(tasks, typical, alert.created_at)
        by_id = {t.id: t for t in tasks if t.id}
        for task_id, usual in overdue_tasks(tasks, typical, now).items():
            if task_id in by_id and task_id not in before:
                events.append(AlertEvent(AlertKind.STUCK, by_id[task_id], usual))
    floor = datetime.min.replace(tzinfo=UTC)
    return sorted(events, key=lambda e: (e.task.created_at or floor, e.task.id, e.kind.value))


def recent_window(
    now: datetime, interval_s: float, lookback_days: int
) -> tuple[datetime, datetime]:
    """The window an alert round reads for one instance.

    It begins `lookback_days` before today (UTC), as the look-back for tasks still running does
    (TaskService._lookback), since a task that turns FAILED may have started that long ago and
    the API filters on created_at; and it ends at the end of the current interval, counted in
    whole intervals since the epoch. So every round of one interval, on every replica, asks
    for the same window, and the cache serves them all from one entry."""
    utc = now.astimezone(UTC)
    day = utc.replace(hour=0, minute=0, second=0, microsecond=0)
    begin = day - timedelta(days=lookback_days)
    end_s = (math.floor(utc.timestamp() / interval_s) + 1) * interval_s
    return begin, datetime.fromtimestamp(end_s, UTC)


def marker_keep(lookback_days: int) -> timedelta:
    """How long a posted event's done marker must live: longer than its task can stay in
    `recent_window`, or the task would fire again once the marker lapsed."""
    return timedelta(days=lookback_days + 2)


def next_round_in(now: datetime, interval_s: float) -> float:
    """Seconds until the next whole interval since the epoch: replicas run their rounds at the
    same instants, and so read the same window."""
    epoch = now.timestamp()
    return (math.floor(epoch / interval_s) + 1) * interval_s - epoch


# ---- what the use cases hand to the renderer -------------------------------------------------


@dataclass(frozen=True)
class AlertView:
    """An alert a channel has, with the instances it covers now (by name)."""

    alert: Alert
    covers: tuple[str, ...]


@dataclass(frozen=True)
class AlertAdded:
    command: str
    view: AlertView


@dataclass(frozen=True)
class AlertListing:
    command: str
    channel_id: str
    alerts: tuple[AlertView, ...]


@dataclass(frozen=True)
class AlertRemoved:
    alert: Alert


AlertOutcome = AlertAdded | AlertListing | AlertRemoved
