"""Every page of a window of background tasks, each task once, checked against `task_count`.

DMS quirks this module lives with (see the DMS API facts):
- GET /tasks pages by `start`, the 1-based position of the first record (SDK 3.1.211 and
  Terraform page with `start += len(tasks)`), but the current API reference calls it `offset`
  (0-based) and nothing public settles which one the live gateway reads: a gateway that ignores
  `start` answers every page with the first one again. Later pages that bring back the first
  page (at least half of its ids: tasks arriving meanwhile would make a repeated first page look
  new, so "no new id" alone would miss it) are that sign; paging is then retried once with the
  other parameter, and what worked is remembered per endpoint;
- nothing public says whether the gateway caps `limit` below 100 silently, so pages step by what
  actually came back, never by the limit asked for;
- `task_count` is the total across all pages (a string, sometimes missing); the window is
  compared with it, and when the API returns fewer than it counts the window says so
  (`TaskWindow.reported_total`) rather than pass for complete;
- tasks that arrive while we page push the older ones down a position (newest first), so the same
  task can show up on two pages and the total grows; the newcomers are at the top.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime
from typing import Literal

from bot.dms.models import MAX_PAGE_SIZE, TaskPage
from bot.domain.tasks import Task

log = logging.getLogger(__name__)

PagingBy = Literal["start", "offset"]
# One page of the window from its 1-based position, asked for with `start` or `offset`.
PageFetch = Callable[[int, PagingBy], Awaitable[TaskPage]]

# Rounds of concurrent pages after the first page: the usual window needs one; a switch of
# parameter, short pages, a total that grew and the re-read of the top take one each. The bound
# keeps a gateway that reports ever-growing totals from holding us here.
MAX_ROUNDS = 6
# Without task_count the pages are read one by one; 500 pages of 100 is far beyond any window
# the API lets us page through (DMS.10240043, skip count too large).
MAX_UNCOUNTED_PAGES = 500


def _other(by: PagingBy) -> PagingBy:
    return "offset" if by == "start" else "start"


class PagingMemory:
    """What each endpoint's gateway was seen to do, for the life of the client."""

    def __init__(self) -> None:
        self._by: dict[str, PagingBy] = {}
        self._capped: set[str] = set()

    def paging_by(self, endpoint: str) -> PagingBy:
        """The parameter that worked last time; `start` (the SDK's and Terraform's) at first."""
        return self._by.get(endpoint, "start")

    def learned(self, endpoint: str, by: PagingBy) -> None:
        if self._by.get(endpoint, "start") != by:
            log.warning(
                "DMS at %s ignored `%s` when paging background tasks; paging by `%s` (%s) from "
                "now on",
                endpoint,
                _other(by),
                by,
                "0-based" if by == "offset" else "1-based",
            )
        self._by[endpoint] = by

    def saw_page(self, endpoint: str, returned: int, asked: int, total: int) -> None:
        if returned < asked and returned < total and endpoint not in self._capped:
            self._capped.add(endpoint)
            log.info(
                "DMS at %s returns at most %d tasks per page (asked for %d); paging by what "
                "comes back",
                endpoint,
                returned,
                asked,
            )


class WindowPager:
    """Gathers the pages of one window; `pages` and `total` hold the outcome."""

    def __init__(
        self,
        fetch: PageFetch,
        *,
        endpoint: str,
        memory: PagingMemory,
        concurrency: int,
        limit: int = MAX_PAGE_SIZE,
    ) -> None:
        self._fetch = fetch
        self._endpoint = endpoint
        self._memory = memory
        self._gate = asyncio.Semaphore(concurrency)
        self._limit = limit
        self._by: PagingBy = memory.paging_by(endpoint)
        self.pages: list[TaskPage] = []
        self._top: frozenset[str] = frozenset()
        # The API's task_count as last seen; None when it sent none.
        self.total: int | None = None

    async def run(self) -> list[TaskPage]:
        first = await self._fetch(1, self._by)
        self._add(first)
        self._top = frozenset(task.id for task in first.tasks if task.id)
        self.total = first.total
        if first.total is None:
            await self._uncounted(first)
        else:
            await self._counted(first, first.total)
        return self.pages

    @property
    def unique_count(self) -> int:
        return len(_keys(self.pages))

    async def _counted(self, first: TaskPage, total: int) -> None:
        step = len(first.tasks)
        if step == 0:
            return
        self._memory.saw_page(self._endpoint, step, self._limit, total)
        initial_total = total
        switched = reread = False
        for _ in range(MAX_ROUNDS):
            if self.unique_count >= total:
                break
            starts = self._holes(total, step)
            rereading = False
            if not starts:
                if total <= initial_total or reread:
                    break
                # Every position is covered yet ids are missing, and the total grew: tasks that
                # arrived while we paged sit at the top, above the first page we read.
                starts = list(range(1, 1 + total - initial_total, step))
                reread = rereading = True
            batch = await self._round(starts)
            fresh = [self._add(page) for page in batch]
            repeats = [self._repeats_top(page) for page in batch if page.tasks]
            if repeats and all(repeats) and not rereading:
                # Every later page was the first one again: the gateway ignored the parameter.
                self._drop(batch)
                if switched:
                    log.warning(
                        "DMS at %s ignored both `start` and `offset` when paging background "
                        "tasks; the window stops at %d of %d tasks",
                        self._endpoint,
                        self.unique_count,
                        total,
                    )
                    break
                switched = True
                self._by = _other(self._by)
                continue
            if not rereading and any(fresh):
                self._memory.learned(self._endpoint, self._by)
            totals = [page.total for page in batch if page.total is not None]
            if totals:
                total = max(totals)
        self.total = total

    async def _uncounted(self, first: TaskPage) -> None:
        # Without task_count the end is a page shorter than the gateway's page size (the largest
        # page seen, since it may cap `limit`), an empty page, or a page adding no new id. A
        # page that is the first one again is a gateway that ignored the parameter: the same
        # position is asked for once with the other one.
        largest = len(first.tasks)
        last = first
        switched = False
        for _ in range(MAX_UNCOUNTED_PAGES):
            if not last.tasks or len(last.tasks) < largest:
                return
            position = last.start + len(last.tasks)
            page = await self._fetch(position, self._by)
            if self._repeats_top(page):
                if switched:
                    return
                switched = True
                self._by = _other(self._by)
                page = await self._fetch(position, self._by)
                if self._repeats_top(page):
                    return
            if page.tasks and not self._adds_new(page):
                return
            if page.tasks:
                self._memory.learned(self._endpoint, self._by)
            self._add(page)
            largest = max(largest, len(page.tasks))
            last = page

    def _holes(self, total: int, step: int) -> list[int]:
        """Positions to ask for: the gaps in 1..total that no page covered, `step` apart."""
        end = total + 1
        empties = [page.start for page in self.pages if not page.tasks]
        if empties:
            # An empty page at p: the API has nothing at p or after, whatever it counts.
            end = min(end, *empties)
        covered = sorted((page.start, page.start + len(page.tasks)) for page in self.pages)
        starts: list[int] = []
        position = 1
        for begin, stop in covered:
            if begin > position:
                starts.extend(range(position, min(begin, end), step))
            position = max(position, stop)
            if position >= end:
                return starts
        starts.extend(range(position, end, step))
        return starts

    async def _round(self, starts: list[int]) -> list[TaskPage]:
        by = self._by

        async def gated(position: int) -> TaskPage:
            async with self._gate:
                return await self._fetch(position, by)

        batch = await gather_all(gated(position) for position in starts)
        return sorted(batch, key=lambda page: page.start)

    def _repeats_top(self, page: TaskPage) -> bool:
        """True when a later page brings back at least half of the first page."""
        if not self._top:
            return False
        again = sum(1 for task in page.tasks if task.id in self._top)
        return 2 * again >= len(self._top)

    def _adds_new(self, page: TaskPage) -> bool:
        known = {task.id for known in self.pages for task in known.tasks if task.id}
        return any(task.id and task.id not in known for task in page.tasks)

    def _add(self, page: TaskPage) -> bool:
        """Keep the page; True when it holds an id not seen before."""
        new = self._adds_new(page)
        self.pages.append(page)
        return new

    def _drop(self, batch: list[TaskPage]) -> None:
        dropped = {id(page) for page in batch}
        self.pages = [page for page in self.pages if id(page) not in dropped]


def _task_key(page: TaskPage, index: int, task: Task) -> str:
    # A task without an id is told apart by its position.
    return task.id or f"\x00{page.start + index}"


def _keys(pages: Iterable[TaskPage]) -> set[str]:
    return {_task_key(page, i, task) for page in pages for i, task in enumerate(page.tasks)}


def newest_first_unique(pages: list[TaskPage]) -> tuple[Task, ...]:
    # Tasks shift between pages when new ones arrive while we page, so the same id can appear
    # on two pages; the first sighting (the earlier page) wins.
    seen: set[str] = set()
    unique: list[Task] = []
    for page in sorted(pages, key=lambda p: p.start):
        for index, task in enumerate(page.tasks):
            key = _task_key(page, index, task)
            if key in seen:
                continue
            seen.add(key)
            unique.append(task)
    # The API's newest-first order is inferred, not documented; sort so that it is a fact here.
    # The sort is stable, so tasks without a start time keep their API order at the end.
    floor = datetime.min.replace(tzinfo=UTC)
    return tuple(sorted(unique, key=lambda t: t.created_at or floor, reverse=True))


async def gather_all(awaitables: Iterable[Awaitable[TaskPage]]) -> list[TaskPage]:
    """Run page fetches together; on the first failure cancel the rest and raise it."""
    tasks = [asyncio.ensure_future(a) for a in awaitables]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
