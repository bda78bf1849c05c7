"""What a person asks about: a time window, filters, and the page of the answer they see."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from bot.domain.digests import ALL_TARGETS

DEFAULT_LIMIT = 10
# Every window is fetched whole (counts cover the whole window), so its length is bounded.
MAX_WINDOW = timedelta(days=31)


class Anchor(StrEnum):
    """How a window relates to the moment it was asked for, which decides what Refresh shows."""

    # `between …`, `yesterday`: the same instants for ever.
    FIXED = "fixed"
    # `last 1h`: ends now and keeps its length.
    SLIDING = "sliding"
    # `since 09:00`, `today`: ends now and keeps its start.
    GROWING = "growing"


@dataclass(frozen=True)
class TimeWindow:
    """An absolute window [begin, end) in UTC, plus how the user phrased it."""

    begin: datetime  # aware, UTC
    end: datetime  # aware, UTC
    label: str  # e.g. "last 1 h", "today", "since 09:00"
    anchor: Anchor = Anchor.FIXED


@dataclass(frozen=True)
class TaskFilters:
    statuses: frozenset[str] = frozenset()  # upper-case API statuses, e.g. {"FAILED"}
    name_glob: str | None = None  # fnmatch-style, case-insensitive, on the API task name
    user: str | None = None  # case-insensitive exact match on user_name

    @property
    def active(self) -> bool:
        return bool(self.statuses or self.name_glob or self.user)

    def matches(self, name: str, user: str, status: str) -> bool:
        """Whether a task passes every filter. A name pattern without `*`, `?` or `[` matches
        as a substring (`name=offset` finds kafkaResetConsumerOffset); with one it is an
        fnmatch glob over the whole name. Both ignore case."""
        if self.statuses and status.upper() not in self.statuses:
            return False
        if self.user is not None and user.casefold() != self.user.casefold():
            return False
        if self.name_glob is not None:
            pattern, subject = self.name_glob.casefold(), name.casefold()
            if any(c in pattern for c in "*?["):
                return fnmatch.fnmatchcase(subject, pattern)
            return pattern in subject
        return True


@dataclass(frozen=True)
class TaskQuery:
    target: str | None  # instance id, alias or name as typed; None -> channel default
    window: TimeWindow
    filters: TaskFilters = field(default_factory=TaskFilters)
    limit: int = DEFAULT_LIMIT
    page: int = 1
    # Several instances at once, merged into one timeline (`target` is then None): ("all",) for
    # every instance the channel may see, else the targets as typed (in a button: as resolved,
    # an alias or an instance id each).
    targets: tuple[str, ...] = ()
    # With `targets`, the instance a Params button's task is on, as one of those forms.
    on: str | None = None

    @property
    def several(self) -> bool:
        return bool(self.targets)

    @property
    def everything(self) -> bool:
        """`all`: every instance the channel may see."""
        return self.targets == (ALL_TARGETS,)


def whole_seconds(now: datetime) -> datetime:
    """`now` as aware UTC cut to whole seconds: the API takes whole seconds, and a button value
    carries epoch seconds, so a window survives the round trip exactly."""
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    return now.astimezone(UTC).replace(microsecond=0)


def refreshed(window: TimeWindow, now: datetime) -> TimeWindow:
    """The window a Refresh shows.

    Page turns keep the absolute window so page 2 matches page 1, but Refresh answers "what is
    happening now": windows anchored to the moment of asking move their end to now; a sliding
    one keeps its length, a growing one its start (never past MAX_WINDOW). Fixed windows stay.
    """
    now = whole_seconds(now)
    if now <= window.end:
        return window
    if window.anchor is Anchor.SLIDING:
        return TimeWindow(now - (window.end - window.begin), now, window.label, window.anchor)
    if window.anchor is Anchor.GROWING:
        return TimeWindow(max(window.begin, now - MAX_WINDOW), now, window.label, window.anchor)
    return window
