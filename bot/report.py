"""What the service hands to the renderer: plain, immutable results of the use cases.

The renderer turns these into Slack messages (and the terminal prints the same messages), so every
front door (slash command, buttons, digests, `try`, `demo`) shows the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeGuard
from zoneinfo import ZoneInfo

from bot.domain.alerts import AlertAdded, AlertListing, AlertRemoved
from bot.domain.digests import Subscription
from bot.domain.durations import DurationRange
from bot.domain.instances import InstanceRef
from bot.domain.query import TaskQuery
from bot.domain.tasks import Task


@dataclass(frozen=True)
class TaskReport:
    """One page of a task listing, with counts over the whole window."""

    instance: InstanceRef | None  # None in a TimelineReport, whose rows say theirs
    query: TaskQuery  # absolute window, filters, limit and the page shown
    tz: ZoneInfo  # the reader's time zone
    now: datetime  # aware UTC: "ago" and "running for" are relative to this
    window_counts: dict[str, int]  # status -> count, every task in the window (no filters)
    matched: int  # tasks in the window that pass the filters
    page_tasks: tuple[Task, ...]  # the tasks on this page, newest first
    pages: int  # >= 1
    fetched_at: datetime  # when the data left the API
    from_cache: bool
    # Running tasks that have run far too long, by task id, with the usual range when known.
    overdue: dict[str, DurationRange | None] = field(default_factory=dict)
    typical: dict[str, DurationRange] = field(default_factory=dict)  # by task name
    # The page asked for, when it was past the end and query.page was clamped to the last.
    requested_page: int | None = None
    # Tasks not known to be finished that started before the window (the API filters on
    # created_at, so the window alone would hide them), every one of them: counts use these.
    # Those that pass the filters are listed first, on page 1's side of the listing.
    earlier_running: tuple[Task, ...] = ()
    # The look-back for them failed: the answer must say it could not check.
    earlier_unknown: bool = False
    # The API's own count of the window (task_count), when it is more than it returned.
    reported_total: int | None = None
    # Seen by more than its requester (a shared copy, a digest): times as Slack date tokens,
    # which each reader sees in their own zone, and nothing relative that would freeze.
    public: bool = False

    @property
    def page(self) -> int:
        return self.query.page

    @property
    def window_total(self) -> int:
        return sum(self.window_counts.values())

    @property
    def shortfall(self) -> int:
        """How many tasks the API counted in the window but did not return."""
        if self.reported_total is None:
            return 0
        return max(self.reported_total - self.window_total, 0)

    def started_earlier(self, task: Task) -> bool:
        return any(t.id == task.id for t in self.earlier_running)


@dataclass(frozen=True)
class InstancePart:
    """One instance's share of a timeline over several instances."""

    instance: InstanceRef
    counts: dict[str, int] = field(default_factory=dict)  # by status, the whole window
    matched: int = 0  # its tasks that pass the filters, those from before the window included
    earlier: int = 0  # its tasks still running from before the window
    earlier_unknown: bool = False  # its look-back failed
    shortfall: int = 0  # tasks the API counted but did not return
    unavailable: str = ""  # why it could not be read (problem_for(exc).summary), when not
    reference: str = ""  # the API's error code and request id of that failure

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass(frozen=True)
class TimelineRow:
    """A task on one page of a timeline, with the instance it is on."""

    instance: InstanceRef
    carried: str  # the instance as a button carries it (alias or id): TaskQuery.on
    task: Task
    started_earlier: bool = False  # still running from before the window
    overdue: bool = False
    usual: DurationRange | None = None  # its usual duration, when overdue and known


@dataclass(frozen=True)
class NotShown:
    """A listed target with no task data in the answer: unknown, or not allowed here."""

    label: str  # as typed (or, after a click, as the button carried it)
    reason: str  # e.g. "not available in this channel", "no such instance"


@dataclass(frozen=True)
class TimelineReport(TaskReport):
    """One page of a timeline merged over several instances, newest first: the inherited
    counts, matches, earlier running tasks and freshness cover all of them (the oldest fetch;
    cached if any part was), `parts` break the counts down per instance, `rows` are the page's
    tasks with their instances (page_tasks holds the same tasks)."""

    everything: bool = False  # `all`: every instance the channel may see
    parts: tuple[InstancePart, ...] = ()
    rows: tuple[TimelineRow, ...] = ()
    not_shown: tuple[NotShown, ...] = ()
    note: str = ""  # e.g. why the project's instances could not be listed

    @property
    def unavailable(self) -> tuple[InstancePart, ...]:
        return tuple(p for p in self.parts if p.unavailable)


@dataclass(frozen=True)
class ParamsView:
    """One task's params, for the Params button."""

    instance: InstanceRef
    query: TaskQuery  # the listing it came from, so "Back" can return to it
    task: Task
    tz: ZoneInfo
    now: datetime
    public: bool = False  # as on TaskReport


@dataclass(frozen=True)
class Refusal:
    """The channel (or user) may not see this instance. Reveals no task data."""

    instance_label: str  # what the user typed or the alias; never more than they already know
    allowed_channels: tuple[str, ...] = ()  # channel ids where it is available
    # The channel is allowed but the instance is limited to certain people, who exclude this one.
    people_only: bool = False


@dataclass(frozen=True)
class Problem:
    """Something failed. `summary` says what, `hint` what to do; `reference` holds the API error
    code and request id for support. All plain text."""

    summary: str
    hint: str = ""
    reference: str = ""
    example: str = ""  # a valid command (with its name) close to what was typed, if any


@dataclass(frozen=True)
class UnknownInstance:
    typed: str
    suggestions: tuple[str, ...]
    example: str  # a command to try instead (with its name)


@dataclass(frozen=True)
class WhichInstance:
    """A window or filter was typed without an instance, where the channel has no default: the
    query as typed, and the instances this channel may use, to pick from."""

    command: str
    query: TaskQuery  # target None
    instances: tuple[str, ...]


@dataclass(frozen=True)
class HelpView:
    command: str  # the slash command, as configured
    instances: tuple[str, ...]  # the aliases this channel may see
    default_instance: str | None = None
    # Access rules exist: only the aliases listed can be used here, not names or ids.
    restricted: bool = False


def is_shareable(outcome: Outcome) -> TypeGuard[TaskReport | ParamsView]:
    """Only answers about tasks go public: a refusal, an error or help stays with its reader."""
    return isinstance(outcome, TaskReport | ParamsView)


@dataclass(frozen=True)
class InstanceDigest:
    """One instance's part of a digest: counts, what failed, what is still running."""

    instance: InstanceRef
    counts: dict[str, int] = field(default_factory=dict)  # by upper-case status, the period
    previous_total: int | None = None  # tasks in the period before, for the change
    failed: tuple[Task, ...] = ()
    running: tuple[Task, ...] = ()  # not known to be finished: the period's and earlier ones
    started_earlier: frozenset[str] = frozenset()  # ids of running tasks from before the period
    overdue: dict[str, DurationRange | None] = field(default_factory=dict)
    busiest: tuple[tuple[str, int], ...] = ()  # (task name, count), most first
    shortfall: int = 0  # tasks the API counted but did not return
    unavailable: str = ""  # why this instance could not be read, when it could not

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def quiet(self) -> bool:
        return not self.unavailable and self.total == 0 and not self.running


@dataclass(frozen=True)
class DigestReport:
    """A digest of some instances over one period, for everyone in a channel."""

    begin: datetime  # aware UTC
    end: datetime
    now: datetime
    instances: tuple[InstanceDigest, ...]
    refused: tuple[str, ...] = ()  # targets the channel may not see, or that are unknown
    quiet: bool = False  # a quiet digest says one line when nothing happened
    silent: bool = False  # ... or, so configured ([digests] quiet_posts), posts nothing

    @property
    def nothing_happened(self) -> bool:
        return not self.refused and all(i.quiet for i in self.instances)


@dataclass(frozen=True)
class DigestScheduled:
    """A digest a channel has: for `digest add` (just added) and `digest list`."""

    subscription: Subscription
    next_run: datetime | None  # aware UTC; None while paused
    covers: tuple[str, ...]  # the instances it covers now, by name


@dataclass(frozen=True)
class DigestAdded:
    command: str
    digest: DigestScheduled


@dataclass(frozen=True)
class DigestListing:
    command: str
    channel_id: str
    digests: tuple[DigestScheduled, ...]


@dataclass(frozen=True)
class DigestRemoved:
    subscription: Subscription


@dataclass(frozen=True)
class DigestPreviewView:
    report: DigestReport


Outcome = (
    TaskReport
    | ParamsView
    | Refusal
    | Problem
    | UnknownInstance
    | HelpView
    | WhichInstance
    | DigestAdded
    | DigestListing
    | DigestRemoved
    | DigestPreviewView
    | AlertAdded
    | AlertListing
    | AlertRemoved
)
