"""A per-instance view of recent tasks, brought up to date by asking only for what can have changed.

Windows that touch "now" (a query's `last 1h`, Refresh, `all`, alerts, digests due now, the
look-back for tasks still running) are served from one view per instance instead of each being
read afresh. A sync asks for:
- the tasks created since the last sync (one list call for a quiet instance): ListBackgroundTasks
  filters on `created_at`, so a window starting a little before the last sync (`overlap`, for
  records that appear late or clocks that disagree) finds every new task;
- each task that was still CREATED or EXECUTING, by id (its status is the only thing that
  changes on a record): one show-task call per running task, gone records are dropped.
Every `full_every` the sync's list call is instead the first page of the view's whole range:
its task_count, against the tasks known, tells whether a record was deleted upstream (or
appeared late); only then is the view read again in full. So a quiet instance costs one call
per interval even at the check, and a deletion is still seen within `full_every`.
A view's first read reaches back `floor` before today (the look-back for running tasks), so a
window and its look-back are one read.

So with N people, alerts and digests asking about one instance, the instance costs one list
call per freshness interval (`fresh`, today's 15 s for live windows) plus one call per running
task, not one re-read of every window per asker. Concurrent askers join the sync in flight.
A view whose full read came back short of the API's task_count is not kept: those windows take
the per-window path, which reports the shortfall.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from bot.dms.client import DmsClient
from bot.dms.errors import DmsNotFoundError
from bot.domain.instances import InstanceRef
from bot.domain.tasks import Task, TaskWindow

log = logging.getLogger(__name__)

_FLOOR = datetime.min.replace(tzinfo=UTC)
# Show-task calls in flight at once for one sync: a burst of 30 running tasks must not look
# like a flood to the gateway's per-AK throttling.
SHOW_CONCURRENCY = 5
PAGE = 100  # the API's largest page


class IncompleteRead(Exception):
    """The full read came back with fewer tasks than the API counted."""


@dataclass
class InstanceView:
    begin: datetime  # every task created at or after this is known (up to `synced_to`)
    synced_to: datetime  # the clock when the last list call was made
    synced_at: datetime  # when the view was last brought up to date
    full_at: datetime  # when it was last read in full
    tasks: dict[str, Task] = field(default_factory=dict)

    def window(self, begin: datetime, end: datetime) -> tuple[Task, ...]:
        chosen = [
            t
            for t in self.tasks.values()
            if t.created_at is not None and begin <= t.created_at < end
        ]
        return tuple(sorted(chosen, key=lambda t: (t.created_at or _FLOOR, t.id), reverse=True))


@dataclass(frozen=True)
class SyncCounts:
    list_calls: int = 0
    show_calls: int = 0
    full_reads: int = 0


class InstanceViews:
    def __init__(
        self,
        client: DmsClient,
        *,
        fresh: timedelta,
        full_every: timedelta = timedelta(minutes=5),
        overlap: timedelta = timedelta(minutes=2),
        max_instances: int = 256,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        floor: timedelta = timedelta(0),
    ) -> None:
        self.floor = floor
        self._client = client
        self._fresh = fresh
        self._full_every = full_every
        self._overlap = overlap
        self._max = max_instances
        self._clock = clock
        self._views: OrderedDict[str, InstanceView] = OrderedDict()
        self._inflight: dict[str, asyncio.Future[None]] = {}
        self.counts = SyncCounts()

    def fresh_task(self, instance: InstanceRef, task_id: str) -> tuple[Task, datetime] | None:
        """The task as a fresh view last saw it (and when), without a call; None otherwise."""
        view = self._views.get(_key(instance))
        if view is None or not self._serves(view, view.begin):
            return None
        task = view.tasks.get(task_id)
        return None if task is None else (task, view.synced_at)

    def covers(self, instance: InstanceRef, begin: datetime) -> bool:
        view = self._views.get(_key(instance))
        return view is not None and view.begin <= begin

    async def window(
        self, instance: InstanceRef, begin: datetime, end: datetime
    ) -> tuple[TaskWindow, bool]:
        """The tasks created in [begin, end), and whether no call was made for this request.

        Raises what the client raises when a needed sync fails (the view is left as it was)."""
        key = _key(instance)
        called = False  # whether this request waited for a call
        while True:
            view = self._views.get(key)
            if view is not None and not called and self._serves(view, begin):
                self._views.move_to_end(key)
                return self._served(view, begin, end), True
            shared = self._inflight.get(key)
            if shared is None:
                shared = asyncio.ensure_future(self._bring_up_to_date(instance, key, begin))
                self._inflight[key] = shared
                shared.add_done_callback(lambda f: f.cancelled() or f.exception())
            called = True
            # shield: one asker giving up must not cancel the sync the others wait for.
            await asyncio.shield(shared)
            view = self._views.get(key)
            if view is None:
                raise IncompleteRead(instance.instance_id)
            if view.begin <= begin:
                # Up to date as of the sync just made, even if that took longer than `fresh`.
                self._views.move_to_end(key)
                return self._served(view, begin, end), False
            # The sync in flight was for a later begin: go round to extend the view.

    @staticmethod
    def _served(view: InstanceView, begin: datetime, end: datetime) -> TaskWindow:
        tasks = view.window(begin, end)
        return TaskWindow(
            tasks=tasks, begin=begin, end=end, fetched_at=view.synced_at, reported_total=len(tasks)
        )

    def _serves(self, view: InstanceView, begin: datetime) -> bool:
        now = self._clock()
        return (
            view.begin <= begin
            and now - view.synced_at < self._fresh
            and now - view.full_at < self._full_every
        )

    async def _bring_up_to_date(self, instance: InstanceRef, key: str, begin: datetime) -> None:
        try:
            view = self._views.get(key)
            now = self._clock()
            if view is None:
                day = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
                await self._full_read(instance, key, min(begin, day - self.floor))
                return
            if now - view.full_at >= self._full_every and not await self._count_matches(
                instance, view
            ):
                await self._full_read(instance, key, min(begin, view.begin))
                return
            if begin < view.begin:
                await self._extend(instance, view, begin)
            if now - view.synced_at >= self._fresh:
                await self._sync(instance, view)
        finally:
            self._inflight.pop(key, None)

    async def _full_read(self, instance: InstanceRef, key: str, begin: datetime) -> None:
        started = self._clock()
        read = await self._list(instance, begin, _upstream_end(started))
        self.counts = _add(self.counts, full_reads=1)
        if read.reported_total is not None and len(read.tasks) < read.reported_total:
            # A short read would hide the shortfall the per-window path reports.
            self._views.pop(key, None)
            return
        self._views[key] = InstanceView(
            begin=begin,
            synced_to=started,
            synced_at=started,
            full_at=started,
            tasks={t.id: t for t in read.tasks},
        )
        self._views.move_to_end(key)
        while len(self._views) > self._max:
            self._views.popitem(last=False)

    async def _count_matches(self, instance: InstanceRef, view: InstanceView) -> bool:
        """The periodic check for records deleted upstream, in one call: the first page of the
        view's whole range, newest first. Its task_count must equal the tasks known plus the new
        ones on that page; then the page is this sync's list call. Otherwise (a record deleted or
        appearing late, or more new tasks than a page) the caller reads the view in full."""
        started = self._clock()
        since = max(view.begin, view.synced_to - self._overlap)
        self.counts = _add(self.counts, list_calls=1)
        page = await self._client.list_tasks(
            instance, start=1, limit=PAGE, begin=view.begin, end=_upstream_end(started)
        )
        oldest = min((t.created_at for t in page.tasks if t.created_at), default=None)
        if page.total is None or (
            len(page.tasks) == 100 and oldest is not None and oldest >= since
        ):
            return False
        new = [t for t in page.tasks if t.created_at is not None and t.created_at >= since]
        ids = set(view.tasks) | {t.id for t in new}
        if page.total != len(ids):
            return False
        await self._sync(instance, view, listed=new)
        view.full_at = started
        return True

    async def _extend(self, instance: InstanceRef, view: InstanceView, begin: datetime) -> None:
        read = await self._list(instance, begin, view.begin)
        for task in read.tasks:
            view.tasks.setdefault(task.id, task)
        view.begin = begin

    async def _sync(
        self, instance: InstanceRef, view: InstanceView, listed: list[Task] | None = None
    ) -> None:
        started = self._clock()
        since = max(view.begin, view.synced_to - self._overlap)
        if listed is None:
            new_tasks = list((await self._list(instance, since, _upstream_end(started))).tasks)
        else:
            new_tasks = listed
        fresh_ids = {t.id for t in new_tasks}
        running = [t.id for t in view.tasks.values() if t.is_active and t.id not in fresh_ids]
        limit = asyncio.Semaphore(SHOW_CONCURRENCY)

        async def show(task_id: str) -> tuple[str, Task | None]:
            async with limit:
                try:
                    return task_id, await self._client.show_task(instance, task_id)
                except DmsNotFoundError:
                    return task_id, None  # deleted upstream

        shown = await asyncio.gather(*(show(task_id) for task_id in running))
        self.counts = _add(self.counts, show_calls=len(running))
        # Applied only once every call succeeded, so a failed sync leaves the view consistent.
        for task in new_tasks:
            view.tasks[task.id] = task
        for task_id, task in shown:
            if task is None:
                view.tasks.pop(task_id, None)
            else:
                view.tasks[task_id] = task
        view.synced_to = started
        view.synced_at = started

    async def _list(self, instance: InstanceRef, begin: datetime, end: datetime) -> TaskWindow:
        self.counts = _add(self.counts, list_calls=1)
        return await self._client.fetch_window(instance, begin, end)


def _upstream_end(now: datetime) -> datetime:
    # The API needs an end_time; the next whole minute after a minute's margin covers every task
    # created up to now whatever the sub-minute skew, and the next sync starts before `now`.
    return now.astimezone(UTC).replace(second=0, microsecond=0) + timedelta(minutes=2)


def _key(instance: InstanceRef) -> str:
    return "|".join((instance.project_id, instance.region, instance.instance_id))


def _add(counts: SyncCounts, **more: int) -> SyncCounts:
    return SyncCounts(
        list_calls=counts.list_calls + more.get("list_calls", 0),
        show_calls=counts.show_calls + more.get("show_calls", 0),
        full_reads=counts.full_reads + more.get("full_reads", 0),
    )
