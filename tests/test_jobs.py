"""The runtime's job registry: a job that raises is logged and restarted with backoff, and the
process (here: the other jobs and the registry) carries on. The clock and the sleeps are
injected, so nothing here waits for real time."""

from __future__ import annotations

import asyncio
import logging
import random

import pytest

from bot.jobs import Backoff, JobRegistry
from tests.fake_time import FakeTime


async def test_a_crashing_job_is_logged_and_restarted_with_growing_backoff(
    caplog: pytest.LogCaptureFixture,
) -> None:
    time = FakeTime()
    registry = JobRegistry(
        backoff=Backoff(initial_s=1, max_s=8, reset_after_s=300),
        clock=time.clock,
        sleep=time.sleep,
        rng=random.Random(1),
    )
    runs = 0
    healthy = asyncio.Event()
    steady = asyncio.Event()

    async def flaky() -> None:
        nonlocal runs
        runs += 1
        if runs <= 4:
            raise RuntimeError(f"poll {runs} failed")
        healthy.set()
        await asyncio.Event().wait()  # a job that keeps running until cancelled

    async def other() -> None:
        steady.set()
        await asyncio.Event().wait()

    registry.add("flaky", flaky)
    registry.add("other", other)
    with caplog.at_level(logging.ERROR, logger="bot.jobs"):
        registry.start()
        await asyncio.wait_for(healthy.wait(), 5)
        await asyncio.wait_for(steady.wait(), 5)
    assert runs == 5
    # Full jitter within a doubling ceiling: 1, 2, 4, 8 (capped).
    ceilings = [1, 2, 4, 8]
    assert len(time.sleeps) == 4
    assert all(c / 2 <= s <= c for s, c in zip(time.sleeps, ceilings, strict=True))
    states = {s.name: s for s in registry.states}
    assert states["flaky"].crashes == 4 and states["flaky"].last_error == "RuntimeError"
    assert states["flaky"].running and states["other"].running
    assert states["other"].crashes == 0
    failures = [r for r in caplog.records if "job flaky failed" in r.getMessage()]
    assert len(failures) == 4 and all(r.exc_info for r in failures)
    await registry.stop()
    assert not any(s.running for s in registry.states)


async def test_backoff_starts_over_after_a_long_healthy_run() -> None:
    time = FakeTime()
    registry = JobRegistry(
        backoff=Backoff(initial_s=1, max_s=60, reset_after_s=100),
        clock=time.clock,
        sleep=time.sleep,
        rng=random.Random(2),
    )
    runs = 0
    done = asyncio.Event()

    async def job() -> None:
        nonlocal runs
        runs += 1
        if runs == 3:
            time.now += 500  # this run lasted long enough to count as healthy
        if runs == 4:
            done.set()
            return
        raise RuntimeError("again")

    registry.add("job", job)
    registry.start()
    await asyncio.wait_for(done.wait(), 5)
    # crash 1 -> ceiling 1, crash 2 -> ceiling 2, then a long run: ceiling 1 again.
    assert time.sleeps[0] <= 1 and 1 <= time.sleeps[1] <= 2 and time.sleeps[2] <= 1
    await registry.stop()


async def test_a_job_added_after_start_runs_and_names_are_unique() -> None:
    registry = JobRegistry()
    registry.start()
    ran = asyncio.Event()

    async def job() -> None:
        ran.set()

    registry.add("late", job)
    await asyncio.wait_for(ran.wait(), 5)
    with pytest.raises(ValueError, match="already registered"):
        registry.add("late", job)
    await registry.stop()


async def test_stop_cancels_jobs_that_never_end() -> None:
    registry = JobRegistry()
    started = asyncio.Event()
    cancelled = asyncio.Event()

    async def forever() -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        finally:
            cancelled.set()

    registry.add("forever", forever)
    registry.start()
    await asyncio.wait_for(started.wait(), 5)
    await registry.stop(timeout=5)
    assert cancelled.is_set()
