"""Watches: someone asks to follow one running task; the bot posts a message it owns, edits it in
place as the task moves on, and when the task ends says so once in that message's thread,
mentioning whoever asked. What a watch is, how often it looks, its bounds, the claim keys that
make its end happen once, the button values, and how it is kept (JSON). Pure: no I/O, the clock
comes in.

Why a message of its own: a click's response_url takes 5 uses within 30 minutes and chat.update
cannot edit an ephemeral message, while a scale-out can run for hours.

Who may stop a watch: only the person who asked. It pings them, it counts against their own
bound, and a click by someone else would silently take away the ping they are waiting for; an
idle watch is quiet in the channel (edits do not notify), and ends by itself at its lifetime.
Anyone else who presses Stop is told, privately, whose watch it is.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from bot.domain.instances import InstanceRef
from bot.domain.tasks import Task, is_finished

RECORD_KIND = "watch"
# Tasks that report step-by-step progress (GET .../tasks/{id}/progress): the console's
# "modify specifications" family. Progress is asked for these only, so a watch of any other
# task costs one call per look, not two.
SCALE_TASKS = frozenset({"extendStorage", "extendBroker", "extendBandwidth", "resizeFlavor"})
# What a button may carry, as the grammar bounds typed values and task ids.
MAX_TARGET = 100
MAX_TASK_ID = 128
VALUE_VERSION = 1
_WATCH_ID = frozenset("abcdefghijklmnopqrstuvwxyz234567")


@dataclass(frozen=True)
class WatchLimits:
    """How often a watch looks, and how many and how long there may be."""

    min_interval_s: float = 10.0
    growth: float = 1.5
    max_interval_s: float = 300.0
    lifetime: timedelta = timedelta(hours=24)
    per_user: int = 5
    overall: int = 200

    def __post_init__(self) -> None:
        if not 0 < self.min_interval_s <= self.max_interval_s or self.growth < 1:
            raise ValueError("intervals must be positive, the minimum under the maximum")
        if self.per_user < 1 or self.overall < 1 or self.lifetime <= timedelta(0):
            raise ValueError("bounds must be positive")

    def next_interval(self, current: float, changed: bool) -> float:
        """Back off while nothing moves; start over from the minimum when something did."""
        if changed:
            return self.min_interval_s
        return min(max(current, self.min_interval_s) * self.growth, self.max_interval_s)


class EndReason(StrEnum):
    FINISHED = "finished"  # the task reached a final status
    GONE = "gone"  # the task record (or its instance) is gone: 404
    STOPPED = "stopped"  # whoever asked pressed Stop watching
    EXPIRED = "expired"  # the watch outlived its lifetime
    NO_ACCESS = "no_access"  # the access rules no longer let its channel or person see it
    MESSAGE_GONE = "message_gone"  # its message was deleted: nothing left to edit


# Ends that are announced in the thread with a mention; the others end quietly (a stop is the
# asker's own doing, a deleted message means nobody wants to read about it).
ANNOUNCED = frozenset({EndReason.FINISHED, EndReason.GONE, EndReason.EXPIRED, EndReason.NO_ACCESS})


@dataclass(frozen=True)
class Progress:
    """What the progress API said at the last look."""

    percentage: int
    remain_s: int | None = None
    step: str | None = None  # the step in progress


@dataclass(frozen=True)
class Ending:
    """How a watch ended; kept in the record until its final edit and reply are done."""

    reason: EndReason
    at: datetime
    by: str | None = None  # who stopped it


@dataclass(frozen=True)
class Watch:
    """One person's watch of one task."""

    id: str  # watch_id(user, instance, task): one watch per person and task
    user_id: str  # who asked
    asked_in: str  # the conversation the click came from: access is judged for it
    target: str  # the alias or instance id the button carried
    instance: InstanceRef
    task_id: str
    started_at: datetime  # aware UTC
    channel_id: str = ""  # where its message is (C…, G…, or the DM's D…); "" until posted
    message_ts: str = ""
    thread_ts: str | None = None  # the thread its message was posted in, if any
    in_dm: bool = False  # posted in the asker's DM rather than where they clicked
    task: Task | None = None  # as last seen
    progress: Progress | None = None
    checked_at: datetime | None = None
    next_check_at: datetime | None = None
    interval_s: float = 0.0
    error: str | None = None  # why the last look failed, in words
    ending: Ending | None = None

    @property
    def generation(self) -> int:
        """Tells apart watches of one person and task over time (a second watch after the first
        expired): part of every key, so the old one's done markers never silence the new one."""
        return int(self.started_at.timestamp())

    @property
    def posted(self) -> bool:
        return bool(self.channel_id and self.message_ts)

    @property
    def reply_thread(self) -> str:
        """Replies go in the message's own thread (the one it was posted in, or its own)."""
        return self.thread_ts or self.message_ts

    def expires_at(self, limits: WatchLimits) -> datetime:
        return self.started_at + limits.lifetime

    def due(self, now: datetime) -> bool:
        return self.ending is not None or self.next_check_at is None or self.next_check_at <= now

    def same_task(self, user_id: str, instance: InstanceRef, task_id: str) -> bool:
        return self.id == watch_id(user_id, instance, task_id)

    def seen(
        self, task: Task, progress: Progress | None, now: datetime, limits: WatchLimits
    ) -> Watch:
        """After a look that worked: what it saw and when to look next."""
        before = self.task
        changed = (
            before is None
            or before.status_upper != task.status_upper
            or self.progress != progress
            or self.error is not None
        )
        interval = limits.next_interval(self.interval_s, changed)
        return replace(
            self,
            task=task,
            progress=progress,
            checked_at=now,
            error=None,
            interval_s=interval,
            next_check_at=now + timedelta(seconds=interval),
        )

    def failed(self, error: str, now: datetime, limits: WatchLimits) -> Watch:
        """After a look that failed: say why, and back off before the next."""
        interval = limits.next_interval(self.interval_s, changed=False)
        return replace(
            self,
            error=error,
            checked_at=now,
            interval_s=interval,
            next_check_at=now + timedelta(seconds=interval),
        )

    # ---- keys --------------------------------------------------------------------------------

    @property
    def lease_key(self) -> str:
        """Held while a look, an edit or an end is under way: one replica at a time."""
        return f"watch:{self.id}:poll"

    @property
    def stop_key(self) -> str:
        """Done once whoever asked pressed Stop: a marker no record write can overwrite."""
        return f"watch:{self.id}:{self.generation}:stop"

    @property
    def reply_key(self) -> str:
        """The end's reply in the thread: posted once."""
        return f"watch:{self.id}:{self.generation}:reply"

    # ---- JSON --------------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        return {
            "v": VALUE_VERSION,
            "id": self.id,
            "user_id": self.user_id,
            "asked_in": self.asked_in,
            "target": self.target,
            "instance": self.instance.model_dump(mode="json"),
            "task_id": self.task_id,
            "started_at": _utc_text(self.started_at),
            "channel_id": self.channel_id,
            "message_ts": self.message_ts,
            "thread_ts": self.thread_ts,
            "in_dm": self.in_dm,
            "task": None if self.task is None else self.task.model_dump(mode="json", by_alias=True),
            "progress": None if self.progress is None else _progress_json(self.progress),
            "checked_at": _utc_text(self.checked_at),
            "next_check_at": _utc_text(self.next_check_at),
            "interval_s": self.interval_s,
            "error": self.error,
            "ending": None if self.ending is None else _ending_json(self.ending),
        }

    @classmethod
    def from_json(cls, data: Any) -> Watch:
        """A watch as `to_json` wrote it; ValueError naming what does not read back."""
        try:
            if not isinstance(data, dict) or data.get("v") != VALUE_VERSION:
                raise ValueError("not a watch of this version")
            progress, ending = data.get("progress"), data.get("ending")
            return cls(
                id=_str(data["id"]),
                user_id=_str(data["user_id"]),
                asked_in=_str(data["asked_in"]),
                target=_str(data["target"]),
                instance=InstanceRef.model_validate(data["instance"]),
                task_id=_str(data["task_id"]),
                started_at=_time(data["started_at"]),
                channel_id=_str(data.get("channel_id", "")),
                message_ts=_str(data.get("message_ts", "")),
                thread_ts=_opt_str(data.get("thread_ts")),
                in_dm=bool(data.get("in_dm", False)),
                task=None if data.get("task") is None else Task.model_validate(data["task"]),
                progress=None
                if progress is None
                else Progress(
                    percentage=int(progress["percentage"]),
                    remain_s=None
                    if progress.get("remain_s") is None
                    else int(progress["remain_s"]),
                    step=_opt_str(progress.get("step")),
                ),
                checked_at=_maybe_time(data.get("checked_at")),
                next_check_at=_maybe_time(data.get("next_check_at")),
                interval_s=float(data.get("interval_s", 0.0)),
                error=_opt_str(data.get("error")),
                ending=None
                if ending is None
                else Ending(
                    reason=EndReason(ending["reason"]),
                    at=_time(ending["at"]),
                    by=_opt_str(ending.get("by")),
                ),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ValueError(f"a stored watch does not read back: {exc!r}") from exc


def watch_id(user_id: str, instance: InstanceRef, task_id: str) -> str:
    """The same for one person and task wherever it is computed, so the store's insert decides,
    across replicas and double clicks, that the task is watched once by that person."""
    key = "\x1f".join(
        (user_id, instance.project_id, instance.region, instance.instance_id, task_id)
    )
    digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).digest()
    return base64.b32encode(digest[:10]).decode("ascii").lower()


def ended(task: Task) -> bool:
    return is_finished(task.status)


def task_duration(task: Task, now: datetime) -> timedelta | None:
    """How long the task ran (to its end, when finished) or has been running."""
    if task.created_at is None:
        return None
    end = (task.updated_at or now) if ended(task) else now
    return max(end - task.created_at, timedelta(0))


def wants_progress(task: Task) -> bool:
    return task.name in SCALE_TASKS and task.status_upper == "EXECUTING"


# ---- what the use cases hand to the renderer -------------------------------------------------


@dataclass(frozen=True)
class WatchStarted:
    watch: Watch
    # Why it is in the DM rather than where the click was: "not_in_channel" (the bot cannot
    # post there) or "restricted" (the instance is limited to certain people).
    dm_reason: str | None = None


@dataclass(frozen=True)
class AlreadyWatched:
    watch: Watch
    link: str | None = None


@dataclass(frozen=True)
class AlreadyFinished:
    instance: InstanceRef
    task: Task
    now: datetime


@dataclass(frozen=True)
class TooManyWatches:
    limit: int
    per_user: bool  # the person's own bound, else the bot's overall one
    yours: tuple[Watch, ...] = field(default=())


@dataclass(frozen=True)
class StopRefused:
    watch: Watch


@dataclass(frozen=True)
class Stopping:
    """Stop was recorded; the message says so as soon as the look in progress is done."""

    watch: Watch


@dataclass(frozen=True)
class NotWatching:
    """A Stop button of a watch that has ended (or never was)."""


WatchOutcome = (
    WatchStarted
    | AlreadyWatched
    | AlreadyFinished
    | TooManyWatches
    | StopRefused
    | Stopping
    | NotWatching
)
WATCH_OUTCOMES = (
    WatchStarted,
    AlreadyWatched,
    AlreadyFinished,
    TooManyWatches,
    StopRefused,
    Stopping,
    NotWatching,
)


# ---- button values ---------------------------------------------------------------------------


class DamagedValue(ValueError):
    """A button value that is not one of ours, or was edited."""


@dataclass(frozen=True)
class WatchValue:
    """What a Watch button carries: the instance as the listing named it, and the task."""

    target: str
    task_id: str

    def encode(self) -> str:
        _check_text(self.target, "instance", MAX_TARGET, typed=True)
        _check_text(self.task_id, "task id", MAX_TASK_ID, typed=False)
        # ASCII only: at most 6 characters per character of the two texts, so the value stays
        # far under Slack's 2000 (tests/test_watch_domain.py builds the worst case).
        value = {"v": VALUE_VERSION, "t": self.target, "k": self.task_id}
        return json.dumps(value, separators=(",", ":"))

    @classmethod
    def decode(cls, value: Any) -> WatchValue:
        data = _object(value, {"v", "t", "k"})
        return cls(
            target=_check_text(data["t"], "instance", MAX_TARGET, typed=True),
            task_id=_check_text(data["k"], "task id", MAX_TASK_ID, typed=False),
        )


@dataclass(frozen=True)
class StopValue:
    """What a Stop watching button carries: which watch, and which generation of it."""

    watch_id: str
    generation: int

    def encode(self) -> str:
        value = {"v": VALUE_VERSION, "w": self.watch_id, "g": self.generation}
        return json.dumps(value, separators=(",", ":"))

    @classmethod
    def decode(cls, value: Any) -> StopValue:
        data = _object(value, {"v", "w", "g"})
        watch, generation = data["w"], data["g"]
        if not isinstance(watch, str) or not 1 <= len(watch) <= 40 or set(watch) - _WATCH_ID:
            raise DamagedValue("its watch id is not one of ours")
        if isinstance(generation, bool) or not isinstance(generation, int) or generation < 0:
            raise DamagedValue("its generation is not a whole number")
        return cls(watch, generation)


def _object(value: Any, keys: set[str]) -> dict[str, Any]:
    if not isinstance(value, str) or not 0 < len(value) <= 2000:
        raise DamagedValue("it is empty or too long")
    try:
        data = json.loads(value)
    except (ValueError, RecursionError):
        raise DamagedValue("it is not JSON") from None
    if not isinstance(data, dict) or set(data) != keys:
        raise DamagedValue("it does not hold what this button carries")
    if data["v"] != VALUE_VERSION or isinstance(data["v"], bool):
        raise DamagedValue("it comes from another version of the bot")
    return data


def _check_text(value: Any, what: str, limit: int, *, typed: bool) -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= limit:
        raise DamagedValue(f"its {what} is not a text of 1 to {limit} characters")
    if typed and not value.strip():
        raise DamagedValue(f"its {what} is blank")
    if any(ord(c) < 32 or 0x7F <= ord(c) < 0xA0 or 0xD800 <= ord(c) < 0xE000 for c in value):
        raise DamagedValue(f"its {what} holds characters that cannot be shown")
    return value


# ---- JSON helpers ----------------------------------------------------------------------------


def _str(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"not a text: {value!r:.60}")
    return value


def _opt_str(value: Any) -> str | None:
    return None if value is None or value == "" else _str(value)


def _utc_text(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("a watch keeps aware times only")
    return value.astimezone(UTC).isoformat()


def _time(value: Any) -> datetime:
    moment = datetime.fromisoformat(_str(value))
    if moment.tzinfo is None:
        raise ValueError("a stored time has no zone")
    return moment.astimezone(UTC)


def _maybe_time(value: Any) -> datetime | None:
    return None if value is None else _time(value)


def _progress_json(progress: Progress) -> dict[str, Any]:
    return {"percentage": progress.percentage, "remain_s": progress.remain_s, "step": progress.step}


def _ending_json(ending: Ending) -> dict[str, Any]:
    return {"reason": ending.reason.value, "at": _utc_text(ending.at), "by": ending.by}


def next_wait(watches: list[Watch], now: datetime, poll_s: float) -> float:
    """Seconds until the soonest look is due, at most `poll_s` (so watches another replica
    started, and its stops, are seen soon) and never negative."""
    soonest = now + timedelta(seconds=poll_s)
    for watch in watches:
        if watch.next_check_at is not None and watch.ending is None:
            soonest = min(soonest, watch.next_check_at)
    seconds = (soonest - now).total_seconds()
    return 0.0 if math.isnan(seconds) else max(0.0, seconds)
