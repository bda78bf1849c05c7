"""Extra simulated instances for load figures (SimulatorConfig.extra_instances and the
`simulate --extra-instances` flags), and the request counts per instance
(GET /_sim/stats/instances): the seeded instances and their data stay as they were."""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest

from bot.simulator import (
    RunningSimulator,
    SimulatorConfig,
    add_cli_arguments,
    config_from_cli,
    start_simulator,
)
from bot.simulator.state import RunningSimulator as State
from tests.simfixtures import FIXED_NOW, api_time, created, signed_client, tasks_path

SEEDED = ("prod-orders", "prod-orders-dr", "prod-billing", "staging-events", "bulk-audit")


def parse_cli(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_cli_arguments(parser)
    return parser.parse_args(list(argv))


def test_no_extra_instances_by_default_and_the_seeded_data_is_unchanged() -> None:
    plain = State(SimulatorConfig(now=FIXED_NOW, bulk_tasks=40))
    extended = State(
        SimulatorConfig(
            now=FIXED_NOW, bulk_tasks=40, extra_instances=3, tasks_per_extra=50, running_per_extra=2
        )
    )
    assert [i.name for i in plain.instances] == [*SEEDED, "edge-cases"]
    assert extended.instances[: len(plain.instances)] == plain.instances
    assert [i.name for i in extended.instances[len(plain.instances) :]] == [
        "extra-001",
        "extra-002",
        "extra-003",
    ]


def test_extra_instances_hold_their_tasks_running_ones_included() -> None:
    config = SimulatorConfig(
        now=FIXED_NOW, extra_instances=4, tasks_per_extra=300, running_per_extra=3
    )
    sim = State(config)
    extras = [i for i in sim.instances if i.name.startswith("extra-")]
    assert len(extras) == 4
    assert len({i.instance_id for i in sim.instances}) == len(sim.instances)
    for inst in extras:
        assert len(inst.tasks) == 300
        assert len({t["id"] for t in inst.tasks}) == 300
        running = [t for t in inst.tasks if t["status"] == "EXECUTING"]
        assert len(running) == 3
        for task in running:
            assert timedelta(hours=1) <= FIXED_NOW - created(task) <= timedelta(hours=3)
        settled = [t for t in inst.tasks if t["status"] != "EXECUTING"]
        assert all(
            timedelta(minutes=45) <= FIXED_NOW - created(t) <= timedelta(days=14) for t in settled
        )
        times = [created(t) for t in inst.tasks]
        assert times == sorted(times, reverse=True)  # newest first, as the API lists them
    # Each instance draws its own data, the same in every run.
    again = State(config)
    assert [i.tasks for i in again.instances] == [i.tasks for i in sim.instances]
    assert extras[0].tasks != extras[1].tasks


def test_the_span_of_extra_tasks_can_be_set() -> None:
    sim = State(
        SimulatorConfig(now=FIXED_NOW, extra_instances=1, tasks_per_extra=200, extra_span_days=2)
    )
    extra = sim.instance("extra-001")
    assert all(FIXED_NOW - created(t) <= timedelta(days=2) for t in extra.tasks)


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"extra_instances": -1}, "extra_instances"),
        ({"extra_instances": 1001}, "extra_instances"),
        ({"tasks_per_extra": -5}, "tasks_per_extra"),
        ({"extra_span_days": 0}, "extra_span_days"),
        ({"running_per_extra": 101, "tasks_per_extra": 500}, "running_per_extra"),
        ({"running_per_extra": 6, "tasks_per_extra": 5}, "running_per_extra"),
    ],
)
def test_bad_extra_settings_are_refused(fields: dict[str, float], named: str) -> None:
    with pytest.raises(ValueError, match=named):
        SimulatorConfig(**fields)  # type: ignore[arg-type]


def test_cli_flags_set_the_extra_instances() -> None:
    config = config_from_cli(
        parse_cli(
            "--extra-instances",
            "20",
            "--tasks-per-extra",
            "500",
            "--extra-span-days",
            "7",
            "--running-per-extra",
            "2",
        ),
        None,
        None,
        None,
    )
    assert (config.extra_instances, config.tasks_per_extra) == (20, 500)
    assert (config.extra_span_days, config.running_per_extra) == (7.0, 2)
    default = config_from_cli(parse_cli(), None, None, None)
    assert default.extra_instances == 0
    with pytest.raises(ValueError, match="--tasks-per-extra must be from 0"):
        config_from_cli(parse_cli("--tasks-per-extra", "-1"), None, None, None)
    with pytest.raises(ValueError, match="--running-per-extra must be"):
        config_from_cli(
            parse_cli("--tasks-per-extra", "2", "--running-per-extra", "3"), None, None, None
        )


@pytest.fixture
async def sim() -> AsyncIterator[RunningSimulator]:
    config = SimulatorConfig(
        now=FIXED_NOW, bulk_tasks=10, extra_instances=2, tasks_per_extra=250, running_per_extra=1
    )
    async with start_simulator(config) as running:
        yield running


async def test_extra_instances_are_served_and_counted_per_instance(sim: RunningSimulator) -> None:
    first, second = sim.instance("extra-001"), sim.instance("extra-002")
    async with signed_client(sim) as api, httpx.AsyncClient(base_url=sim.url) as control:
        listed = (await api.get(f"/v2/{sim.config.project_id}/instances")).json()
        assert {"extra-001", "extra-002"} <= {i["name"] for i in listed["instances"]}
        window = {
            "begin_time": api_time(FIXED_NOW - timedelta(days=30)),
            "end_time": api_time(FIXED_NOW + timedelta(minutes=1)),
        }
        for start in (1, 101, 201):
            page = await api.get(
                tasks_path(first.instance_id), params={**window, "start": start, "limit": 100}
            )
            assert page.json()["task_count"] == "250"
        running = next(t for t in second.tasks if t["status"] == "EXECUTING")
        shown = await api.get(f"{tasks_path(second.instance_id)}/{running['id']}")
        assert shown.json()["tasks"][0]["status"] == "EXECUTING"
        per_instance = (await control.get("/_sim/stats/instances")).json()
        assert per_instance == {
            first.instance_id: {"list_tasks": 3},
            second.instance_id: {"show_task": 1},
        }
        # The totals per route are as they always were.
        stats = (await control.get("/_sim/stats")).json()
        assert stats == {"list_instances": 1, "list_tasks": 3, "show_task": 1}
        await control.post("/_sim/reset")
        assert (await control.get("/_sim/stats/instances")).json() == {}
        assert sim.instance_counts() == {}
