"""The digest scheduler when things go wrong: Slack refusing a post, a channel closed to the bot,
two replicas in one round, a replica that died holding a claim, an empty period, a subscription
removed mid-post, and one that cannot be scheduled at all.

The same rig as tests/test_digest_scheduler.py: a real SQLite store, the real poster against the
mock Slack Web API, digests built against the DMS simulator, and one injected clock.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.digest_scheduler import CLAIM_TTL_S, RETRY_AFTER_FAILURE, claim_key
from bot.domain.digests import DigestResult, ResultKind, Subscription
from bot.poster import PostOutcome, SlackPoster
from bot.simulator import RunningSimulator
from bot.store import Store
from tests.test_digest_scheduler import (
    CHANNEL,
    DAY,
    OTHER_CHANNELS,
    OWNER,
    POLL_S,
    PRIVATE_GONE,
    PUBLIC_NOT_MEMBER,
    SECOND,
    Rig,
    blocks,
    open_rig,
    start_sim,
    text_of,
    utc,
)

DUE = utc(2026, 3, 26, 8)  # Thursday 26 March 2026, 09:00 CET: a period with no tasks
CREATED = DUE - timedelta(hours=12)
GRACE_PAST = timedelta(hours=2, minutes=1)  # later than the default grace


@pytest.fixture(scope="module")
def sim() -> Iterator[RunningSimulator]:
    with start_sim() as running:
        yield running


@pytest.fixture
async def rig(sim: RunningSimulator, tmp_path: Path) -> AsyncIterator[Rig]:
    async with open_rig(sim, tmp_path) as opened:
        yield opened


async def test_a_failed_post_is_released_recorded_and_retried_after_the_pause_once(
    rig: Rig,
) -> None:
    sub = await rig.subscribe(created_at=CREATED)
    store = rig.stores[-1]
    first = await rig.scheduler("replica-a", store=store)
    rig.slack.fail_post_message("internal_error")
    await rig.at(first, DUE)
    assert len(rig.posts()) == 1
    assert await rig.result() == DigestResult(ResultKind.FAILED, DUE, DUE, "internal_error")
    # Released: nothing marks it done, and anyone may claim it again.
    key = claim_key(sub, DUE)
    assert not await store.completed(key)
    assert await store.claim(key, "probe", 1.0)
    await store.release(key, "probe")
    # Not again before the pause, from this replica or another that only knows the store.
    second = await rig.scheduler("replica-b")
    for moment in (
        DUE + SECOND,
        DUE + timedelta(seconds=POLL_S),
        DUE + RETRY_AFTER_FAILURE - SECOND,
    ):
        await rig.at(first, moment)
        await rig.at(second, moment)
    assert len(rig.posts()) == 1
    retried = DUE + RETRY_AFTER_FAILURE + SECOND
    await rig.at(second, retried)
    assert len(rig.posts()) == 2
    assert await rig.result() == DigestResult(ResultKind.POSTED, retried, DUE, "")
    assert await store.completed(key)
    for moment in (retried + RETRY_AFTER_FAILURE, retried + timedelta(hours=1)):
        await rig.at(first, moment)
        await rig.at(second, moment)
    assert len(rig.posts()) == 2


async def test_a_run_that_keeps_failing_past_the_grace_keeps_its_reason_and_the_next_posts(
    rig: Rig,
) -> None:
    await rig.subscribe(created_at=CREATED)
    scheduler = await rig.scheduler(grace=timedelta(minutes=5))
    rig.slack.fail_post_message("msg_blocks_too_long", times=10)
    step = RETRY_AFTER_FAILURE + SECOND
    for n in range(5):  # at 0, 2, 4 minutes inside the grace; 6 and 8 past it
        await rig.at(scheduler, DUE + n * step)
    assert len(rig.posts()) == 3
    result = await rig.result()
    assert result is not None
    assert (result.kind, result.due, result.detail) == (
        ResultKind.FAILED,
        DUE,
        "msg_blocks_too_long",
    )
    rig.slack.failures.errors.clear()
    await rig.at(scheduler, DUE + DAY)
    assert len(rig.posts()) == 4
    assert await rig.result() == DigestResult(ResultKind.POSTED, DUE + DAY, DUE + DAY, "")


@pytest.mark.parametrize(
    ("channel", "reason"),
    [(PUBLIC_NOT_MEMBER, "not_in_channel"), (PRIVATE_GONE, "channel_not_found")],
)
async def test_a_channel_closed_to_the_bot_pauses_the_digest_and_its_owner_hears_once(
    rig: Rig, channel: str, reason: str
) -> None:
    sub = await rig.subscribe(created_at=CREATED, channel=channel)
    scheduler = await rig.scheduler()
    await rig.at(scheduler, DUE)
    stored = await rig.stores[-1].get(sub.id)
    assert stored is not None and stored.paused == reason
    assert await rig.result() == DigestResult(ResultKind.PAUSED, DUE, DUE, reason)
    for moment in (DUE + RETRY_AFTER_FAILURE * 2, DUE + DAY, DUE + DAY + SECOND, DUE + 2 * DAY):
        await rig.at(scheduler, moment)
    assert len(rig.posts()) == 1, "a paused digest is never tried again"
    digests = rig.digests(rig.stores[-1])
    assert await digests.notices_for("U0SOMEONEELSE") == []
    notices = await digests.notices_for(OWNER)
    assert len(notices) == 1 and sub.id in notices[0] and reason in notices[0]
    assert await digests.notices_for(OWNER) == []


async def test_two_replicas_in_the_same_round_post_each_digest_once(rig: Rig) -> None:
    channels = (CHANNEL, *OTHER_CHANNELS)
    for n, channel in enumerate(channels):
        await rig.subscribe(created_at=CREATED, sub_id=f"dgst0{n}", channel=channel)
    # Two processes, each with its own store object on the one file.
    first, second = await rig.scheduler("replica-a"), await rig.scheduler("replica-b")
    for moment in (DUE, DUE + SECOND, DUE + timedelta(minutes=10)):
        rig.clock.now = moment
        await asyncio.gather(first.round(), second.round())
    assert sorted(c.body["channel"] for c in rig.posts()) == sorted(channels)
    for n in range(len(channels)):
        result = await rig.result(f"dgst0{n}")
        assert result is not None and (result.kind, result.due) == (ResultKind.POSTED, DUE)


async def test_a_claim_left_by_a_dead_replica_expires_and_a_survivor_posts(rig: Rig) -> None:
    sub = await rig.subscribe(created_at=CREATED)
    # A replica claimed the run, then died before posting.
    dead = await rig.store()
    rig.clock.now = DUE
    assert await dead.claim(claim_key(sub, DUE), "dead-replica", CLAIM_TTL_S)
    survivor = await rig.scheduler("survivor")
    ttl = timedelta(seconds=CLAIM_TTL_S)
    for moment in (DUE, DUE + timedelta(seconds=POLL_S), DUE + ttl - SECOND):
        await rig.at(survivor, moment)
    assert rig.posts() == []
    assert await rig.result() is None
    await rig.at(survivor, DUE + ttl + SECOND)
    assert len(rig.posts()) == 1
    assert await rig.result() == DigestResult(ResultKind.POSTED, DUE + ttl + SECOND, DUE, "")
    await rig.at(survivor, DUE + ttl * 2)
    assert len(rig.posts()) == 1


@pytest.mark.parametrize("quiet", [True, False])
async def test_an_empty_period_is_one_line_when_quiet_and_a_full_digest_otherwise(
    rig: Rig, quiet: bool
) -> None:
    await rig.subscribe(created_at=CREATED, quiet=quiet)
    scheduler = await rig.scheduler()
    await rig.at(scheduler, DUE)
    assert len(rig.posts()) == 1
    call = rig.posts()[0]
    result = await rig.result()
    assert result is not None and result.due == DUE
    if quiet:
        assert len(blocks(call)) == 1
        assert text_of(call).startswith("Nothing happened on prod-orders")
        assert result.kind is ResultKind.NOTHING
    else:
        assert "*prod-orders*  no tasks" in text_of(call)
        assert result.kind is ResultKind.POSTED


class RemovingPoster:
    """The real poster, but a subscription is removed (a `digest remove` on another replica)
    just as the post to its channel goes out."""

    def __init__(self, real: SlackPoster, store: Store, sub_id: str, channel: str) -> None:
        self._real = real
        self._store = store
        self._sub_id = sub_id
        self._channel = channel

    async def post(self, channel: str, message: dict[str, Any], **extra: Any) -> PostOutcome:
        if channel == self._channel:
            assert await self._store.remove(self._sub_id)
        return await self._real.post(channel, message, **extra)


@pytest.mark.parametrize("channel", [CHANNEL, PRIVATE_GONE], ids=["posted", "unavailable"])
async def test_a_subscription_removed_mid_post_does_not_crash_the_round(
    rig: Rig, channel: str
) -> None:
    await rig.subscribe(created_at=CREATED, sub_id="dgst01", channel=channel)
    await rig.subscribe(created_at=CREATED, sub_id="dgst02", channel=OTHER_CHANNELS[0])
    store = await rig.store()
    poster = RemovingPoster(rig.poster(), store, "dgst01", channel)
    scheduler = await rig.scheduler(store=store, poster=poster)
    await rig.at(scheduler, DUE)
    assert await store.get("dgst01") is None
    assert sorted(c.body["channel"] for c in rig.posts()) == sorted([channel, OTHER_CHANNELS[0]])
    result = await rig.result("dgst02")
    assert result is not None and result.kind is ResultKind.POSTED
    await rig.at(scheduler, DUE + DAY)
    assert [c.body["channel"] for c in rig.posts()].count(channel) == 1


async def test_a_subscription_that_cannot_be_scheduled_does_not_stop_the_others(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    # A zone this host's tz database does not know (a record written by a newer one, say).
    await rig.subscribe(tz="Mars/Olympus_Mons", created_at=CREATED, sub_id="dgst01")
    await rig.subscribe(created_at=CREATED, sub_id="dgst02", channel=OTHER_CHANNELS[0])
    scheduler = await rig.scheduler()
    assert await rig.at(scheduler, DUE - timedelta(seconds=10)) == 10.0
    await rig.at(scheduler, DUE)
    await rig.at(scheduler, DUE + SECOND)
    assert [c.body["channel"] for c in rig.posts()] == [OTHER_CHANNELS[0]]
    # Said once, not every round.
    assert sum("dgst01" in r.getMessage() for r in caplog.records) == 1


async def test_a_replica_with_an_older_view_never_puts_an_older_result_over_a_newer_one(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    # After a three-day outage two replicas start; the second read the subscriptions just
    # before the first caught up, so it still sees three older runs to record as skipped.
    await rig.subscribe(created_at=CREATED - 3 * DAY)
    first, second = await rig.scheduler("replica-a"), await rig.scheduler("replica-b")
    stale = await rig.stores[-1].all()
    await rig.at(first, DUE + timedelta(minutes=30))

    async def read_earlier() -> list[Subscription]:
        return stale

    monkeypatch.setattr(rig.stores[-1], "all", read_earlier)
    await rig.at(second, DUE + timedelta(minutes=30))
    assert len(rig.posts()) == 1
    result = await rig.result()
    assert result is not None and (result.kind, result.due) == (ResultKind.POSTED, DUE)


async def test_a_run_posted_by_a_replica_that_died_before_recording_is_not_called_skipped(
    rig: Rig,
) -> None:
    sub = await rig.subscribe(created_at=CREATED)
    dead = await rig.store()
    rig.clock.now = DUE
    assert await dead.claim(claim_key(sub, DUE), "dead-replica", CLAIM_TTL_S)
    await dead.mark_done(claim_key(sub, DUE), 3 * 86400.0)
    survivor = await rig.scheduler("survivor")
    for moment in (DUE + timedelta(minutes=10), DUE + GRACE_PAST):
        await rig.at(survivor, moment)
    assert rig.posts() == []
    assert await rig.result() is None


async def test_a_shutdown_before_the_post_lets_the_next_process_take_the_run_at_once(
    rig: Rig,
) -> None:
    sub = await rig.subscribe(created_at=CREATED)
    rig.clock.now = DUE
    store = await rig.store()
    stopping = await rig.scheduler("stopping", store=store)
    started = asyncio.Event()

    async def never_done(*_: Any, **__: Any) -> Any:
        started.set()
        await asyncio.Event().wait()  # a DMS read still under way when SIGTERM comes

    stopping._digests.build = never_done  # type: ignore[method-assign]
    job = asyncio.ensure_future(stopping.post(sub, DUE))
    await started.wait()
    job.cancel()
    with pytest.raises(asyncio.CancelledError):
        await job
    # Released, not left to expire: the restarted process posts the run straight away.
    restarted = await rig.scheduler("restarted")
    assert await restarted.post(sub, DUE) is ResultKind.POSTED
    assert len(rig.posts()) == 1
