"""The `/dms-tasks` grammar: command text -> TaskQuery. Pure: no I/O, the clock is passed in."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

DEFAULT_LIMIT = 10
MAX_LIMIT = 100


@dataclass(frozen=True)
class TimeWindow:
    """An absolute window [begin, end) in UTC, plus how the user phrased it."""

    begin: datetime  # aware, UTC
    end: datetime  # aware, UTC
    label: str  # e.g. "last 1 h", "today", "since 09:00"


@dataclass(frozen=True)
class TaskFilters:
    statuses: frozenset[str] = frozenset()  # upper-case API statuses, e.g. {"FAILED"}
    name_glob: str | None = None  # fnmatch-style, case-insensitive, on the API task name
    user: str | None = None  # case-insensitive exact match on user_name

    @property
    def active(self) -> bool:
        return bool(self.statuses or self.name_glob or self.user)


@dataclass(frozen=True)
class TaskQuery:
    target: str | None  # instance id, alias or name as typed; None -> channel default
    window: TimeWindow
    filters: TaskFilters = field(default_factory=TaskFilters)
    limit: int = DEFAULT_LIMIT
    page: int = 1


@dataclass(frozen=True)
class HelpRequest:
    """`/dms-tasks help`, or a bare `/dms-tasks` where the channel has no default instance."""


class QueryError(ValueError):
    """Text the grammar cannot read. `message` says what was wrong; `example` is the nearest
    valid form. Both are plain text (the renderer escapes them)."""

    def __init__(self, message: str, example: str) -> None:
        super().__init__(message)
        self.message = message
        self.example = example
