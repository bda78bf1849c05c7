"""What a listing of one instance and a timeline of several share: which tasks pass the filters,
how a button names an instance, and the usual durations a running task is judged by."""

from __future__ import annotations

from collections.abc import Iterable

from bot.domain.durations import DurationRange, typical_durations
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
    window: TaskWindow, lookback: TaskWindow | None, shown: Iterable[Task]
) -> dict[str, DurationRange]:
    """Usual durations by task name, from the window; from the look-back too when a running
    task shown has too few finished runs of its name in the window."""
    typical = typical_durations(window.tasks)
    if lookback is not None and any(
        t.status_upper == TaskStatus.EXECUTING and t.name not in typical for t in shown
    ):
        typical = {**typical_durations(lookback.tasks), **typical}
    return typical
