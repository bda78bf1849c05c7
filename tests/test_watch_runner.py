"""The watch job against the DMS simulator, the mock Slack Web API (with chat.update) and the
in-memory WatchStore, with one injected clock: a task that ends edits its message and pings
once, with two runners on one store too, and across a restart (even one between the final edit
and the reply); the lifetime bound; a task deleted upstream; DMS errors shown and recovered
from; the DM fallback; progress of a scale task; backoff; one broken watch among good ones.

Rounds are run directly (`Rig.step` moves the clock to the next look that is due), as the job
runs them.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.domain.watches import Watch, WatchStarted
from bot.poster import PostOutcome
from bot.simulator import Faults
from bot.watches import REPLY_CLAIM_TTL_S
from tests.test_poster import EditingSlack
from tests.test_watches import (
    CHANNEL,
    OWNER,
    PUBLIC_NOT_MEMBER,
    Rig,
    open_rig,
    raw_of,
    start,
    text_of,
    who,
)


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    async with open_rig(tmp_path) as opened:
        yield opened


async def started(rig: Rig, task_id: str, **options: Any) -> Watch:
    outcome = await start(rig, rig.watches(), task_id, **options)
    assert isinstance(outcome, WatchStarted), outcome
    return outcome.watch


async def test_a_task_that_succeeds_edits_its_message_and_pings_once(rig: Rig) -> None:
    task_id = rig.running("kafkaConfigModify")
    watch = await started(rig, task_id)
    runner = rig.runner(rig.watches())
    await rig.step(runner)
    assert rig.replies() == []  # still running
    rig.clock.advance(72 * 60)
    rig.sim.set_task_status(task_id, "SUCCESS")
    await rig.step(runner)
    final = rig.edits()[-1]
    assert final.body["ts"] == watch.message_ts and final.body["channel"] == CHANNEL
    text = text_of(final)
    assert "Modify config on prod-orders finished: SUCCESS" in text
    assert "Stop watching" not in text
    [reply] = rig.replies()
    assert reply.body["thread_ts"] == watch.message_ts
    assert raw_of(reply).startswith(f"<@{OWNER}> *Modify config* on *prod-orders* finished")
    assert "SUCCESS" in raw_of(reply)
    assert rig.store.bodies == {}
    for _ in range(3):
        rig.clock.advance(600)
        await rig.step(runner)
    assert len(rig.replies()) == 1


async def test_a_failed_task_says_so_with_its_key_params_redacted(rig: Rig) -> None:
    task = rig.sim.add_task(
        "prod-orders",
        "kafkaResetConsumerOffset",
        "EXECUTING",
        created=rig.clock.now,
        params={"group": "orders-consumer", "password": "pw-9Xq"},
    )
    await started(rig, task["id"])
    rig.clock.advance(3 * 60)
    rig.sim.set_task_status(task["id"], "FAILED")
    await rig.step(rig.runner(rig.watches()))
    [reply] = rig.replies()
    text = raw_of(reply)
    assert "finished: *FAILED*" in text and "orders-consumer" in text
    assert "pw-9Xq" not in text and "pw-9Xq" not in raw_of(rig.edits()[-1])


async def test_two_runners_on_one_store_ping_once(rig: Rig) -> None:
    task_id = rig.running()
    await started(rig, task_id)
    a, b = rig.runner(rig.watches("replica-a")), rig.runner(rig.watches("replica-b"))
    await rig.step(a, b)
    rig.sim.set_task_status(task_id, "SUCCESS")
    await rig.step(a, b)
    await rig.step(a, b)
    assert len(rig.replies()) == 1
    finals = [e for e in rig.edits() if "finished: SUCCESS" in text_of(e)]
    assert len(finals) == 1


async def test_a_restarted_runner_resumes_the_watch_and_pings_once(rig: Rig) -> None:
    task_id = rig.running()
    watch = await started(rig, task_id)
    first = rig.runner(rig.watches("before-restart"))
    for _ in range(3):
        await rig.step(first)
    edits_before = len(rig.edits())
    # The process goes; a new one (own cache, poster and owner) opens the same store.
    rig.sim.set_task_status(task_id, "CANCELLED")
    second = rig.runner(rig.watches("after-restart"))
    await rig.step(second)
    assert len(rig.edits()) == edits_before + 1
    [reply] = rig.replies()
    assert reply.body["thread_ts"] == watch.message_ts and "CANCELLED" in raw_of(reply)
    assert rig.store.bodies == {}


class DiesBeforeReplying:
    """A poster whose process dies as it is about to post the reply (after the final edit)."""

    def __init__(self, real: Any) -> None:
        self._real = real

    async def post(self, channel: str, message: dict[str, Any], **extra: Any) -> PostOutcome:
        if extra.get("thread_ts"):
            raise asyncio.CancelledError  # as a SIGKILL mid-round looks from inside
        result: PostOutcome = await self._real.post(channel, message, **extra)
        return result

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


async def test_a_restart_between_the_final_edit_and_the_reply_still_pings_once(rig: Rig) -> None:
    task_id = rig.running()
    await started(rig, task_id)
    dying = rig.watches("dying", poster=DiesBeforeReplying(rig.poster()))
    rig.sim.set_task_status(task_id, "SUCCESS")
    with pytest.raises(asyncio.CancelledError):
        await rig.step(rig.runner(dying))
    assert any("finished: SUCCESS" in text_of(e) for e in rig.edits())
    assert rig.replies() == []
    # The record kept the end: the next process edits again (harmless) and replies once.
    [kept] = await rig.store.all()
    assert kept.ending is not None
    survivor = rig.runner(rig.watches("survivor"))
    await rig.step(survivor)
    assert len(rig.replies()) == 1 and rig.store.bodies == {}


async def test_a_reply_claimed_by_a_dead_process_is_posted_once_its_claim_lapses(
    rig: Rig,
) -> None:
    task_id = rig.running()
    watch = await started(rig, task_id)
    rig.sim.set_task_status(task_id, "SUCCESS")
    # A process claimed the reply and died before posting it.
    assert await rig.store.claim(watch.reply_key, "dead", REPLY_CLAIM_TTL_S)
    runner = rig.runner(rig.watches())
    await rig.step(runner)
    assert rig.replies() == [] and rig.store.bodies  # kept: its reply is not done yet
    rig.clock.advance(REPLY_CLAIM_TTL_S + 1)
    await rig.step(runner)
    assert len(rig.replies()) == 1 and rig.store.bodies == {}


async def test_a_watch_stops_after_its_lifetime_with_one_reply(rig: Rig) -> None:
    await started(rig, rig.running())
    runner = rig.runner(rig.watches())
    await rig.step(runner)
    rig.clock.advance(24 * 3600)
    await rig.step(runner)
    text = text_of(rig.edits()[-1])
    assert "Stopped watching Expand broker storage on prod-orders after 24 h" in text
    [reply] = rig.replies()
    assert raw_of(reply).startswith(f"<@{OWNER}> I stopped watching")
    assert "after 24 h" in raw_of(reply) and rig.store.bodies == {}


async def test_a_task_deleted_upstream_ends_the_watch(rig: Rig) -> None:
    task_id = rig.running()
    await started(rig, task_id)
    inst = rig.sim.instance("prod-orders")
    inst.tasks.remove(inst.find_task(task_id))
    rig.clock.advance(60)  # past the cache's life of a running task
    await rig.step(rig.runner(rig.watches()))
    assert "the task record is gone" in text_of(rig.edits()[-1])
    [reply] = rig.replies()
    assert "is gone (deleted upstream)" in raw_of(reply) and rig.store.bodies == {}


async def test_a_dms_error_is_shown_backed_off_and_recovered_from(rig: Rig) -> None:
    task_id = rig.running("kafkaConfigModify")
    watch = await started(rig, task_id)
    runner = rig.runner(rig.watches())
    rig.clock.advance(60)
    rig.sim.set_faults(Faults(error_first=2))
    await rig.step(runner)
    failing = text_of(rig.edits()[-1])
    assert "could not check:" in failing and "answered HTTP 500" in failing
    [stored] = await rig.store.all()
    assert stored.error and stored.interval_s > watch.interval_s
    await rig.step(runner)  # the second error: backed off further, and the message says so
    [again] = await rig.store.all()
    assert again.interval_s > stored.interval_s
    assert "Trying again in 22 s" in text_of(rig.edits()[-1])
    await rig.step(runner)
    assert "could not check" not in text_of(rig.edits()[-1])
    [recovered] = await rig.store.all()
    assert recovered.error is None and recovered.interval_s == rig.watches().limits.min_interval_s
    rig.sim.set_task_status(task_id, "SUCCESS")
    rig.clock.advance(60)  # past the cache's life of a running task
    await rig.step(runner)
    assert len(rig.replies()) == 1


async def test_a_watch_in_the_dm_is_edited_and_answered_there(rig: Rig) -> None:
    task_id = rig.running()
    watch = await started(rig, task_id, requester=who(channel=PUBLIC_NOT_MEMBER))
    dm = EditingSlack.dm_of(OWNER)
    assert watch.channel_id == dm
    rig.sim.set_task_status(task_id, "SUCCESS")
    await rig.step(rig.runner(rig.watches()))
    assert rig.edits()[-1].body["channel"] == dm
    [reply] = rig.replies()
    assert reply.body["channel"] == dm and reply.body["thread_ts"] == watch.message_ts


async def test_a_scale_task_shows_its_progress(rig: Rig) -> None:
    task = rig.sim.add_task(
        "prod-orders", "extendBroker", "EXECUTING", created=rig.sim.now() - timedelta(minutes=4)
    )
    await started(rig, task["id"])
    text = text_of(rig.posts(CHANNEL)[0])
    assert "Watching Add brokers on prod-orders" in text
    assert " % · step " in text and "left" in text
    [stored] = await rig.store.all()
    assert stored.progress is not None and 0 < stored.progress.percentage < 100
    # Not a scale task: no progress is asked for.
    await started(rig, rig.running("kafkaConfigModify"))
    assert "step" not in text_of(rig.posts(CHANNEL)[1])
    assert rig.sim.stats["task_progress"] == 1


async def test_nothing_changing_backs_off_and_edits_only_what_a_reader_would_see(
    rig: Rig,
) -> None:
    await started(rig, rig.running("kafkaConfigModify"))
    runner = rig.runner(rig.watches())
    intervals = []
    for _ in range(9):
        await rig.step(runner)
        [stored] = await rig.store.all()
        intervals.append(stored.interval_s)
    assert intervals[:4] == [15.0, 22.5, 33.75, 50.625]
    assert intervals[-1] == 300.0
    # Looks every 15 s to 5 min; an edit only when "running N min" moved on.
    assert 0 < len(rig.edits()) < 9


async def test_the_wait_until_the_next_round_is_the_next_look_due(rig: Rig) -> None:
    await started(rig, rig.running())
    runner = rig.runner(rig.watches())
    assert await runner.round() == pytest.approx(10.0)
    await rig.step(runner)
    assert await runner.round() == pytest.approx(15.0)
    # With no watch, the job still looks every poll interval for ones other replicas start.
    rig.store.bodies.clear()
    assert await runner.round() == pytest.approx(15.0)


async def test_one_broken_watch_does_not_stop_the_others(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    broken_task, good_task = rig.running(), rig.running()
    broken = await started(rig, broken_task)
    await started(rig, good_task)
    rig.store.fail_updates_of.add(broken.id)
    rig.sim.set_task_status(broken_task, "SUCCESS")
    rig.sim.set_task_status(good_task, "SUCCESS")
    runner = rig.runner(rig.watches())
    await rig.step(runner)
    await rig.step(runner)
    assert len(rig.replies()) == 1
    assert [w.id for w in await rig.store.all()] == [broken.id]
    assert sum("its look failed" in r.message for r in caplog.records) == 1
    # The store recovers: the watch ends once.
    rig.store.fail_updates_of.clear()
    rig.clock.advance(600)
    await rig.step(runner)
    assert len(rig.replies()) == 2 and rig.store.bodies == {}


async def test_a_deleted_watch_message_ends_the_watch_quietly(rig: Rig) -> None:
    watch = await started(rig, rig.running())
    rig.slack.deleted.add((watch.channel_id, watch.message_ts))
    rig.clock.advance(120)
    await rig.step(rig.runner(rig.watches()))
    assert rig.store.bodies == {} and rig.replies() == []


async def test_the_job_runs_rounds_until_cancelled(rig: Rig) -> None:
    task_id = rig.running()
    await started(rig, task_id)
    rig.sim.set_task_status(task_id, "SUCCESS")
    job = asyncio.create_task(rig.runner(rig.watches()).run())
    try:
        await rig.slack.wait_for("/api/chat.postMessage", count=2)
    finally:
        job.cancel()
        with pytest.raises(asyncio.CancelledError):
            await job
    assert len(rig.replies()) == 1
