"""Every page of a window of background tasks, each task once.

DMS quirks this module lives with:
- GET /tasks pages by a 1-based `start` and a `limit` of at most 100; `task_count` is the total
  across all pages, sent as a string, and can be missing;
- tasks that arrive while we page push the older ones down a position, so the same task can
  show up on two pages.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime

from bot.dms.models import MAX_PAGE_SIZE, TaskPage
from bot.domain.tasks import Task

# One page of the window, from its 1-based position.
PageAt = Callable[[int], Awaitable[TaskPage]]


async def gather_pages(first: TaskPage, page_at: PageAt, concurrency: int) -> list[TaskPage]:
    """The first page and every later one the window needs."""
    pages = [first]
    if first.total is None:
        pages.extend(await _sequential_pages(page_at, first))
    elif len(first.tasks) >= MAX_PAGE_SIZE:
        pages.extend(await _concurrent_pages(page_at, first.total, concurrency))
    return pages


async def _concurrent_pages(page_at: PageAt, total: int, concurrency: int) -> list[TaskPage]:
    gate = asyncio.Semaphore(concurrency)

    async def gated(start: int) -> TaskPage:
        async with gate:
            return await page_at(start)

    pages: list[TaskPage] = []
    covered = MAX_PAGE_SIZE  # positions 1..covered are already requested
    # New tasks arriving while we page push the total up (a window that touches "now"); each
    # round fetches what the largest total seen so far says is still missing. The rounds are
    # bounded so that a gateway reporting ever-growing totals cannot keep us here.
    for _ in range(4):
        starts = list(range(covered + 1, total + 1, MAX_PAGE_SIZE))
        if not starts:
            break
        batch = await gather_all(gated(s) for s in starts)
        pages.extend(batch)
        covered = starts[-1] + MAX_PAGE_SIZE - 1
        totals = [p.total for p in batch if p.total is not None]
        if not totals or max(totals) <= total or len(batch[-1].tasks) < MAX_PAGE_SIZE:
            break
        total = max(totals)
    return pages


async def _sequential_pages(page_at: PageAt, first: TaskPage) -> list[TaskPage]:
    # Without task_count the only end marker is a short page, the way Terraform pages
    # (start += len(tasks)). A page adding no new ids also ends it: a gateway that ignores
    # `start` would otherwise loop for ever.
    pages: list[TaskPage] = []
    seen = {t.id for t in first.tasks}
    last = first
    while len(last.tasks) >= MAX_PAGE_SIZE:
        last = await page_at(last.start + len(last.tasks))
        fresh = {t.id for t in last.tasks} - seen
        if not fresh:
            break
        seen |= fresh
        pages.append(last)
    return pages


def newest_first_unique(pages: list[TaskPage]) -> tuple[Task, ...]:
    # Tasks shift between pages when new ones arrive while we page, so the same id can appear
    # on two pages; the first sighting (the earlier page) wins.
    seen: set[str] = set()
    unique: list[Task] = []
    for page in sorted(pages, key=lambda p: p.start):
        for task in page.tasks:
            key = task.id or f"\x00{len(unique)}"
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
