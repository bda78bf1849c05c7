"""The simulator's paging modes over real loopback HTTP: how the task list reads start, offset
and limit under "start", "offset" and "clamp50", and how the mode is chosen."""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import httpx
import pytest

from bot.simulator import (
    RunningSimulator,
    SimulatorConfig,
    add_cli_arguments,
    config_from_cli,
    start_simulator,
)
from tests.simfixtures import FIXED_NOW, api_time, instance_id, signed_client, tasks_path

# prod-orders holds a few hundred tasks: enough for several pages of 100.
INSTANCE = "prod-orders"


@asynccontextmanager
async def paged(mode: str) -> AsyncIterator[tuple[RunningSimulator, httpx.AsyncClient]]:
    config = SimulatorConfig(now=FIXED_NOW, bulk_tasks=10, paging=mode)
    async with start_simulator(config) as sim, signed_client(sim) as client:
        yield sim, client


def ids(tasks: list[dict[str, Any]]) -> list[str]:
    return [t["id"] for t in tasks]


def all_ids(sim: RunningSimulator) -> list[str]:
    return ids(sim.instance(INSTANCE).tasks)


async def page(
    sim: RunningSimulator, client: httpx.AsyncClient, **params: str | int
) -> dict[str, Any]:
    response = await client.get(tasks_path(instance_id(sim, INSTANCE)), params=params)
    assert response.status_code == 200, response.text
    return response.json()


async def error_code(
    sim: RunningSimulator, client: httpx.AsyncClient, **params: str | int
) -> tuple[int, str]:
    response = await client.get(tasks_path(instance_id(sim, INSTANCE)), params=params)
    return response.status_code, response.json()["error_code"]


# -- start (the default) ------------------------------------------------------------------------


async def test_start_mode_is_the_default_and_ignores_offset() -> None:
    assert SimulatorConfig().paging == "start"
    async with paged("start") as (sim, client):
        body = await page(sim, client, start=11, limit=10, offset=500)
        assert ids(body["tasks"]) == all_ids(sim)[10:20]
        assert body["task_count"] == str(len(all_ids(sim)))
        # An offset the mode does not read is not checked either.
        assert ids((await page(sim, client, offset=-4))["tasks"]) == all_ids(sim)[:10]


# -- offset -------------------------------------------------------------------------------------


async def test_offset_mode_reads_a_zero_based_offset() -> None:
    async with paged("offset") as (sim, client):
        assert ids((await page(sim, client))["tasks"]) == all_ids(sim)[:10]
        assert ids((await page(sim, client, offset=0, limit=5))["tasks"]) == all_ids(sim)[:5]
        body = await page(sim, client, offset=10, limit=10)
        assert ids(body["tasks"]) == all_ids(sim)[10:20]
        assert body["task_count"] == str(len(all_ids(sim)))


async def test_offset_mode_ignores_start_so_start_paging_repeats_page_one() -> None:
    async with paged("offset") as (sim, client):
        first = await page(sim, client, start=1, limit=10)
        for start in (11, 21, 301):
            again = await page(sim, client, start=start, limit=10)
            assert ids(again["tasks"]) == ids(first["tasks"]) == all_ids(sim)[:10]
            assert again["task_count"] == str(len(all_ids(sim)))
        # A start the API would refuse is not even looked at.
        assert ids((await page(sim, client, start=0))["tasks"]) == all_ids(sim)[:10]


async def test_offset_mode_walks_every_task_by_offset() -> None:
    async with paged("offset") as (sim, client):
        seen: list[str] = []
        while True:
            body = await page(sim, client, offset=len(seen), limit=100)
            if not body["tasks"]:
                break
            seen += ids(body["tasks"])
        assert seen == all_ids(sim) and int(body["task_count"]) == len(seen)


async def test_offset_mode_refuses_bad_values_as_the_api_does() -> None:
    async with paged("offset") as (sim, client):
        assert await error_code(sim, client, offset=-1) == (400, "DMS.00400062")
        assert await error_code(sim, client, offset="ten") == (400, "DMS.00400062")
        assert await error_code(sim, client, limit=101) == (400, "DMS.10240042")
        assert await error_code(sim, client, limit=0) == (400, "DMS.00400062")
        total = len(all_ids(sim))
        assert await page(sim, client, offset=total) == {"task_count": str(total), "tasks": []}


# -- clamp50 ------------------------------------------------------------------------------------


async def test_clamp50_caps_the_page_but_not_the_total() -> None:
    async with paged("clamp50") as (sim, client):
        total = str(len(all_ids(sim)))
        body = await page(sim, client, start=1, limit=100)
        assert ids(body["tasks"]) == all_ids(sim)[:50] and body["task_count"] == total
        body = await page(sim, client, start=51, limit=100)
        assert ids(body["tasks"]) == all_ids(sim)[50:100] and body["task_count"] == total
        assert ids((await page(sim, client, limit=30))["tasks"]) == all_ids(sim)[:30]
        assert len((await page(sim, client, limit=50))["tasks"]) == 50


async def test_clamp50_still_refuses_what_the_api_refuses() -> None:
    async with paged("clamp50") as (sim, client):
        assert await error_code(sim, client, limit=101) == (400, "DMS.10240042")
        assert await error_code(sim, client, start=0) == (400, "DMS.00400062")


async def test_clamp50_walk_stepping_by_what_came_back_sees_everything() -> None:
    async with paged("clamp50") as (sim, client):
        seen: list[str] = []
        while True:
            body = await page(sim, client, start=len(seen) + 1, limit=100)
            seen += ids(body["tasks"])
            if not body["tasks"] or len(seen) >= int(body["task_count"]):
                break
        assert seen == all_ids(sim)


# -- every mode ---------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["start", "offset", "clamp50"])
async def test_task_count_is_the_window_total_in_every_mode(mode: str) -> None:
    async with paged(mode) as (sim, client):
        begin = FIXED_NOW - timedelta(days=3)
        inst = sim.instance(INSTANCE)
        in_window = [t["id"] for t in inst.tasks if inst.created_of(t) >= begin]
        assert len(in_window) > 60
        body = await page(sim, client, limit=100, begin_time=api_time(begin))
        assert body["task_count"] == str(len(in_window))
        assert ids(body["tasks"]) == in_window[: 50 if mode == "clamp50" else 100]


# -- choosing the mode --------------------------------------------------------------------------


async def test_control_route_switches_the_mode_of_a_running_server() -> None:
    async with paged("start") as (sim, client), httpx.AsyncClient(base_url=sim.url) as control:
        assert (await control.get("/_sim/paging")).json() == {"mode": "start"}
        switched = await control.post("/_sim/paging", json={"mode": "offset"})
        assert switched.status_code == 200 and switched.json() == {"mode": "offset"}
        assert sim.paging == "offset"
        assert ids((await page(sim, client, start=11))["tasks"]) == all_ids(sim)[:10]
        sim.set_paging("clamp50")
        assert (await control.get("/_sim/paging")).json() == {"mode": "clamp50"}
        assert len((await page(sim, client, limit=100))["tasks"]) == 50


@pytest.mark.parametrize(
    "body", ['{"mode": "pages"}', '{"mode": 1}', "{}", '["offset"]', "not json"]
)
async def test_bad_paging_settings_are_refused(body: str) -> None:
    async with paged("start") as (sim, _), httpx.AsyncClient(base_url=sim.url) as control:
        response = await control.post("/_sim/paging", content=body)
        assert response.status_code == 400 and response.json()["error"]
        assert sim.paging == "start"


def test_an_unknown_mode_is_refused_by_the_config_and_the_knob() -> None:
    with pytest.raises(ValueError, match="paging must be one of"):
        SimulatorConfig(paging="pages")
    with pytest.raises(ValueError, match="paging must be one of"):
        RunningSimulator(SimulatorConfig(now=FIXED_NOW, bulk_tasks=1)).set_paging("Offset")


def parse_cli(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_cli_arguments(parser)
    return parser.parse_args(list(argv))


@pytest.mark.parametrize("mode", ["start", "offset", "clamp50"])
def test_cli_flag_sets_the_mode(mode: str) -> None:
    assert config_from_cli(parse_cli("--paging", mode), None, None, None).paging == mode


def test_cli_default_is_start_and_other_modes_are_refused(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert config_from_cli(parse_cli(), None, None, None).paging == "start"
    with pytest.raises(SystemExit):
        parse_cli("--paging", "pages")
    assert "invalid choice" in capsys.readouterr().err
