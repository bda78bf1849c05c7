"""Results of DMS calls, kept as long as they can still be true, with in-flight coalescing.

- Lifetimes: a window that ended in the past and holds no CREATED/EXECUTING task cannot change
  any more (`TaskWindow.settled`), so it is kept for an hour; a window that touches "now", or
  holds a running task, only for seconds. "Touches now" includes windows that ended moments ago
  (`settle_grace_s`): "last 1h" ends at the instant the command was parsed, and a task started
  just before that may not be listed yet, nor may our clock agree with the cloud's to the second.
  The instance list changes rarely: minutes.
- Coalescing: a page turn, a refresh and a digest can ask for the same window at the same moment;
  N identical concurrent requests make one upstream call. A failure is handed to everyone who
  waited for that call, but never stored, so the next request tries again.
- Windows that touch "now" are served from a per-instance view that syncs instead of re-reading
  (bot/dms/sync.py): one list call for what is new plus one call per running task, shared by
  every query, Refresh, alert and digest about the instance.
- `cachetools.cached` is never used on coroutines: it would cache the coroutine object, and the
  second await raises "cannot reuse already awaited coroutine". Results are cached instead.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, Protocol, TypeVar

from cachetools import TLRUCache

from bot.dms.client import DmsClient
from bot.dms.sync import IncompleteRead, InstanceViews
from bot.domain.instances import InstanceRef
from bot.domain.tasks import Instance, Task, TaskWindow

T = TypeVar("T")


@dataclass(frozen=True)
class Cached(Generic[T]):
    value: T
    fetched_at: datetime
    # True when the value came out of the store rather than from a call made for this request.
    from_cache: bool


@dataclass(frozen=True)
class StoredResult:
    """What a store holds for one key."""

    value: Any
    fetched_at: datetime
    ttl_s: float


class ResultStore(Protocol):
    """Where results live between requests.

    Keys are plain strings that start with the kind of result ("window|", "task|",
    "instances|"), so a shared store such as Redis can choose how to serialise each kind. The
    methods are async for that reason, even though the in-memory store never waits.
    """

    async def get(self, key: str) -> StoredResult | None: ...

    async def put(self, key: str, result: StoredResult) -> None: ...


class MemoryResultStore:
    """A bounded in-process store.

    One cachetools TLRUCache rather than one TTLCache per lifetime class: each entry carries its
    own lifetime (`ttu` reads it), and all kinds share a single size bound, so a burst of short-
    lived "now" windows evicts least-recently-used entries of any kind instead of each class
    holding its own reserved share of memory.
    """

    def __init__(self, maxsize: int, clock: Callable[[], datetime]) -> None:
        self._entries: TLRUCache[str, StoredResult] = TLRUCache(
            maxsize=maxsize,
            ttu=lambda _key, result, now: now + result.ttl_s,
            timer=lambda: clock().timestamp(),
        )

    async def get(self, key: str) -> StoredResult | None:
        return self._entries.get(key)

    async def put(self, key: str, result: StoredResult) -> None:
        self._entries[key] = result

    def __len__(self) -> int:
        return len(self._entries)


@dataclass(frozen=True)
class CacheStats:
    """Upstream calls made and requests served without one."""

    window_fetches: int = 0
    task_fetches: int = 0
    instance_fetches: int = 0
    hits: int = 0
    # Requests that waited on a call another request had already started.
    joined: int = 0

    @property
    def upstream_calls(self) -> int:
        return self.window_fetches + self.task_fetches + self.instance_fetches


class TaskCache:
    """The client's reads, cached and coalesced. One per process (and event loop)."""

    def __init__(
        self,
        client: DmsClient,
        *,
        maxsize: int = 512,
        settled_ttl_s: float = 3600.0,
        live_ttl_s: float = 15.0,
        instances_ttl_s: float = 300.0,
        settle_grace_s: float = 120.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        store: ResultStore | None = None,
        sync: bool = True,
        full_read_every_s: float = 300.0,
        view_floor_days: int = 0,
    ) -> None:
        self._client = client
        self._settled_ttl_s = settled_ttl_s
        self._live_ttl_s = live_ttl_s
        self._instances_ttl_s = instances_ttl_s
        self._settle_grace = timedelta(seconds=settle_grace_s)
        self._clock = clock
        self._store: ResultStore = store if store is not None else MemoryResultStore(maxsize, clock)
        self._inflight: dict[str, asyncio.Future[StoredResult]] = {}
        self._counts = {"window": 0, "task": 0, "instances": 0, "hits": 0, "joined": 0}
        self.views = (
            InstanceViews(
                client,
                fresh=timedelta(seconds=live_ttl_s),
                full_every=timedelta(seconds=full_read_every_s),
                overlap=self._settle_grace,
                clock=clock,
                floor=timedelta(days=view_floor_days),
            )
            if sync
            else None
        )

    def set_view_floor(self, days: int) -> None:
        """A view's first read reaches back to `days` before today (UTC), so that the look-back
        of any window touching today or yesterday is inside it."""
        if self.views is not None:
            self.views.floor = timedelta(days=days)

    @property
    def stats(self) -> CacheStats:
        c = self._counts
        synced = self.views.counts if self.views is not None else None
        return CacheStats(
            window_fetches=c["window"] + (synced.list_calls if synced else 0),
            task_fetches=c["task"] + (synced.show_calls if synced else 0),
            instance_fetches=c["instances"],
            hits=c["hits"],
            joined=c["joined"],
        )

    async def window(
        self, instance: InstanceRef, begin: datetime, end: datetime
    ) -> Cached[TaskWindow]:
        if self.views is not None and (
            end + self._settle_grace > self._clock() or self.views.covers(instance, begin)
        ):
            try:
                window, no_call = await self.views.window(instance, begin, end)
            except IncompleteRead:
                pass  # the per-window path below reads it and reports the shortfall
            else:
                if no_call:
                    self._counts["hits"] += 1
                return Cached(window, window.fetched_at, from_cache=no_call)
        key = "|".join(("window", *_instance_key(instance), _time_key(begin), _time_key(end)))

        async def fetch() -> StoredResult:
            window = await self._client.fetch_window(instance, begin, end)
            ttl = self._settled_ttl_s if self._settled(window) else self._live_ttl_s
            return StoredResult(window, window.fetched_at, ttl)

        return await self._through(key, "window", fetch)

    def _settled(self, window: TaskWindow) -> bool:
        # A window short of the API's own task_count is kept only as long as a live one: the
        # missing tasks may come back on the next read.
        complete = window.reported_total is None or len(window.tasks) >= window.reported_total
        return (
            complete
            and window.settled
            and window.end is not None
            and window.end + self._settle_grace <= window.fetched_at
        )

    async def task(self, instance: InstanceRef, task_id: str) -> Cached[Task]:
        if self.views is not None:
            # A fresh synced view already looked at every running task of the instance: a
            # watch, an alert and a listing of that instance share that one look.
            seen = self.views.fresh_task(instance, task_id)
            if seen is not None:
                self._counts["hits"] += 1
                return Cached(seen[0], seen[1], from_cache=True)
        key = "|".join(("task", *_instance_key(instance), task_id))

        async def fetch() -> StoredResult:
            fetched_at = self._clock()
            task = await self._client.show_task(instance, task_id)
            ttl = self._live_ttl_s if task.is_active else self._settled_ttl_s
            return StoredResult(task, fetched_at, ttl)

        return await self._through(key, "task", fetch)

    async def instances(self, project_id: str, region: str) -> Cached[list[Instance]]:
        key = "|".join(("instances", project_id, region))

        async def fetch() -> StoredResult:
            fetched_at = self._clock()
            found = await self._client.list_instances(project_id, region)
            return StoredResult(found, fetched_at, self._instances_ttl_s)

        cached = await self._through(key, "instances", fetch)
        # Callers get their own list: the stored one must not be changed through them.
        return Cached(list(cached.value), cached.fetched_at, cached.from_cache)

    async def _through(
        self, key: str, kind: str, fetch: Callable[[], Awaitable[StoredResult]]
    ) -> Cached[Any]:
        stored = await self._store.get(key)
        if stored is not None:
            self._counts["hits"] += 1
            return Cached(stored.value, stored.fetched_at, from_cache=True)
        shared = self._inflight.get(key)
        if shared is None:
            self._counts[kind] += 1
            shared = asyncio.ensure_future(self._fill(key, fetch))
            self._inflight[key] = shared
            # Mark the exception as seen even if every waiter was cancelled before it came.
            shared.add_done_callback(lambda f: f.cancelled() or f.exception())
        else:
            self._counts["joined"] += 1
        # shield: a waiter that gives up (its Slack request was cancelled) must not cancel the
        # call the other waiters share.
        result = await asyncio.shield(shared)
        return Cached(result.value, result.fetched_at, from_cache=False)

    async def _fill(self, key: str, fetch: Callable[[], Awaitable[StoredResult]]) -> StoredResult:
        try:
            result = await fetch()
            await self._store.put(key, result)
            return result
        finally:
            # Leave the in-flight table the moment the call ends, so a request arriving after a
            # failure starts a new call instead of receiving the old exception.
            self._inflight.pop(key, None)


def _instance_key(instance: InstanceRef) -> tuple[str, str, str]:
    return (instance.project_id, instance.region, instance.instance_id)


def _time_key(moment: datetime) -> str:
    # The same instant written in two zones is one window.
    return moment.astimezone(UTC).isoformat() if moment.tzinfo else moment.isoformat()
