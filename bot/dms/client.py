"""The async DMS API client: what the bot asks of DMS for Kafka, for any project and region.

The work is split by job: bot/dms/transport.py sends and retries, bot/dms/error_mapping.py turns
failures into typed errors, bot/dms/paging.py gathers the pages of a window.

DMS quirks this module lives with (see the API reference and the official SDK):
- GET /tasks pages by a 1-based `start` (or, on some gateways, a 0-based `offset`: see
  bot/dms/paging.py) and a `limit` of at most 100;
- `begin_time` / `end_time` are `YYYYMMDDHHmmss` in UTC;
- GET /instances pages by a 0-based `offset` and a `limit` of at most 50, and says how many
  instances exist in `instance_num`.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import httpx

from bot.dms.errors import (
    CallContext,
    DmsErrorKind,
    DmsNotFoundError,
    DmsOperation,
    public_endpoint,
)
from bot.dms.models import (
    MAX_INSTANCE_PAGE_SIZE,
    MAX_PAGE_SIZE,
    TaskPage,
    TaskProgress,
    format_api_time,
    parse_count,
)
from bot.dms.paging import PagingBy, PagingMemory, WindowPager, newest_first_unique
from bot.dms.transport import RetryPolicy, Transport, parse_retry_after
from bot.domain.instances import InstanceRef
from bot.domain.tasks import Instance, Task, TaskWindow

log = logging.getLogger(__name__)

# Importable from here, as they were before the client was split by job.
__all__ = ["DmsClient", "RetryPolicy", "format_api_time", "parse_retry_after"]


class DmsClient:
    """Calls the DMS for Kafka API for any project and region, through one connection pool."""

    def __init__(
        self,
        *,
        auth: httpx.Auth,
        endpoint_for: Callable[[str], str],
        retry: RetryPolicy | None = None,
        timeout: httpx.Timeout | float = 10.0,
        page_concurrency: int = 10,
        http: httpx.AsyncClient | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: random.Random | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if page_concurrency < 1:
            raise ValueError("page_concurrency must be at least 1")
        self._endpoint_for = endpoint_for
        self._page_concurrency = page_concurrency
        self._clock = clock
        # Which paging parameter each endpoint's gateway reads, learned by fetch_window.
        self._paging = PagingMemory()
        self._transport = Transport(
            auth=auth,
            retry=retry or RetryPolicy(),
            timeout=timeout,
            pool_size=page_concurrency,
            http=http,
            sleep=sleep,
            rng=rng or random.Random(),
            clock=clock,
            monotonic=monotonic,
        )

    def __repr__(self) -> str:
        return f"DmsClient(auth={self._transport.auth!r}, retry={self._transport.retry!r})"

    async def list_tasks(
        self,
        instance: InstanceRef,
        *,
        start: int = 1,
        limit: int = 10,
        begin: datetime | None = None,
        end: datetime | None = None,
    ) -> TaskPage:
        """One page of an instance's background tasks, newest first."""
        if not 1 <= limit <= MAX_PAGE_SIZE:
            raise ValueError(f"limit must be between 1 and {MAX_PAGE_SIZE}, not {limit}")
        if start < 1:
            # `start` is a 1-based position, despite the doc calling it a task id.
            raise ValueError(f"start must be 1 or more, not {start}")
        return await self._task_page(instance, start, "start", begin, end, limit=limit)

    async def fetch_window(
        self, instance: InstanceRef, begin: datetime | None, end: datetime | None
    ) -> TaskWindow:
        """Every task of the instance in [begin, end), newest first, each task once.

        When the API returns fewer tasks than its task_count, the window holds what came back and
        `reported_total` the count, so that the shortfall can be shown rather than hidden."""
        fetched_at = self._clock()
        endpoint = public_endpoint(self._base(instance.region))

        async def page_at(position: int, by: PagingBy) -> TaskPage:
            return await self._task_page(instance, position, by, begin, end)

        pager = WindowPager(
            page_at,
            endpoint=endpoint,
            memory=self._paging,
            concurrency=self._page_concurrency,
        )
        pages = await pager.run()
        tasks = newest_first_unique(pages)
        if pager.total is not None and len(tasks) < pager.total:
            log.info(
                "DMS returned %d of the %d tasks it counted for instance %s",
                len(tasks),
                pager.total,
                instance.instance_id,
            )
        return TaskWindow(
            tasks=tasks,
            begin=begin,
            end=end,
            fetched_at=fetched_at,
            reported_total=pager.total,
        )

    async def show_task(self, instance: InstanceRef, task_id: str) -> Task:
        """One task by id (GET .../tasks/{task_id} answers with a one-task list)."""
        context = self._task_context(instance, task_id=task_id)
        body = await self._transport.get_json(
            f"{self._tasks_url(instance)}/{_segment(task_id)}",
            {},
            instance.project_id,
            context,
            _task_list_problem,
        )
        page = TaskPage.from_api(body, start=1, limit=1)
        match = next((t for t in page.tasks if t.id == task_id), None)
        if match is None and page.tasks:
            match = page.tasks[0]
        if match is None:
            # The API answers 200 with an empty list for a task id it does not know.
            raise DmsNotFoundError.for_call(context, DmsErrorKind.TASK_NOT_FOUND, status=200)
        return match

    async def task_progress(self, instance: InstanceRef, task_id: str) -> TaskProgress | None:
        """How far a scale task has got (GET .../tasks/{task_id}/progress); None when the API
        has no progress for it: a 404, or an answer without a percentage. Other failures raise
        as every call does. (It needs the same read permission as show task, and its errors
        name that operation.)"""
        context = self._task_context(instance, task_id=task_id)
        try:
            body = await self._transport.get_json(
                f"{self._tasks_url(instance)}/{_segment(task_id)}/progress",
                {},
                instance.project_id,
                context,
                _progress_problem,
            )
        except DmsNotFoundError:
            return None
        return TaskProgress.from_api(body)

    async def list_instances(
        self, project_id: str, region: str, *, name: str | None = None, exact: bool = False
    ) -> list[Instance]:
        """Every Kafka instance of the project in the region (optionally by name)."""
        base = self._base(region)
        context = CallContext(
            operation=DmsOperation.LIST_INSTANCES,
            endpoint=public_endpoint(base),
            project_id=project_id,
            region=region,
        )
        url = f"{base}/v2/{_segment(project_id)}/instances"
        found: list[Instance] = []
        seen: set[str] = set()
        offset = 0
        while True:
            params = {
                "engine": "kafka",
                "offset": str(offset),
                "limit": str(MAX_INSTANCE_PAGE_SIZE),
            }
            if name:
                params["name"] = name
                params["exact_match_name"] = "true" if exact else "false"
            body = await self._transport.get_json(
                url, params, project_id, context, _instance_list_problem
            )
            raw = body.get("instances") or []
            batch = [Instance.model_validate(i) for i in raw if isinstance(i, dict)]
            fresh = [i for i in batch if i.instance_id not in seen]
            seen.update(i.instance_id for i in fresh)
            found.extend(fresh)
            total = parse_count(body.get("instance_num"))
            offset += len(raw)
            if not fresh or len(raw) < MAX_INSTANCE_PAGE_SIZE:
                break
            if total is not None and len(found) >= total:
                break
        return found

    async def aclose(self) -> None:
        await self._transport.aclose()

    async def task_page_at(
        self, instance: InstanceRef, position: int, by: PagingBy, *, limit: int = 1
    ) -> TaskPage:
        """One page at a raw position, as `start` or `offset` (offset = position - 1), with no
        check on the position: `dms-tasks-bot doctor` probes how the gateway pages with it."""
        return await self._task_page(instance, position, by, None, None, limit=limit)

    async def _task_page(
        self,
        instance: InstanceRef,
        position: int,
        by: PagingBy,
        begin: datetime | None,
        end: datetime | None,
        *,
        limit: int = MAX_PAGE_SIZE,
    ) -> TaskPage:
        """The page at a 1-based position, asked for as `start` (1-based) or `offset` (0-based)."""
        params: dict[str, str] = {by: str(position if by == "start" else position - 1)}
        params["limit"] = str(limit)
        if begin is not None:
            params["begin_time"] = format_api_time(begin)
        if end is not None:
            params["end_time"] = format_api_time(end)
        body = await self._transport.get_json(
            self._tasks_url(instance),
            params,
            instance.project_id,
            self._task_context(instance),
            _task_list_problem,
        )
        return TaskPage.from_api(body, start=position, limit=limit)

    def _base(self, region: str) -> str:
        return self._endpoint_for(region).rstrip("/")

    def _tasks_url(self, instance: InstanceRef) -> str:
        return (
            f"{self._base(instance.region)}/v2/{_segment(instance.project_id)}"
            f"/instances/{_segment(instance.instance_id)}/tasks"
        )

    def _task_context(self, instance: InstanceRef, task_id: str | None = None) -> CallContext:
        return CallContext(
            operation=DmsOperation.SHOW_TASK if task_id else DmsOperation.LIST_TASKS,
            endpoint=public_endpoint(self._base(instance.region)),
            project_id=instance.project_id,
            region=instance.region,
            instance_id=instance.instance_id,
            instance_label=instance.display_name,
            task_id=task_id,
        )


def _segment(value: str) -> str:
    # Ids reach us from button values a client can edit: one path segment each, never more.
    return quote(value, safe="")


def _task_list_problem(body: dict[str, Any]) -> str | None:
    tasks = body.get("tasks")
    if tasks is not None and not isinstance(tasks, list):
        return '"tasks" is not a list'
    return None


def _progress_problem(body: dict[str, Any]) -> str | None:
    steps = body.get("step_list")
    if steps is not None and not isinstance(steps, list):
        return '"step_list" is not a list'
    return None


def _instance_list_problem(body: dict[str, Any]) -> str | None:
    instances = body.get("instances")
    if instances is None:
        return None
    if not isinstance(instances, list):
        return '"instances" is not a list'
    if any(not isinstance(i, dict) or not i.get("instance_id") for i in instances):
        return "an instance has no instance_id"
    return None
