"""The alert job against the DMS simulator, a real store (SQLite, and a real redis-server for two
replicas), the real poster and the mock Slack Web API, with one injected clock: a new failure is
posted once, never again after a restart, never for history; stuck once; two replicas post once
between them; one read per instance per interval; and what happens when things go wrong.

Rounds are run directly at chosen instants (`Rig.at`), as the job runs them every interval.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.alert_scheduler import AlertScheduler, RoundResult
from bot.dms.cache import TaskCache
from bot.domain.alerts import ALL_TARGETS, Alert, AlertKind, claim_key, recent_window
from bot.domain.durations import overdue_tasks, typical_durations
from bot.domain.instances import InstanceRef
from bot.domain.tasks import TaskStatus
from bot.simulator import DEMO_PROJECT_ID, DEMO_REGION
from bot.store import AlertStore, RedisStore, Store
from tests.redis_server import redis_server
from tests.test_alerts import (
    CHANNEL,
    INTERVAL_S,
    OTHER,
    OWNER,
    PUBLIC_NOT_MEMBER,
    Rig,
    open_rig,
    text_of,
)

STEP = timedelta(seconds=INTERVAL_S)


async def at(rig: Rig, scheduler: AlertScheduler, moment: datetime) -> RoundResult:
    rig.clock.now = moment
    return await scheduler.round()


async def rounds(rig: Rig, scheduler: AlertScheduler, count: int) -> list[RoundResult]:
    """`count` rounds, one interval apart, from the clock's next interval on."""
    results = []
    for _ in range(count):
        results.append(await at(rig, scheduler, rig.clock.now + STEP))
    return results


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    async with open_rig(tmp_path) as opened:
        yield opened


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with redis_server(tmp_path_factory.mktemp("redis")) as url:
        yield url


def history_failures(rig: Rig, instance: str = "prod-orders") -> int:
    return sum(1 for t in rig.sim.instance(instance).tasks if t["status"] == TaskStatus.FAILED)


async def test_a_new_failure_is_posted_once_and_history_never(rig: Rig) -> None:
    assert history_failures(rig) >= 3  # failures from before the alert, inside its window
    added = rig.clock.now
    await rig.add_alert("prod-orders")
    scheduler = await rig.scheduler()
    assert (await at(rig, scheduler, added)).posts == 0
    rig.clock.now = added + STEP / 2
    task = rig.fail(params={"group": "orders-consumer", "topic": "orders", "password": "pw-9Xq"})
    assert (await at(rig, scheduler, added + STEP)).posts == 1
    for result in await rounds(rig, scheduler, 4):
        assert result.posts == 0 and result.instances == 1
    (post,) = rig.posts(CHANNEL)
    said = text_of(post)
    assert "Reset consumer offset failed on prod-orders" in said
    assert "bob.ops" in said and "Consumer group: orders-consumer; Topic: orders" in said
    assert "pw-9Xq" not in said
    assert await rig.stores[-1].completed(claim_key("k3m9qa", task["id"], AlertKind.FAILED))


async def test_a_restarted_scheduler_does_not_post_it_again(rig: Rig) -> None:
    await rig.add_alert("prod-orders")
    first = await rig.scheduler("replica-a")
    await at(rig, first, rig.clock.now)
    rig.fail()
    await rounds(rig, first, 1)
    assert len(rig.posts()) == 1
    await rig.stores[-1].close()
    # A new process: its own owner, store object, cache and poster on the same file.
    second = await rig.scheduler("replica-b")
    results = await rounds(rig, second, 3)
    assert [r.posts for r in results] == [0, 0, 0] and len(rig.posts()) == 1
    # What fails next is still posted, once.
    rig.fail("kafkaConfigModify")
    assert [r.posts for r in await rounds(rig, second, 3)] == [1, 0, 0]


async def test_a_failure_while_the_bot_was_down_is_posted_when_it_is_back(rig: Rig) -> None:
    await rig.add_alert("prod-orders")
    rig.clock.now += 10 * STEP
    rig.fail()
    scheduler = await rig.scheduler()
    assert [r.posts for r in await rounds(rig, scheduler, 2)] == [1, 0]


async def test_stuck_is_posted_once_and_never_for_a_task_stuck_already(rig: Rig) -> None:
    added = rig.clock.now
    # No finished run of this kind, so it is overdue past 2 h: at added + 1 min + a second.
    task = rig.sim.add_task(
        "prod-orders", "brandNewKind", "EXECUTING", created=added - timedelta(minutes=119)
    )
    await rig.add_alert("prod-orders", stuck=True)
    scheduler = await rig.scheduler()
    # The seeded storage expansion has been running for 3 h: stuck before the alert was added.
    begin, end = recent_window(added, INTERVAL_S, 7)
    window = (await scheduler._alerts.service.cache.window(rig_ref(rig), begin, end)).value
    already = overdue_tasks(window.tasks, typical_durations(window.tasks), added)
    assert any(t.name == "extendStorage" and t.id in already for t in window.tasks)
    assert (await at(rig, scheduler, added)).posts == 0
    assert (await at(rig, scheduler, added + STEP)).posts == 0  # 2 h exactly: not past it
    assert (await at(rig, scheduler, added + 2 * STEP)).posts == 1
    assert [r.posts for r in await rounds(rig, scheduler, 3)] == [0, 0, 0]
    (post,) = rig.posts(CHANNEL)
    said = text_of(post)
    assert "Brand new kind on prod-orders is running far too long" in said
    assert "running 2 h 1 min; no finished run of this kind to compare with" in said
    # Then it fails: a second post, under its own key.
    rig.sim.set_task_status(task["id"], "FAILED")
    assert [r.posts for r in await rounds(rig, scheduler, 2)] == [1, 0]
    assert "failed on prod-orders" in text_of(rig.posts(CHANNEL)[-1])


def rig_ref(rig: Rig) -> InstanceRef:
    return InstanceRef(
        instance_id=rig.sim.instance("prod-orders").instance_id,
        project_id=DEMO_PROJECT_ID,
        region=DEMO_REGION,
        alias="prod-orders",
    )


async def test_two_replicas_on_one_redis_post_once_between_them(rig: Rig, redis_url: str) -> None:
    prefix = f"alerts-{uuid.uuid4().hex[:8]}:"
    stores: list[Store] = [await RedisStore.open(redis_url, prefix=prefix) for _ in range(2)]
    try:
        await AlertStore(stores[0]).add(
            _alert(rig, "k3m9qa", ("prod-orders",)),
        )
        await AlertStore(stores[1]).add(_alert(rig, "zz2222", (ALL_TARGETS,), channel=OTHER))
        a = await rig.scheduler("replica-a", store=stores[0])
        b = await rig.scheduler("replica-b", store=stores[1])
        await asyncio.gather(a.round(), b.round())
        rig.fail()
        rig.fail("kafkaConfigModify", "prod-orders-dr")
        for _ in range(4):
            rig.clock.now += STEP
            await asyncio.gather(a.round(), b.round())
        # One failure on prod-orders, one on dr: the prod-orders alert posts one, `all` both.
        assert len(rig.posts(CHANNEL)) == 1
        assert len(rig.posts(OTHER)) == 2
        assert {text_of(p).split(" failed on ")[1].split("\n")[0] for p in rig.posts(OTHER)} == {
            "prod-orders",
            "dr",
        }
    finally:
        for store in stores:
            await store.close()


def _alert(rig: Rig, alert_id: str, targets: tuple[str, ...], channel: str = CHANNEL) -> Alert:
    return Alert(alert_id, channel, targets, created_at=rig.clock.now, created_by=OWNER)


async def test_a_hundred_alerts_read_each_instance_once_per_interval(tmp_path: Path) -> None:
    async with open_rig(tmp_path, lookback_days=1) as rig:
        names = ("prod-orders", "billing", "dr", "staging")
        combos = [(n,) for n in names] + [names[:2], names[2:], names]
        for n in range(100):
            await rig.add_alert(*combos[n % len(combos)], alert_id=f"a{n:05d}", stuck=n % 3 == 0)
        scheduler = await rig.scheduler()
        cache: TaskCache = scheduler._alerts.service.cache
        reads: list[str] = []
        real_window = cache.window

        async def window(instance: Any, begin: datetime, end: datetime) -> Any:
            reads.append(instance.instance_id)
            return await real_window(instance, begin, end)

        cache.window = window  # type: ignore[method-assign]
        rig.sim.reset_stats()
        for result in [await at(rig, scheduler, rig.clock.now), *await rounds(rig, scheduler, 9)]:
            assert result.alerts == 100 and result.instances == 4 and result.posts == 0
        assert len(reads) == 40 and len(set(reads)) == 4
        # At the simulator: at most one list call per instance per interval (the first read of
        # each is a whole window in one page; then one call for what is new); running tasks
        # are looked at by id.
        assert rig.sim.stats["list_tasks"] <= 40, dict(rig.sim.stats)
        assert rig.posts() == []


async def test_an_instance_that_cannot_be_read_is_logged_once_and_the_others_still_post(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    await rig.add_alert("ghost", "prod-orders")
    scheduler = await rig.scheduler()
    caplog.set_level(logging.INFO, logger="bot.alert_scheduler")
    first = await at(rig, scheduler, rig.clock.now)
    assert first.instances == 2 and first.unavailable == 1
    rig.fail()
    results = await rounds(rig, scheduler, 3)
    assert [r.unavailable for r in results] == [1, 1, 1]
    assert [r.posts for r in results] == [1, 0, 0]
    logged = [r for r in caplog.records if "ghost" in r.getMessage()]
    assert len(logged) == 1 and "cannot be read" in logged[0].getMessage()


async def test_a_channel_closed_to_the_bot_pauses_the_alert_and_tells_its_owner(rig: Rig) -> None:
    alert = await rig.add_alert("prod-orders", channel=PUBLIC_NOT_MEMBER)
    scheduler = await rig.scheduler()
    await at(rig, scheduler, rig.clock.now)
    task = rig.fail()
    assert (await rounds(rig, scheduler, 1))[0].posts == 0
    assert len(rig.posts(PUBLIC_NOT_MEMBER)) == 1
    store = rig.stores[-1]
    stored = await AlertStore(store).get(alert.id)
    assert stored is not None and stored.paused == "not_in_channel"
    # Released, not done: nothing was posted.
    assert not await store.completed(claim_key(alert.id, task["id"], AlertKind.FAILED))
    results = await rounds(rig, scheduler, 3)
    assert [r.alerts for r in results] == [0, 0, 0] and len(rig.posts()) == 1
    (notice,) = await scheduler._alerts.notices_for(OWNER)
    assert "not_in_channel" in notice


async def test_a_failed_post_is_released_and_posted_next_round(rig: Rig) -> None:
    alert = await rig.add_alert("prod-orders")
    scheduler = await rig.scheduler()
    await at(rig, scheduler, rig.clock.now)
    task = rig.fail()
    rig.slack.fail_post_message("internal_error")
    assert (await rounds(rig, scheduler, 1))[0].posts == 0
    key = claim_key(alert.id, task["id"], AlertKind.FAILED)
    assert not await rig.stores[-1].completed(key)
    assert [r.posts for r in await rounds(rig, scheduler, 3)] == [1, 0, 0]
    assert len(rig.posts()) == 2  # the refused attempt, then the post
    assert await rig.stores[-1].completed(key)


@pytest.mark.parametrize(("failures", "posts"), [(3, 3), (12, 1)])
async def test_many_failures_at_once_are_summed_up_in_one_post(
    rig: Rig, failures: int, posts: int
) -> None:
    alert = await rig.add_alert("prod-orders")
    scheduler = await rig.scheduler()
    await at(rig, scheduler, rig.clock.now)
    tasks = [rig.fail(f"kafkaTask{n}") for n in range(failures)]
    result = (await rounds(rig, scheduler, 1))[0]
    assert (result.posts, result.events) == (posts, failures)
    assert [r.posts for r in await rounds(rig, scheduler, 2)] == [0, 0]
    assert len(rig.posts()) == posts
    if posts == 1:
        said = text_of(rig.posts()[0])
        assert f"{failures} tasks failed on prod-orders" in said and "2 more" in said
    for task in tasks:
        assert await rig.stores[-1].completed(claim_key(alert.id, task["id"], AlertKind.FAILED))


async def test_the_job_runs_its_rounds_at_whole_intervals(rig: Rig) -> None:
    await rig.add_alert("prod-orders")
    rig.clock.now = datetime(2026, 12, 2, 12, 0, 17, 250000, tzinfo=UTC)
    scheduler = await rig.scheduler()
    began: list[datetime] = []
    real_round = scheduler.round

    async def round_() -> RoundResult:
        began.append(rig.clock.now)
        if len(began) == 4:
            raise asyncio.CancelledError  # the runtime cancels the job
        return await real_round()

    scheduler.round = round_  # type: ignore[method-assign]
    with pytest.raises(asyncio.CancelledError):
        await scheduler.run()
    assert [b.timestamp() % INTERVAL_S for b in began[1:]] == [0, 0, 0]
    assert began[1] - began[0] < STEP and began[2] - began[1] == STEP


def test_an_interval_must_be_positive() -> None:
    with pytest.raises(ValueError, match="interval_s"):
        AlertScheduler(None, None, None, interval_s=0)  # type: ignore[arg-type]
