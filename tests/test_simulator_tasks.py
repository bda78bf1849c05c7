"""Tasks that happen while a test runs: the simulator's /_sim/tasks routes add a task and move
one on, and the API then lists and shows it as the cloud would."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from bot.simulator import RunningSimulator, SimulatorConfig, start_simulator
from tests.simfixtures import instance_id, signed_client, tasks_path


@pytest.fixture
async def sim() -> AsyncIterator[RunningSimulator]:
    async with start_simulator(SimulatorConfig()) as running:
        yield running


async def test_an_added_task_is_listed_newest_first_and_its_status_moves_on(
    sim: RunningSimulator,
) -> None:
    orders = instance_id(sim, "prod-orders")
    async with httpx.AsyncClient(base_url=sim.url) as control, signed_client(sim) as api:
        added = await control.post(
            "/_sim/tasks",
            json={"instance": "prod-orders", "name": "extendBroker", "params": {"new": 5}},
        )
        assert added.status_code == 200, added.text
        task = added.json()
        assert task["status"] == "EXECUTING" and task["params"] == '{"new":5}'
        listed = (await api.get(tasks_path(orders), params={"limit": 1})).json()
        assert listed["tasks"][0]["id"] == task["id"]

        moved = await control.post(f"/_sim/tasks/{task['id']}", json={"status": "SUCCESS"})
        assert moved.status_code == 200
        shown = (await api.get(f"{tasks_path(orders)}/{task['id']}")).json()
        assert shown["tasks"][0]["status"] == "SUCCESS"
        assert shown["tasks"][0]["updated_at"] >= task["updated_at"]
        progress = (await api.get(f"{tasks_path(orders)}/{task['id']}/progress")).json()
        assert progress["progress_percentage"] == 100


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/_sim/tasks", {"instance": "no-such-instance", "name": "x"}),
        ("/_sim/tasks", {"name": "x"}),
        ("/_sim/tasks", {"instance": "prod-orders", "name": "x", "status": "DONE"}),
        ("/_sim/tasks/0000", {"status": "SUCCESS"}),
        ("/_sim/tasks/0000", {}),
    ],
)
async def test_bad_task_control_requests_are_400_with_the_expected_shape(
    sim: RunningSimulator, path: str, body: dict[str, str]
) -> None:
    async with httpx.AsyncClient(base_url=sim.url) as control:
        answer = await control.post(path, json=body)
    assert answer.status_code == 400
    assert "error" in answer.json()


def test_set_task_status_in_process(sim: RunningSimulator) -> None:
    task = sim.add_task("prod-orders", "createTopic", "CREATED")
    assert sim.set_task_status(task["id"], "FAILED")["status"] == "FAILED"
    assert sim.instance("prod-orders").find_task(task["id"]) is task
