"""The cache syncs instead of re-reading: windows touching now come from one view per instance,
brought up to date with one list call for new tasks plus one call per running task. Counted at
the simulator, over real HTTP; the cache's clock is injected, so nothing waits."""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from bot.dms.auth import AkSkAuth
from bot.dms.cache import TaskCache
from bot.dms.client import DmsClient, RetryPolicy
from bot.dms.errors import DmsError
from bot.domain.instances import InstanceRef
from bot.simulator import (
    DEMO_AK,
    DEMO_PROJECT_ID,
    DEMO_REGION,
    DEMO_SK,
    Faults,
    RunningSimulator,
    SimulatorConfig,
    start_simulator,
)

BULK = 2000
PAGE = 100


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
async def sim() -> AsyncIterator[RunningSimulator]:
    async with start_simulator(SimulatorConfig(bulk_tasks=BULK)) as running:
        yield running


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def cache(sim: RunningSimulator, clock: Clock) -> AsyncIterator[TaskCache]:
    client = DmsClient(
        auth=AkSkAuth(DEMO_AK, DEMO_SK),
        endpoint_for=lambda region: sim.url,
        retry=RetryPolicy(attempts=1),
    )
    yield TaskCache(client, clock=clock, live_ttl_s=15, full_read_every_s=300)
    await client.aclose()


def ref(sim: RunningSimulator, name: str) -> InstanceRef:
    return InstanceRef(
        instance_id=sim.instance(name).instance_id,
        project_id=DEMO_PROJECT_ID,
        region=DEMO_REGION,
        name=name,
    )


def calls(sim: RunningSimulator) -> int:
    return sim.stats["list_tasks"] + sim.stats["show_task"]


def last(clock: Clock, days: float) -> tuple[datetime, datetime]:
    return clock.now - timedelta(days=days), clock.now


async def test_refresh_of_a_warm_2000_task_window_costs_one_call_plus_one_per_running_task(
    sim: RunningSimulator, cache: TaskCache, clock: Clock
) -> None:
    bulk = ref(sim, "bulk-audit")
    # Started ten minutes ago: older than the overlap a sync re-lists, so each costs a call.
    started = clock.now - timedelta(minutes=10)
    running = [
        sim.add_task("bulk-audit", "extendBroker", "EXECUTING", created=started) for _ in range(3)
    ]
    first = (await cache.window(bulk, *last(clock, 8))).value
    assert len(first.tasks) == BULK + 3
    full_read = calls(sim)
    assert full_read >= math.ceil((BULK + 3) / PAGE)  # what a re-read costs every time

    clock.advance(16)  # past the 15 s freshness of a live window: Refresh must ask again
    before = calls(sim)
    sim.set_task_status(running[0]["id"], "SUCCESS")
    new = sim.add_task(
        "bulk-audit", "createTopic", "FAILED", created=clock.now - timedelta(seconds=5)
    )
    refreshed = (await cache.window(bulk, *last(clock, 8))).value
    assert calls(sim) - before == 1 + len(running)
    assert sim.stats["show_task"] == len(running)
    by_id = {t.id: t for t in refreshed.tasks}
    assert by_id[running[0]["id"]].status == "SUCCESS"
    assert by_id[new["id"]].status == "FAILED"
    assert refreshed.tasks[0].created_at >= refreshed.tasks[-1].created_at  # newest first
    assert len(refreshed.tasks) == BULK + 4

    # The next sync no longer asks for the task that finished.
    clock.advance(16)
    before = calls(sim)
    await cache.window(bulk, *last(clock, 8))
    assert calls(sim) - before == 1 + 2


async def test_everyone_asking_within_the_interval_shares_one_sync(
    sim: RunningSimulator, cache: TaskCache, clock: Clock
) -> None:
    orders = ref(sim, "prod-orders")
    await cache.window(orders, *last(clock, 7))
    clock.advance(20)
    before = calls(sim)
    # A query, a Refresh, an alert round and a digest at once, over different windows.
    windows = [last(clock, 1), last(clock, 7), (clock.now - timedelta(hours=1), clock.now)]
    results = await asyncio.gather(*(cache.window(orders, *w) for w in windows * 10))
    running = sum(t.is_active for t in results[1].value.tasks)
    # One list call, and a call for each running task not re-listed by it (at most all).
    assert 1 <= calls(sim) - before <= 1 + running
    # Moments later nobody asks the cloud at all.
    clock.advance(5)
    before = calls(sim)
    again = await cache.window(orders, *last(clock, 1))
    assert again.from_cache and calls(sim) == before
    assert {t.id for t in again.value.tasks} <= {t.id for t in results[1].value.tasks}


async def test_a_window_reaching_further_back_extends_the_view_once(
    sim: RunningSimulator, cache: TaskCache, clock: Clock
) -> None:
    orders = ref(sim, "prod-orders")
    await cache.window(orders, *last(clock, 1))
    before = sim.stats["list_tasks"]
    week = (await cache.window(orders, *last(clock, 7))).value
    assert sim.stats["list_tasks"] - before >= 1
    before = sim.stats["list_tasks"]
    day = (await cache.window(orders, *last(clock, 1))).value
    assert sim.stats["list_tasks"] == before
    assert {t.id for t in day.tasks} < {t.id for t in week.tasks}


async def test_the_full_re_read_drops_records_deleted_upstream(
    sim: RunningSimulator, cache: TaskCache, clock: Clock
) -> None:
    orders = ref(sim, "prod-orders")
    window = (await cache.window(orders, *last(clock, 2))).value
    gone = next(t for t in window.tasks if not t.is_active)
    sim.instance("prod-orders").tasks.remove(sim.instance("prod-orders").find_task(gone.id))
    clock.advance(16)
    synced = (await cache.window(orders, *last(clock, 2))).value
    assert gone.id in {t.id for t in synced.tasks}, "a sync only asks for what can change"
    clock.advance(300)
    reread = (await cache.window(orders, *last(clock, 2))).value
    assert gone.id not in {t.id for t in reread.tasks}


async def test_a_running_task_deleted_upstream_leaves_the_view_on_the_next_sync(
    sim: RunningSimulator, cache: TaskCache, clock: Clock
) -> None:
    orders = ref(sim, "prod-orders")
    task = sim.add_task(
        "prod-orders", "extendStorage", "EXECUTING", created=clock.now - timedelta(minutes=30)
    )
    await cache.window(orders, *last(clock, 1))
    sim.instance("prod-orders").tasks.remove(sim.instance("prod-orders").find_task(task["id"]))
    clock.advance(16)
    synced = (await cache.window(orders, *last(clock, 1))).value
    assert task["id"] not in {t.id for t in synced.tasks}


async def test_a_failed_sync_is_told_and_leaves_the_view_as_it_was(
    sim: RunningSimulator, cache: TaskCache, clock: Clock
) -> None:
    orders = ref(sim, "prod-orders")
    first = (await cache.window(orders, *last(clock, 1))).value
    clock.advance(16)
    sim.set_faults(Faults(error_first=1))
    with pytest.raises(DmsError):
        await cache.window(orders, *last(clock, 1))
    after = (await cache.window(orders, *last(clock, 1))).value
    assert {t.id for t in first.tasks} <= {t.id for t in after.tasks}


async def test_settled_windows_keep_the_per_window_path(
    sim: RunningSimulator, cache: TaskCache, clock: Clock
) -> None:
    orders = ref(sim, "prod-orders")
    past = (clock.now - timedelta(days=3), clock.now - timedelta(days=2))
    await cache.window(orders, *past)
    assert cache.views is not None and cache.views.counts.list_calls == 0
    before = sim.stats["list_tasks"]
    again = await cache.window(orders, *past)
    assert again.from_cache and sim.stats["list_tasks"] == before


async def test_a_read_short_of_the_api_count_keeps_the_shortfall_visible(clock: Clock) -> None:
    """The API counts 5 tasks but hands back 3 on every page: such a view is not kept, and the
    live window carries the API's count so the answer can say "Showing 3 of 5"."""
    requests: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        tasks = [
            {
                "id": f"t{i}",
                "status": "SUCCESS",
                "created_at": (clock.now - timedelta(minutes=i)).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            }
            for i in range(1, 4)
        ]
        start = int(request.url.params.get("start", "1"))
        body = {"task_count": "5", "tasks": tasks if start == 1 else []}
        return httpx.Response(200, content=json.dumps(body).encode())

    client = DmsClient(
        auth=AkSkAuth("AK", "SK"),
        endpoint_for=lambda region: "https://dms.example.test",
        retry=RetryPolicy(attempts=1),
        http=httpx.AsyncClient(transport=httpx.MockTransport(answer)),
    )
    cache = TaskCache(client, clock=clock)
    instance = InstanceRef(instance_id="inst-1", project_id="proj", region="cn-north-4")
    window = (await cache.window(instance, clock.now - timedelta(hours=1), clock.now)).value
    assert len(window.tasks) == 3 and window.reported_total == 5
    await client.aclose()


async def test_a_watched_task_is_read_from_a_fresh_view_and_by_id_once_it_is_stale(
    sim: RunningSimulator, cache: TaskCache, clock: Clock
) -> None:
    orders = ref(sim, "prod-orders")
    task = sim.add_task(
        "prod-orders", "extendBroker", "EXECUTING", created=clock.now - timedelta(minutes=30)
    )
    await cache.window(orders, *last(clock, 1))
    before = sim.stats["show_task"]
    seen = await cache.task(orders, task["id"])
    assert seen.from_cache and seen.value.status == "EXECUTING"
    assert sim.stats["show_task"] == before
    sim.set_task_status(task["id"], "SUCCESS")
    clock.advance(16)  # the view is stale: the task is asked for by id
    moved = await cache.task(orders, task["id"])
    assert moved.value.status == "SUCCESS" and sim.stats["show_task"] == before + 1
