"""What a listing of one instance and a timeline of several share: which tasks pass the filters,
how a button names an instance, and the usual durations a running task is judged by."""

from __future__ import annotations

from collections.abc import Iterable

from bot.domain.durations import (
    NO_EXPECTATIONS,
    DurationRange,
    ExpectedDurations,
    typical_durations,
    with_expected,
)
from bot.domain.instances import InstanceRef
from bot.domain.query import TaskFilters
from bot.domain.tasks import Task, TaskStatus, TaskWindow
from bot.labels import task_label


def task_matches(filters: TaskFilters, task: Task) -> bool:
    """`name=` applies to the API name and to the label the user sees on the row."""
    return any(
        filters.matches(name=name, user=task.user_name, status=task.status_upper)
        for name in (task.name, task_label(task.name))
    )


def state_target(instance: InstanceRef) -> str:
    """How a button names an instance: aliases are stable and short; otherwise the id, never a
    fuzzy name."""
    return instance.alias or instance.instance_id


def usual_durations(
    window: TaskWindow,
    lookback: TaskWindow | None,
    shown: Iterable[Task],
    expected: ExpectedDurations = NO_EXPECTATIONS,
) -> dict[str, DurationRange]:
    """What each task name shown is judged by: the config file's `[expected]` bound, else its
    usual durations from the window, or from the look-back too when a running task shown has
    too few finished runs of its name in the window (and no bound in the config)."""
    shown = tuple(shown)
    typical = typical_durations(window.tasks)
    if lookback is not None and any(
        t.status_upper == TaskStatus.EXECUTING
        and t.name not in typical
        and expected.bound_for(t.name, task_label(t.name)) is None
        for t in shown
    ):
        typical = {**typical_durations(lookback.tasks), **typical}
    return judged_durations(typical, expected, shown)


def judged_durations(
    typical: dict[str, DurationRange], expected: ExpectedDurations, tasks: Iterable[Task]
) -> dict[str, DurationRange]:
    """`typical` (usual durations from history) with the config file's `[expected]` bounds laid
    over it for the names of `tasks`, matched by API name or label: what `overdue_tasks` takes
    wherever running tasks are judged (listings, timelines, digests, alerts)."""
    return with_expected(typical, expected, tasks, label=task_label)
