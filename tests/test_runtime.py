"""The runtime: a job that keeps crashing is restarted and the process stays healthy; stop()
waits for acknowledged work, cancels jobs and closes the clients."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from bot.jobs import Backoff, JobRegistry
from bot.runtime import Runtime
from bot.settings import Settings
from tests.fake_time import FakeTime

SETTINGS = {
    "HUAWEICLOUD_SDK_AK": "AKEXAMPLE",
    "HUAWEICLOUD_SDK_SK": "SKEXAMPLE",
    "HUAWEICLOUD_SDK_PROJECT_ID": "proj-1",
    "DMS_REGION": "test-region-1",
    "DMS_ENDPOINT": "http://127.0.0.1:9",
    "DMS_BOT_SHUTDOWN_GRACE": "5",
}


async def health(runtime: Runtime) -> httpx.Response:
    transport = httpx.ASGITransport(app=runtime.asgi())
    async with httpx.AsyncClient(transport=transport, base_url="http://bot") as http:
        return await http.get("/healthz")


async def test_a_crashing_job_is_restarted_and_the_process_stays_healthy() -> None:
    runtime = Runtime(Settings.model_validate(SETTINGS), with_slack=False)
    fake = FakeTime()
    runtime.jobs = JobRegistry(backoff=Backoff(), clock=fake.clock, sleep=fake.sleep)
    crashes = 0
    third = asyncio.Event()

    async def broken_poll() -> None:
        nonlocal crashes
        crashes += 1
        if crashes == 3:
            third.set()
        raise ValueError("the poll failed")

    runtime.jobs.add("alerts", broken_poll)
    await runtime.start()
    try:
        await asyncio.wait_for(third.wait(), 5)
        response = await health(runtime)
        assert response.status_code == 200
        assert response.json()["ok"] is True
        assert response.json()["jobs"]["alerts"] >= 2
    finally:
        await runtime.stop()
    assert all(not s.running for s in runtime.jobs.states)


async def test_stop_waits_for_acknowledged_work_and_refuses_new_work() -> None:
    runtime = Runtime(Settings.model_validate(SETTINGS), with_slack=False)
    await runtime.start()
    finished = asyncio.Event()
    entered = asyncio.Event()

    async def answer() -> None:
        async with runtime.work.track():
            entered.set()
            await asyncio.sleep(0)
            await asyncio.sleep(0)
            finished.set()

    task = asyncio.create_task(answer())
    await entered.wait()
    await runtime.stop()
    assert finished.is_set()
    assert runtime.work.accepting is False
    await task


def test_the_runtime_refuses_to_build_without_slack_settings() -> None:
    from bot.settings import SettingsError

    with pytest.raises(SettingsError, match="SLACK_BOT_TOKEN"):
        Runtime(Settings.model_validate(SETTINGS))
