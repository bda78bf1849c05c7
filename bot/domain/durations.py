"""How long tasks of a kind usually take, and which running tasks have run far too long."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.domain.tasks import Task, TaskStatus

# A running task is "far too long" past 3x the slow end of its usual range, or, with no history
# for its name in the window, past this fixed bound.
OVERDUE_FACTOR = 3
OVERDUE_FLOOR = timedelta(minutes=10)
OVERDUE_WITHOUT_HISTORY = timedelta(hours=2)
MIN_SAMPLES = 3


@dataclass(frozen=True)
class DurationRange:
    """How long finished tasks of one name usually took (25th-75th percentile)."""

    low: timedelta
    high: timedelta
    samples: int


def _duration(task: Task) -> timedelta | None:
    if task.created_at is None or task.updated_at is None:
        return None
    return max(task.updated_at - task.created_at, timedelta(0))


def typical_durations(tasks: tuple[Task, ...]) -> dict[str, DurationRange]:
    """The 25th-75th percentile of how long succeeded tasks of each name took."""
    samples: dict[str, list[float]] = {}
    for task in tasks:
        took = _duration(task)
        if task.status_upper == TaskStatus.SUCCESS and took is not None:
            samples.setdefault(task.name, []).append(took.total_seconds())
    ranges: dict[str, DurationRange] = {}
    for name, values in samples.items():
        if len(values) < MIN_SAMPLES:
            continue
        q1, _, q3 = statistics.quantiles(values, n=4, method="inclusive")
        ranges[name] = DurationRange(
            low=timedelta(seconds=q1), high=timedelta(seconds=q3), samples=len(values)
        )
    return ranges


def overdue_tasks(
    tasks: tuple[Task, ...], typical: dict[str, DurationRange], now: datetime
) -> dict[str, DurationRange | None]:
    flagged: dict[str, DurationRange | None] = {}
    for task in tasks:
        if task.status_upper != TaskStatus.EXECUTING or task.created_at is None:
            continue
        running = now - task.created_at
        usual = typical.get(task.name)
        limit = (
            max(usual.high * OVERDUE_FACTOR, OVERDUE_FLOOR) if usual else OVERDUE_WITHOUT_HISTORY
        )
        if running > limit:
            flagged[task.id] = usual
    return flagged
