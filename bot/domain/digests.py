"""Scheduled daily digests: what a channel subscribed to, and what happened to its last run."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time
from enum import StrEnum

# A digest of every instance the channel may see.
ALL_TARGETS = "all"


class Days(StrEnum):
    DAILY = "daily"
    WEEKDAYS = "weekdays"  # Monday to Friday, in the digest's own time zone


class ResultKind(StrEnum):
    POSTED = "posted"
    NOTHING = "nothing"  # a quiet digest with nothing to report (posted a line, or nothing)
    SKIPPED = "skipped"  # missed by more than the grace period while the bot was down
    FAILED = "failed"  # posting or fetching failed; `detail` says why
    PAUSED = "paused"  # the channel is gone or closed to the bot; `detail` says which


@dataclass(frozen=True)
class DigestResult:
    kind: ResultKind
    at: datetime  # aware UTC: when it happened
    due: datetime  # aware UTC: the scheduled run it belongs to
    detail: str = ""


@dataclass(frozen=True)
class Subscription:
    """One channel's daily digest of some instances."""

    id: str  # short and typeable, e.g. "d7k2q9"
    channel_id: str
    targets: tuple[str, ...]  # aliases or instance ids as typed, or (ALL_TARGETS,)
    at: time  # local time of day, no seconds
    tz: str  # IANA zone name
    days: Days = Days.DAILY
    quiet: bool = False
    created_by: str = ""  # Slack user id of whoever added it
    created_at: datetime | None = None  # aware UTC
    # Why posting is paused (channel_not_found, not_in_channel, is_archived), None when active.
    paused: str | None = None
    last_result: DigestResult | None = None
