"""DmsClient, IamTokenAuth and TaskCache against the real DMS simulator over loopback HTTP:
paging, whole windows, and each failure the client must survive or explain."""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.dms.auth import AkSkAuth
from bot.dms.cache import TaskCache
from bot.dms.client import DmsClient, RetryPolicy
from bot.dms.errors import (
    DmsAuthError,
    DmsBadRequestError,
    DmsErrorKind,
    DmsNotFoundError,
    DmsOperation,
    DmsThrottledError,
    DmsUnavailableError,
)
from bot.dms.iam import IamTokenAuth
from bot.messages import problem_for
from bot.settings import InstanceRef
from bot.simulator import (
    DEMO_AK,
    DEMO_IAM_DOMAIN,
    DEMO_IAM_PASSWORD,
    DEMO_IAM_USER,
    DEMO_PROJECT_ID,
    DEMO_REGION,
    DEMO_SK,
    Faults,
    RunningSimulator,
    SimulatorConfig,
    start_simulator,
)

BULK_TASKS = 2500


@pytest.fixture
async def sim() -> AsyncIterator[RunningSimulator]:
    async with start_simulator(SimulatorConfig(bulk_tasks=BULK_TASKS)) as running:
        yield running


class Delays:
    """A sleep that records what the client asked for and returns at once."""

    def __init__(self) -> None:
        self.asked: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.asked.append(delay)
        await asyncio.sleep(0)


def client_for(
    sim: RunningSimulator,
    *,
    sk: str = DEMO_SK,
    retry: RetryPolicy | None = None,
    timeout: float = 5.0,
    delays: Delays | None = None,
    auth: Any = None,
) -> DmsClient:
    return DmsClient(
        auth=auth or AkSkAuth(DEMO_AK, sk),
        endpoint_for=lambda region: sim.url,
        retry=retry or RetryPolicy(attempts=4, base_delay_s=0.01, max_delay_s=0.05, budget_s=5),
        timeout=timeout,
        sleep=delays or Delays(),
    )


def ref(sim: RunningSimulator, name: str) -> InstanceRef:
    return InstanceRef(
        instance_id=sim.instance(name).instance_id,
        project_id=DEMO_PROJECT_ID,
        region=DEMO_REGION,
        name=name,
    )


def whole_seconds(moment: datetime) -> datetime:
    # The API's begin_time/end_time carry whole seconds.
    return moment.replace(microsecond=0)


def simulator_ids(
    sim: RunningSimulator, name: str, begin: datetime | None, end: datetime | None
) -> list[str]:
    inst = sim.instance(name)
    return [
        t["id"]
        for t in inst.tasks
        if (begin is None or begin <= inst.created_of(t))
        and (end is None or inst.created_of(t) < end)
    ]


async def test_pages_are_consecutive_slices_of_the_newest_first_list(
    sim: RunningSimulator,
) -> None:
    client = client_for(sim)
    try:
        first = await client.list_tasks(ref(sim, "prod-orders"), start=1, limit=10)
        second = await client.list_tasks(ref(sim, "prod-orders"), start=11, limit=10)
    finally:
        await client.aclose()
    everything = simulator_ids(sim, "prod-orders", None, None)
    assert first.total == second.total == len(everything)
    assert [t.id for t in first.tasks] == everything[:10]
    assert [t.id for t in second.tasks] == everything[10:20]


async def test_whole_window_matches_the_simulators_own_count(sim: RunningSimulator) -> None:
    end = whole_seconds(sim.anchor - timedelta(hours=6))
    begin = end - timedelta(days=5)
    expected = simulator_ids(sim, "bulk-audit", begin, end)
    assert len(expected) > 1000  # several pages, fetched concurrently
    client = client_for(sim)
    try:
        window = await client.fetch_window(ref(sim, "bulk-audit"), begin, end)
    finally:
        await client.aclose()
    assert len(window.tasks) == len(expected)
    assert [t.id for t in window.tasks] == expected
    assert all(begin <= t.created_at < end for t in window.tasks if t.created_at)
    assert sim.stats["list_tasks"] == math.ceil(len(expected) / 100)
    assert window.settled


async def test_whole_history_without_bounds(sim: RunningSimulator) -> None:
    client = client_for(sim)
    try:
        window = await client.fetch_window(ref(sim, "bulk-audit"), None, None)
    finally:
        await client.aclose()
    assert [t.id for t in window.tasks] == simulator_ids(sim, "bulk-audit", None, None)
    assert len(window.tasks) == BULK_TASKS


async def test_show_task_and_instances(sim: RunningSimulator) -> None:
    client = client_for(sim)
    wanted = sim.instance("prod-orders").tasks[3]
    try:
        task = await client.show_task(ref(sim, "prod-orders"), wanted["id"])
        instances = await client.list_instances(DEMO_PROJECT_ID, DEMO_REGION)
        exact = await client.list_instances(
            DEMO_PROJECT_ID, DEMO_REGION, name="prod-orders", exact=True
        )
    finally:
        await client.aclose()
    assert task.id == wanted["id"] and task.name == wanted["name"]
    assert {i.name for i in instances} == {i.name for i in sim.instances}
    assert {"prod-orders", "bulk-audit"} <= {i.name for i in instances}
    assert [i.name for i in exact] == ["prod-orders"]


async def test_throttling_then_success_is_retried_after_retry_after(
    sim: RunningSimulator,
) -> None:
    sim.set_faults(Faults(throttle_first=2, retry_after_s=0))
    delays = Delays()
    client = client_for(sim, delays=delays)
    try:
        page = await client.list_tasks(ref(sim, "prod-orders"))
    finally:
        await client.aclose()
    assert len(page.tasks) == 10
    assert sim.stats["fault_throttle"] == 2 and sim.stats["list_tasks"] == 3
    assert delays.asked == [0.0, 0.0]


async def test_throttling_that_never_stops_is_a_throttled_error(sim: RunningSimulator) -> None:
    sim.set_faults(Faults(throttle_first=100, retry_after_s=0))
    client = client_for(sim)
    try:
        with pytest.raises(DmsThrottledError) as caught:
            await client.list_tasks(ref(sim, "prod-orders"))
    finally:
        await client.aclose()
    assert caught.value.error_code == "APIGW.0308" and caught.value.request_id
    assert sim.stats["list_tasks"] == 4


async def test_persistent_server_error_is_a_clear_unavailable_error(
    sim: RunningSimulator,
) -> None:
    sim.set_faults(Faults(error_first=100))
    client = client_for(sim)
    try:
        with pytest.raises(DmsUnavailableError) as caught:
            await client.list_tasks(ref(sim, "prod-orders"))
    finally:
        await client.aclose()
    error = caught.value
    assert error.kind is DmsErrorKind.SERVER_ERROR and error.status == 500
    assert error.attempts == 4 and error.retried
    assert error.error_code == "DMS.00500000" and error.request_id
    assert error.endpoint == sim.url
    problem = problem_for(error)
    assert "answered HTTP 500" in problem.summary and "tried 4 times" in problem.hint
    assert "status page" in problem.hint
    assert sim.stats["list_tasks"] == 4


async def test_a_single_server_error_or_dropped_connection_is_survived(
    sim: RunningSimulator,
) -> None:
    client = client_for(sim)
    try:
        sim.set_faults(Faults(error_first=1))
        assert len((await client.list_tasks(ref(sim, "prod-orders"))).tasks) == 10
        sim.set_faults(Faults(drop_first=1))
        assert len((await client.list_tasks(ref(sim, "prod-orders"))).tasks) == 10
    finally:
        await client.aclose()
    assert sim.stats["fault_error"] == 1 and sim.stats["fault_drop"] == 1
    assert sim.stats["list_tasks"] == 4


async def test_timeout_is_a_clear_unavailable_error(sim: RunningSimulator) -> None:
    sim.set_faults(Faults(latency_ms=1000))
    client = client_for(
        sim,
        timeout=0.2,
        retry=RetryPolicy(attempts=2, base_delay_s=0.01, max_delay_s=0.01, budget_s=1.0),
    )
    try:
        with pytest.raises(DmsUnavailableError) as caught:
            await client.list_tasks(ref(sim, "prod-orders"))
    finally:
        await client.aclose()
    assert caught.value.kind is DmsErrorKind.TIMEOUT and caught.value.attempts == 2
    summary = problem_for(caught.value).summary
    assert "timed out after 0.2 s" in summary and "prod-orders" in summary


async def test_malformed_json_is_retried_then_a_clear_error(sim: RunningSimulator) -> None:
    client = client_for(sim)
    try:
        sim.set_faults(Faults(malformed_first=1))
        assert len((await client.list_tasks(ref(sim, "prod-orders"))).tasks) == 10
        sim.set_faults(Faults(malformed_first=100))
        with pytest.raises(DmsUnavailableError) as caught:
            await client.list_tasks(ref(sim, "prod-orders"))
    finally:
        await client.aclose()
    assert caught.value.kind is DmsErrorKind.MALFORMED
    assert "returned a malformed response" in problem_for(caught.value).summary
    assert len(str(caught.value)) < 400
    assert sim.stats["fault_malformed"] == 5


async def test_wrong_secret_key_is_refused_once_and_never_retried(
    sim: RunningSimulator,
) -> None:
    client = client_for(sim, sk="not-the-secret-key")
    try:
        with pytest.raises(DmsAuthError) as caught:
            await client.list_tasks(ref(sim, "prod-orders"))
    finally:
        await client.aclose()
    error = caught.value
    assert sim.stats["list_tasks"] == 1 and sim.stats["rejected_auth"] == 1
    assert error.kind is DmsErrorKind.CREDENTIALS_REJECTED and not error.retried
    assert problem_for(error).summary == "Huawei Cloud rejected the bot's credentials."
    assert "HUAWEICLOUD_SDK_AK" in problem_for(error).hint
    assert error.error_code == "APIGW.0301" and error.request_id
    assert "not-the-secret-key" not in str(error) + repr(error)


async def test_unknown_instance_is_not_found_with_code_and_request_id(
    sim: RunningSimulator,
) -> None:
    missing = InstanceRef(
        instance_id="00000000-0000-4000-8000-000000000000",
        project_id=DEMO_PROJECT_ID,
        region=DEMO_REGION,
    )
    client = client_for(sim)
    try:
        with pytest.raises(DmsNotFoundError) as caught:
            await client.fetch_window(missing, None, None)
    finally:
        await client.aclose()
    error = caught.value
    assert error.error_code == "DMS.00404022"
    assert error.request_id and error.request_id in str(error)
    assert error.kind is DmsErrorKind.INSTANCE_NOT_FOUND
    assert (error.project_id, error.region) == (DEMO_PROJECT_ID, DEMO_REGION)
    assert f"project {DEMO_PROJECT_ID}, region {DEMO_REGION}" in problem_for(error).summary
    assert sim.stats["list_tasks"] == 1


async def test_unknown_task_is_not_found(sim: RunningSimulator) -> None:
    client = client_for(sim)
    try:
        with pytest.raises(DmsNotFoundError) as caught:
            await client.show_task(ref(sim, "prod-orders"), "0" * 32)
    finally:
        await client.aclose()
    error = caught.value
    assert (error.operation, error.kind) == (DmsOperation.SHOW_TASK, DmsErrorKind.TASK_NOT_FOUND)
    assert problem_for(error).summary == f"Task {'0' * 32} was not found on instance prod-orders."
    assert sim.stats["show_task"] == 1


async def test_malformed_instance_id_is_a_bad_request(sim: RunningSimulator) -> None:
    bad = InstanceRef(instance_id="not-a-uuid", project_id=DEMO_PROJECT_ID, region=DEMO_REGION)
    client = client_for(sim)
    try:
        with pytest.raises(DmsBadRequestError) as caught:
            await client.list_tasks(bad)
    finally:
        await client.aclose()
    assert caught.value.error_code == "DMS.00400061"
    assert sim.stats["list_tasks"] == 1


async def test_iam_token_auth_works_and_survives_revocation(sim: RunningSimulator) -> None:
    auth = IamTokenAuth(sim.url, DEMO_IAM_USER, DEMO_IAM_PASSWORD, DEMO_IAM_DOMAIN, DEMO_PROJECT_ID)
    client = client_for(sim, auth=auth)
    try:
        pages = await asyncio.gather(
            *(client.list_tasks(ref(sim, "prod-orders")) for _ in range(10))
        )
        assert auth.token_requests == 1
        sim.revoke_tokens()
        again = await client.list_tasks(ref(sim, "prod-orders"))
    finally:
        await client.aclose()
    assert all(len(p.tasks) == 10 for p in pages) and len(again.tasks) == 10
    assert auth.token_requests == 2
    assert sim.stats["list_tasks"] == 12


async def test_wrong_iam_password_is_an_auth_error_without_dms_calls(
    sim: RunningSimulator,
) -> None:
    auth = IamTokenAuth(sim.url, DEMO_IAM_USER, "wrong-password", DEMO_IAM_DOMAIN, DEMO_PROJECT_ID)
    client = client_for(sim, auth=auth)
    try:
        with pytest.raises(DmsAuthError) as caught:
            await client.list_tasks(ref(sim, "prod-orders"))
    finally:
        await client.aclose()
    assert caught.value.operation is DmsOperation.IAM_TOKEN
    assert "DMS_IAM_PASSWORD" in problem_for(caught.value).hint
    assert "wrong-password" not in str(caught.value) + repr(caught.value)
    assert sim.stats["list_tasks"] == 0 and auth.token_requests == 1


async def test_cache_coalesces_concurrent_windows_into_one_upstream_fetch(
    sim: RunningSimulator,
) -> None:
    end = whole_seconds(sim.anchor - timedelta(hours=1))
    begin = end - timedelta(days=2)
    pages = math.ceil(len(simulator_ids(sim, "bulk-audit", begin, end)) / 100)
    client = client_for(sim)
    cache = TaskCache(client)
    try:
        results = await asyncio.gather(
            *(cache.window(ref(sim, "bulk-audit"), begin, end) for _ in range(50))
        )
        again = await cache.window(ref(sim, "bulk-audit"), begin, end)
    finally:
        await client.aclose()
    assert cache.stats.window_fetches == 1
    assert sim.stats["list_tasks"] == pages
    assert len({len(r.value.tasks) for r in results}) == 1
    assert again.from_cache
    assert again.fetched_at <= datetime.now(UTC)


async def test_progress_of_a_running_scale_task_and_none_for_an_unknown_task(
    sim: RunningSimulator,
) -> None:
    created = datetime.now(UTC) - timedelta(minutes=3)
    task = sim.add_task("prod-orders", "extendBroker", "EXECUTING", created=created)
    client = client_for(sim)
    try:
        progress = await client.task_progress(ref(sim, "prod-orders"), task["id"])
        assert progress is not None
        assert 0 < progress.percentage < 100 and progress.remain_s and progress.remain_s > 0
        assert progress.current_step is not None
        sim.set_task_status(task["id"], "SUCCESS")
        done = await client.task_progress(ref(sim, "prod-orders"), task["id"])
        assert done is not None and (done.percentage, done.remain_s) == (100, 0)
        assert await client.task_progress(ref(sim, "prod-orders"), "no-such-task") is None
    finally:
        await client.aclose()
