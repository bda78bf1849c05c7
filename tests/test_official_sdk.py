"""The official huaweicloudsdkkafka client, unchanged, against the simulator: if the real SDK can
talk to it, the simulator speaks the real API's shapes, paths, signing and error format."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.exceptions.exceptions import (
    ClientRequestException,
    ServerResponseException,
)
from huaweicloudsdkcore.http.http_config import HttpConfig
from huaweicloudsdkkafka.v2 import (
    DeleteBackgroundTaskRequest,
    KafkaClient,
    ListBackgroundTasksRequest,
    ListInstancesRequest,
    ShowBackgroundTaskProgressRequest,
    ShowBackgroundTaskRequest,
)

from bot.simulator import (
    DEMO_AK,
    DEMO_PROJECT_ID,
    DEMO_SK,
    Faults,
    RunningSimulator,
    SimulatorConfig,
    SimulatorThread,
)
from tests.simfixtures import FIXED_NOW, api_time, created


@pytest.fixture(scope="module")
def sim() -> Iterator[RunningSimulator]:
    with SimulatorThread(SimulatorConfig(now=FIXED_NOW, bulk_tasks=120)) as running:
        yield running


@pytest.fixture(autouse=True)
def clean_faults(sim: RunningSimulator) -> Iterator[None]:
    sim.set_faults(Faults())
    yield
    sim.set_faults(Faults())


def kafka_client(sim: RunningSimulator, sk: str = DEMO_SK) -> KafkaClient:
    config = HttpConfig.get_default_config()
    config.ignore_ssl_verification = True
    config.timeout = (5, 10)
    return (
        KafkaClient.new_builder()
        .with_http_config(config)
        .with_credentials(BasicCredentials(DEMO_AK, sk, DEMO_PROJECT_ID))
        .with_endpoints([sim.url])
        .build()
    )


@pytest.fixture(scope="module")
def client(sim: RunningSimulator) -> KafkaClient:
    return kafka_client(sim)


def test_list_background_tasks_pages_through_everything(
    sim: RunningSimulator, client: KafkaClient
) -> None:
    inst = sim.instance("prod-billing")
    seen: list[str] = []
    start = 1
    while True:
        response = client.list_background_tasks(
            ListBackgroundTasksRequest(instance_id=inst.instance_id, start=start, limit=50)
        )
        assert response.task_count == str(len(inst.tasks))
        seen += [t.id for t in response.tasks]
        start += len(response.tasks)
        if not response.tasks:
            break
    assert seen == [t["id"] for t in inst.tasks]


def test_list_background_tasks_with_a_time_window(
    sim: RunningSimulator, client: KafkaClient
) -> None:
    inst = sim.instance("prod-orders")
    begin, end = FIXED_NOW - timedelta(days=2), FIXED_NOW - timedelta(hours=6)
    expected = [t for t in inst.tasks if begin <= created(t) < end]
    response = client.list_background_tasks(
        ListBackgroundTasksRequest(
            instance_id=inst.instance_id,
            start=1,
            limit=100,
            begin_time=api_time(begin),
            end_time=api_time(end),
        )
    )
    assert response.task_count == str(len(expected))
    first = response.tasks[0]
    assert (first.id, first.name, first.status, first.params, first.created_at) == (
        expected[0]["id"],
        expected[0]["name"],
        expected[0]["status"],
        expected[0]["params"],
        expected[0]["created_at"],
    )


def test_show_background_task(sim: RunningSimulator, client: KafkaClient) -> None:
    inst = sim.instance("edge-cases")
    task = next(t for t in inst.tasks if t["user_name"] == "<!channel>")
    response = client.show_background_task(
        ShowBackgroundTaskRequest(instance_id=inst.instance_id, task_id=task["id"])
    )
    assert response.task_count == "1"
    assert response.tasks[0].user_name == "<!channel>"
    assert response.tasks[0].params == task["params"]


def test_show_background_task_progress(sim: RunningSimulator, client: KafkaClient) -> None:
    inst = sim.instance("prod-orders")
    running = next(t for t in inst.tasks if t["status"] == "EXECUTING")
    response = client.show_background_task_progress(
        ShowBackgroundTaskProgressRequest(instance_id=inst.instance_id, task_id=running["id"])
    )
    assert 0 <= response.progress_percentage < 100
    assert response.step_list and response.step_list[0].statue == "SUCCESS"


def test_delete_background_task(sim: RunningSimulator, client: KafkaClient) -> None:
    inst = sim.instance("staging-events")
    victim = next(t for t in inst.tasks if t["status"] == "FAILED")
    before = len(inst.tasks)
    response = client.delete_background_task(
        DeleteBackgroundTaskRequest(instance_id=inst.instance_id, task_id=victim["id"])
    )
    assert response.status_code == 204
    assert len(inst.tasks) == before - 1
    with pytest.raises(ClientRequestException) as raised:
        client.show_background_task(
            ShowBackgroundTaskRequest(instance_id=inst.instance_id, task_id=victim["id"])
        )
    assert raised.value.status_code == 404


def test_list_instances_by_name(sim: RunningSimulator, client: KafkaClient) -> None:
    fuzzy = client.list_instances(ListInstancesRequest(engine="kafka", name="prod"))
    assert fuzzy.instance_num == 3
    assert {i.name for i in fuzzy.instances} == {"prod-orders", "prod-orders-dr", "prod-billing"}
    exact = client.list_instances(
        ListInstancesRequest(engine="kafka", name="prod-orders", exact_match_name="true")
    )
    assert [i.instance_id for i in exact.instances] == [sim.instance("prod-orders").instance_id]
    assert exact.instances[0].created_at.isdigit()
    paged = client.list_instances(ListInstancesRequest(engine="kafka", offset="2", limit="2"))
    assert paged.instance_num == len(sim.instances) and len(paged.instances) == 2


def test_unknown_instance_maps_to_client_request_exception(client: KafkaClient) -> None:
    with pytest.raises(ClientRequestException) as raised:
        client.list_background_tasks(
            ListBackgroundTasksRequest(instance_id="3f9a1c52-0000-4000-8000-000000000000")
        )
    assert raised.value.status_code == 404
    assert raised.value.error_code == "DMS.00404022"
    assert raised.value.request_id and len(raised.value.request_id) == 32


def test_wrong_secret_key_maps_to_apigw_0301(sim: RunningSimulator) -> None:
    bad = kafka_client(sim, sk="not-the-secret")
    with pytest.raises(ClientRequestException) as raised:
        bad.list_instances(ListInstancesRequest(engine="kafka"))
    assert raised.value.status_code == 401
    assert raised.value.error_code == "APIGW.0301"


def test_bad_page_size_maps_to_its_code(sim: RunningSimulator, client: KafkaClient) -> None:
    with pytest.raises(ClientRequestException) as raised:
        client.list_background_tasks(
            ListBackgroundTasksRequest(
                instance_id=sim.instance("prod-orders").instance_id, limit=500
            )
        )
    assert (raised.value.status_code, raised.value.error_code) == (400, "DMS.10240042")


def test_faults_reach_the_sdk_as_its_own_exceptions(
    sim: RunningSimulator, client: KafkaClient
) -> None:
    request = ListBackgroundTasksRequest(instance_id=sim.instance("prod-orders").instance_id)
    sim.set_faults(Faults(throttle_first=1, error_first=1))
    # With retries off, urllib3 turns a 429 into a RetryError the SDK reports as code "429".
    with pytest.raises(ClientRequestException) as throttled:
        client.list_background_tasks(request)
    assert throttled.value.status_code == 429
    with pytest.raises(ServerResponseException) as failed:
        client.list_background_tasks(request)
    assert (failed.value.status_code, failed.value.error_code) == (500, "DMS.00500000")
    assert client.list_background_tasks(request).task_count


def test_sdk_retries_honour_retry_after(sim: RunningSimulator) -> None:
    config = HttpConfig.get_default_config()
    config.retry_times = 2
    retrying = (
        KafkaClient.new_builder()
        .with_http_config(config)
        .with_credentials(BasicCredentials(DEMO_AK, DEMO_SK, DEMO_PROJECT_ID))
        .with_endpoints([sim.url])
        .build()
    )
    sim.set_faults(Faults(throttle_first=2, retry_after_s=0))
    sim.reset_stats()
    response = retrying.list_background_tasks(
        ListBackgroundTasksRequest(instance_id=sim.instance("prod-orders").instance_id, limit=1)
    )
    assert len(response.tasks) == 1
    assert sim.stats["fault_throttle"] == 2 and sim.stats["list_tasks"] == 3
