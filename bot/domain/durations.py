"""How long tasks of a kind usually take, and which running tasks have run far too long.

What a running task is judged by, first that applies:
1. the config file's `[expected]` bound for its name: overdue once it has run longer;
2. the history of its name's successful runs on that instance: overdue past 3x the slow end of
   the usual range (at least 10 minutes);
3. with neither, overdue past 2 hours ("running far too long").
Both 1 and 2 reach `overdue_tasks` as a DurationRange by task name (`with_expected` lays the
config's over the history's), so every caller judges alike with the same call.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from bot.domain.tasks import Task, TaskStatus

# A running task is "far too long" past 3x the slow end of its usual range, or, with no history
# for its name in the window, past this fixed bound.
OVERDUE_FACTOR = 3
OVERDUE_FLOOR = timedelta(minutes=10)
OVERDUE_WITHOUT_HISTORY = timedelta(hours=2)
MIN_SAMPLES = 3


class Basis(StrEnum):
    """Where a DurationRange comes from."""

    HISTORY = "history"  # successful runs of that name on that instance
    CONFIG = "config"  # the config file's [expected] section


@dataclass(frozen=True)
class DurationRange:
    """How long finished tasks of one name usually took (25th-75th percentile); or, from the
    config file, the bound a task of that name is expected to finish within (low == high, no
    samples), so that a renderer that knows nothing of the basis still shows its bound."""

    low: timedelta
    high: timedelta
    samples: int
    basis: Basis = Basis.HISTORY

    @classmethod
    def expected_within(cls, bound: timedelta) -> DurationRange:
        return cls(low=bound, high=bound, samples=0, basis=Basis.CONFIG)

    @property
    def configured(self) -> bool:
        return self.basis is Basis.CONFIG

    @property
    def overdue_after(self) -> timedelta:
        """How long a task of this name may run before it is flagged."""
        if self.configured:
            return self.high
        return max(self.high * OVERDUE_FACTOR, OVERDUE_FLOOR)


class ExpectedDurations:
    """The config file's `[expected]` section: task name -> the time a task of that name is
    expected to finish within. Names match case-insensitively, the API's name or its label."""

    def __init__(self, bounds: Mapping[str, timedelta]) -> None:
        self.bounds = dict(bounds)
        self._folded = {k.casefold(): v for k, v in bounds.items()}

    def __bool__(self) -> bool:
        return bool(self.bounds)

    def __repr__(self) -> str:
        return f"ExpectedDurations({self.bounds!r})"

    def bound_for(self, *names: str) -> timedelta | None:
        """The bound for the first of `names` (a task's API name, then its label) that has one."""
        for name in names:
            if name and (bound := self._folded.get(name.casefold())) is not None:
                return bound
        return None


NO_EXPECTATIONS = ExpectedDurations({})


def with_expected(
    typical: Mapping[str, DurationRange],
    expected: ExpectedDurations,
    tasks: Iterable[Task],
    label: Callable[[str], str] = lambda name: name,
) -> dict[str, DurationRange]:
    """`typical` with the config's bound laid over it for the names of `tasks` that have one:
    the config file comes before the history."""
    judged = dict(typical)
    if not expected:
        return judged
    for task in tasks:
        if task.name in judged and judged[task.name].configured:
            continue
        bound = expected.bound_for(task.name, label(task.name))
        if bound is not None:
            judged[task.name] = DurationRange.expected_within(bound)
    return judged


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
    tasks: Iterable[Task], typical: Mapping[str, DurationRange], now: datetime
) -> dict[str, DurationRange | None]:
    """The EXECUTING tasks of `tasks` that have run too long at `now`, by id, each with what it
    was judged by (None: the fixed bound, for want of anything better)."""
    flagged: dict[str, DurationRange | None] = {}
    for task in tasks:
        if task.status_upper != TaskStatus.EXECUTING or task.created_at is None:
            continue
        running = now - task.created_at
        usual = typical.get(task.name)
        limit = usual.overdue_after if usual else OVERDUE_WITHOUT_HISTORY
        if running > limit:
            flagged[task.id] = usual
    return flagged
