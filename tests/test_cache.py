"""TaskCache in front of a real DmsClient whose HTTP goes to an httpx.MockTransport: coalescing,
lifetimes by window kind, failures shared but not kept, cancellation safety, bounded size."""

from __future__ import annotations

import asyncio
import gc
import json
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from bot.dms.auth import AkSkAuth
from bot.dms.cache import MemoryResultStore, StoredResult, TaskCache
from bot.dms.client import DmsClient, RetryPolicy
from bot.dms.errors import DmsNotFoundError
from bot.domain.instances import InstanceRef

T0 = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
REF = InstanceRef(instance_id="inst-1", project_id="proj", region="cn-north-4")
OTHER = InstanceRef(instance_id="inst-2", project_id="proj", region="cn-north-4")


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class Backend:
    """The DMS API as the mock transport serves it; `gate` holds answers back until opened."""

    def __init__(self) -> None:
        self.status = "SUCCESS"
        self.requests: list[httpx.Request] = []
        self.failures_left = 0
        self.entered = asyncio.Event()
        self.gate = asyncio.Event()
        self.gate.set()

    def hold(self) -> None:
        self.gate.clear()
        self.entered.clear()

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        self.entered.set()
        await asyncio.wait_for(self.gate.wait(), timeout=5)
        if self.failures_left:
            self.failures_left -= 1
            body = {"error_code": "DMS.00404022", "error_msg": "no such instance"}
            return httpx.Response(404, content=json.dumps(body).encode())
        path = request.url.path
        if path.endswith("/instances"):
            body = {"instances": [{"instance_id": "inst-1", "name": "prod"}], "instance_num": 1}
        else:
            n = len(self.requests)
            task = {
                "id": path.rsplit("/", 1)[-1] if "/tasks/" in path else f"t{n}",
                "status": self.status,
                "created_at": "2026-11-28T11:00:00Z",
            }
            body = {"task_count": "1", "tasks": [task]}
        return httpx.Response(200, content=json.dumps(body).encode())


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def backend() -> Backend:
    return Backend()


@pytest.fixture
def client(backend: Backend, clock: Clock) -> DmsClient:
    return DmsClient(
        auth=AkSkAuth("AK", "SK"),
        endpoint_for=lambda region: f"https://dms.{region}.example.test",
        retry=RetryPolicy(attempts=1),
        http=httpx.AsyncClient(transport=httpx.MockTransport(backend)),
        clock=clock,
    )


@pytest.fixture
def cache(client: DmsClient, clock: Clock) -> TaskCache:
    return TaskCache(client, clock=clock, settled_ttl_s=3600, live_ttl_s=15)


PAST = (T0 - timedelta(hours=2), T0 - timedelta(hours=1))
TOUCHING_NOW = (T0 - timedelta(hours=1), T0)
JUST_ENDED = (T0 - timedelta(hours=1), T0 - timedelta(seconds=30))
IN_THE_FUTURE = (T0 - timedelta(hours=1), T0 + timedelta(hours=1))


async def test_fifty_identical_concurrent_requests_make_one_upstream_call(
    cache: TaskCache, backend: Backend
) -> None:
    backend.hold()
    waiters = [asyncio.ensure_future(cache.window(REF, *PAST)) for _ in range(50)]
    await backend.entered.wait()
    assert cache.stats.joined == 49
    backend.gate.set()
    results = await asyncio.gather(*waiters)
    assert len(backend.requests) == 1
    assert cache.stats.window_fetches == 1 and cache.stats.upstream_calls == 1
    assert len({id(r.value) for r in results}) == 1
    assert not any(r.from_cache for r in results)
    again = await cache.window(REF, *PAST)
    assert again.from_cache and again.value is results[0].value
    assert len(backend.requests) == 1 and cache.stats.hits == 1


async def test_different_windows_and_instances_are_different_entries(
    cache: TaskCache, backend: Backend
) -> None:
    await cache.window(REF, *PAST)
    await cache.window(REF, PAST[0], PAST[1] + timedelta(minutes=1))
    await cache.window(OTHER, *PAST)
    await cache.window(REF.model_copy(update={"project_id": "other"}), *PAST)
    await cache.window(REF.model_copy(update={"region": "ap-southeast-1"}), *PAST)
    assert len(backend.requests) == 5


async def test_same_instants_in_another_zone_hit_the_same_entry(
    cache: TaskCache, backend: Backend
) -> None:
    await cache.window(REF, *PAST)
    berlin = ZoneInfo("Europe/Berlin")
    hit = await cache.window(REF, PAST[0].astimezone(berlin), PAST[1].astimezone(berlin))
    assert hit.from_cache and len(backend.requests) == 1


async def test_settled_window_is_kept_for_the_long_lifetime(
    cache: TaskCache, backend: Backend, clock: Clock
) -> None:
    first = await cache.window(REF, *PAST)
    assert first.value.settled
    clock.advance(3599)
    assert (await cache.window(REF, *PAST)).from_cache
    clock.advance(2)
    refreshed = await cache.window(REF, *PAST)
    assert not refreshed.from_cache
    assert refreshed.fetched_at == T0 + timedelta(seconds=3601)
    assert len(backend.requests) == 2


async def test_window_touching_now_lives_only_seconds(
    cache: TaskCache, backend: Backend, clock: Clock
) -> None:
    await cache.window(REF, *TOUCHING_NOW)
    clock.advance(14)
    assert (await cache.window(REF, *TOUCHING_NOW)).from_cache
    clock.advance(2)
    assert not (await cache.window(REF, *TOUCHING_NOW)).from_cache
    assert len(backend.requests) == 2


@pytest.mark.parametrize("window", [JUST_ENDED, IN_THE_FUTURE])
async def test_window_ended_moments_ago_or_still_open_lives_only_seconds(
    cache: TaskCache, backend: Backend, clock: Clock, window: tuple[datetime, datetime]
) -> None:
    await cache.window(REF, *window)
    clock.advance(16)
    assert not (await cache.window(REF, *window)).from_cache
    assert len(backend.requests) == 2


async def test_past_window_with_a_running_task_lives_only_seconds(
    cache: TaskCache, backend: Backend, clock: Clock
) -> None:
    backend.status = "EXECUTING"
    first = await cache.window(REF, *PAST)
    assert not first.value.settled
    clock.advance(16)
    assert not (await cache.window(REF, *PAST)).from_cache
    assert len(backend.requests) == 2


async def test_failure_is_shared_by_all_waiters_but_not_kept(
    cache: TaskCache, backend: Backend
) -> None:
    backend.failures_left = 1
    backend.hold()
    waiters = [asyncio.ensure_future(cache.window(REF, *PAST)) for _ in range(5)]
    await backend.entered.wait()
    backend.gate.set()
    outcomes = await asyncio.gather(*waiters, return_exceptions=True)
    assert all(isinstance(o, DmsNotFoundError) for o in outcomes)
    assert len(backend.requests) == 1
    after = await cache.window(REF, *PAST)
    assert not after.from_cache and len(after.value.tasks) == 1
    assert len(backend.requests) == 2


async def test_a_cancelled_waiter_does_not_cancel_the_shared_call(
    cache: TaskCache, backend: Backend
) -> None:
    backend.hold()
    starter = asyncio.ensure_future(cache.window(REF, *PAST))
    await backend.entered.wait()
    others = [asyncio.ensure_future(cache.window(REF, *PAST)) for _ in range(3)]
    await asyncio.sleep(0)  # let the others join the call already under way
    starter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await starter
    backend.gate.set()
    results = await asyncio.gather(*others)
    assert all(len(r.value.tasks) == 1 for r in results)
    assert len(backend.requests) == 1
    assert (await cache.window(REF, *PAST)).from_cache


async def test_a_call_every_waiter_abandoned_still_fills_the_cache(
    cache: TaskCache, backend: Backend
) -> None:
    backend.hold()
    lonely = asyncio.ensure_future(cache.window(REF, *PAST))
    await backend.entered.wait()
    lonely.cancel()
    with pytest.raises(asyncio.CancelledError):
        await lonely
    # A new waiter joins the call that is still running rather than starting another one.
    follower = asyncio.ensure_future(cache.window(REF, *PAST))
    backend.gate.set()
    assert len((await follower).value.tasks) == 1
    assert len(backend.requests) == 1


async def test_a_failure_nobody_waits_for_any_more_is_not_reported_as_unretrieved(
    cache: TaskCache, backend: Backend
) -> None:
    loop = asyncio.get_running_loop()
    reported: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _loop, context: reported.append(context))
    try:
        backend.failures_left = 1
        backend.hold()
        lonely = asyncio.ensure_future(cache.window(REF, *PAST))
        await backend.entered.wait()
        (shared,) = cache._inflight.values()
        lonely.cancel()
        with pytest.raises(asyncio.CancelledError):
            await lonely
        backend.gate.set()
        await asyncio.wait([shared])
        assert shared.done() and not shared.cancelled()
        del shared
        gc.collect()
        assert reported == []
        assert cache._inflight == {}
    finally:
        loop.set_exception_handler(None)


async def test_size_is_bounded_and_least_recently_used_goes_first(
    client: DmsClient, backend: Backend, clock: Clock
) -> None:
    store = MemoryResultStore(maxsize=3, clock=clock)
    cache = TaskCache(client, clock=clock, store=store)
    windows = [(PAST[0], PAST[1] + timedelta(minutes=m)) for m in range(5)]
    for begin, end in windows:
        await cache.window(REF, begin, end)
    assert len(store) == 3
    assert (await cache.window(REF, *windows[4])).from_cache
    assert not (await cache.window(REF, *windows[0])).from_cache
    assert len(backend.requests) == 6


def test_default_store_is_bounded_by_maxsize(client: DmsClient) -> None:
    cache = TaskCache(client, maxsize=7)
    assert cache._store._entries.maxsize == 7  # type: ignore[attr-defined]


async def test_single_tasks_are_cached_by_their_state(
    cache: TaskCache, backend: Backend, clock: Clock
) -> None:
    done = await cache.task(REF, "abc")
    assert done.value.id == "abc" and not done.from_cache
    clock.advance(600)
    assert (await cache.task(REF, "abc")).from_cache
    backend.status = "EXECUTING"
    running = await cache.task(REF, "run")
    assert running.value.is_active
    clock.advance(16)
    assert not (await cache.task(REF, "run")).from_cache
    assert cache.stats.task_fetches == 3


async def test_instances_are_kept_for_minutes_and_handed_out_as_copies(
    cache: TaskCache, backend: Backend, clock: Clock
) -> None:
    first = await cache.instances("proj", "cn-north-4")
    first.value.clear()
    clock.advance(299)
    second = await cache.instances("proj", "cn-north-4")
    assert second.from_cache and [i.name for i in second.value] == ["prod"]
    clock.advance(2)
    assert not (await cache.instances("proj", "cn-north-4")).from_cache
    assert cache.stats.instance_fetches == 2


class DictStore:
    """The smallest other store: what a shared one (Redis) would implement."""

    def __init__(self) -> None:
        self.data: dict[str, StoredResult] = {}

    async def get(self, key: str) -> StoredResult | None:
        return self.data.get(key)

    async def put(self, key: str, result: StoredResult) -> None:
        self.data[key] = result


async def test_any_store_with_get_and_put_can_sit_behind_the_cache(
    client: DmsClient, backend: Backend, clock: Clock
) -> None:
    store = DictStore()
    cache = TaskCache(client, clock=clock, store=store)
    await cache.window(REF, *PAST)
    await cache.task(REF, "abc")
    await cache.instances("proj", "cn-north-4")
    kinds = sorted(key.split("|", 1)[0] for key in store.data)
    assert kinds == ["instances", "task", "window"]
    window_key = next(k for k in store.data if k.startswith("window|"))
    assert all(part in window_key for part in ("proj", "cn-north-4", "inst-1"))
    stored: Any = store.data[window_key]
    assert stored.ttl_s == 3600
    assert (await cache.window(REF, *PAST)).from_cache
