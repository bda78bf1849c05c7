"""fetch_window cannot lose tasks however the gateway reads the paging arguments: against the
simulator in each paging mode (start, offset, clamp50) over loopback HTTP, and against tiny
httpx.MockTransport gateways that count more than they return or ignore every parameter."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from bot.dms.auth import AkSkAuth
from bot.dms.cache import TaskCache
from bot.dms.client import DmsClient
from bot.domain.instances import InstanceRef
from bot.simulator import (
    DEMO_AK,
    DEMO_PROJECT_ID,
    DEMO_REGION,
    DEMO_SK,
    RunningSimulator,
    SimulatorConfig,
    start_simulator,
)
from tests.simfixtures import FIXED_NOW
from tests.test_client_unit import REF, make_client, task_dict

WINDOW = 250
INSTANCE = "bulk-audit"
PAGING_LOG = "bot.dms.paging"


class Recorder:
    """The paging arguments of every task-list request the client sends."""

    def __init__(self) -> None:
        self.requests: list[dict[str, str]] = []

    async def __call__(self, request: httpx.Request) -> None:
        if request.url.path.endswith("/tasks"):
            self.requests.append(dict(request.url.params))

    @property
    def paging(self) -> list[tuple[str, int]]:
        """(parameter, value) of each request: ("start", 101) or ("offset", 100)."""
        found = []
        for params in self.requests:
            name = "offset" if "offset" in params else "start"
            found.append((name, int(params[name])))
        return found

    def clear(self) -> None:
        self.requests.clear()


@asynccontextmanager
async def simulated(
    mode: str,
) -> AsyncIterator[tuple[RunningSimulator, DmsClient, Recorder]]:
    recorder = Recorder()
    config = SimulatorConfig(now=FIXED_NOW, bulk_tasks=WINDOW, paging=mode)
    async with start_simulator(config) as sim:
        client = DmsClient(
            auth=AkSkAuth(DEMO_AK, DEMO_SK),
            endpoint_for=lambda region: sim.url,
            http=httpx.AsyncClient(event_hooks={"request": [recorder]}, timeout=10),
        )
        try:
            yield sim, client, recorder
        finally:
            await client.aclose()


def ref(sim: RunningSimulator) -> InstanceRef:
    return InstanceRef(
        instance_id=sim.instance(INSTANCE).instance_id,
        project_id=DEMO_PROJECT_ID,
        region=DEMO_REGION,
        name=INSTANCE,
    )


def simulator_ids(sim: RunningSimulator) -> list[str]:
    return [t["id"] for t in sim.instance(INSTANCE).tasks]


def paging_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == PAGING_LOG]


# ---- the simulator's paging modes ----------------------------------------------------------------


async def test_start_mode_pages_by_start_in_one_concurrent_round() -> None:
    async with simulated("start") as (sim, client, recorder):
        window = await client.fetch_window(ref(sim), None, None)
    assert [t.id for t in window.tasks] == simulator_ids(sim)
    assert len(window.tasks) == window.reported_total == WINDOW
    assert sorted(recorder.paging) == [("start", 1), ("start", 101), ("start", 201)]
    assert {r["limit"] for r in recorder.requests} == {"100"}


async def test_offset_mode_switches_to_offset_once_and_remembers_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="bot.dms")
    async with simulated("offset") as (sim, client, recorder):
        first = await client.fetch_window(ref(sim), None, None)
        # The later `start` pages repeated page one; the same positions again by `offset`.
        assert recorder.paging[0] == ("start", 1)
        assert sorted(recorder.paging[1:3]) == [("start", 101), ("start", 201)]
        assert sorted(recorder.paging[3:]) == [("offset", 100), ("offset", 200)]
        recorder.clear()
        again = await client.fetch_window(ref(sim), None, None)
    assert [t.id for t in first.tasks] == [t.id for t in again.tasks] == simulator_ids(sim)
    assert first.reported_total == again.reported_total == WINDOW
    # Remembered for the endpoint: the second window asks by offset from its first page on.
    assert sorted(recorder.paging) == [("offset", 0), ("offset", 100), ("offset", 200)]
    (warning,) = [r for r in paging_records(caplog) if r.levelno == logging.WARNING]
    assert "`offset`" in warning.getMessage() and sim.url in warning.getMessage()


async def test_clamp50_mode_steps_by_what_came_back(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="bot.dms")
    async with simulated("clamp50") as (sim, client, recorder):
        window = await client.fetch_window(ref(sim), None, None)
        starts = sorted(recorder.paging)
        recorder.clear()
        await client.fetch_window(ref(sim), None, None)
    assert [t.id for t in window.tasks] == simulator_ids(sim)
    assert window.reported_total == WINDOW
    assert starts == [("start", s) for s in (1, 51, 101, 151, 201)]
    assert len(recorder.requests) == 5
    (note,) = [r for r in paging_records(caplog) if "at most 50" in r.getMessage()]
    assert note.levelno == logging.INFO


async def test_a_bounded_window_is_whole_in_every_mode() -> None:
    for mode in ("start", "offset", "clamp50"):
        async with simulated(mode) as (sim, client, _recorder):
            inst = sim.instance(INSTANCE)
            end = FIXED_NOW - timedelta(days=1)
            begin = end - timedelta(days=4)
            expected = [t["id"] for t in inst.tasks if begin <= inst.created_of(t) < end]
            window = await client.fetch_window(ref(sim), begin, end)
        assert len(expected) > 100, mode
        assert [t.id for t in window.tasks] == expected, mode
        assert window.reported_total == len(expected), mode


async def test_a_gateway_that_changes_its_reading_is_followed_both_ways(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="bot.dms")
    async with simulated("start") as (sim, client, _recorder):
        windows = [await client.fetch_window(ref(sim), None, None)]
        sim.set_paging("offset")
        windows.append(await client.fetch_window(ref(sim), None, None))
        sim.set_paging("start")
        windows.append(await client.fetch_window(ref(sim), None, None))
    assert all([t.id for t in w.tasks] == simulator_ids(sim) for w in windows)
    warnings = [r.getMessage() for r in paging_records(caplog) if r.levelno == logging.WARNING]
    assert len(warnings) == 2
    assert "paging by `offset`" in warnings[0] and "paging by `start`" in warnings[1]


# ---- gateways that return fewer than they count ------------------------------------------------


class Gateway:
    """GET /tasks over a list, counting `counted` whatever it holds; `reads` picks the parameter
    it honours ("start", "offset" or "none"); `cap` caps the page; `send_count` can drop it."""

    def __init__(
        self,
        tasks: list[dict[str, Any]],
        *,
        counted: int | None = None,
        reads: str = "start",
        cap: int = 100,
        send_count: bool = True,
    ) -> None:
        self.tasks = tasks
        self.counted = len(tasks) if counted is None else counted
        self.reads = reads
        self.cap = cap
        self.send_count = send_count
        self.paging: list[tuple[str, int]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        params = request.url.params
        name = "offset" if "offset" in params else "start"
        self.paging.append((name, int(params[name])))
        first = 0
        if self.reads == "start" and "start" in params:
            first = int(params["start"]) - 1
        elif self.reads == "offset" and "offset" in params:
            first = int(params["offset"])
        limit = min(int(params["limit"]), self.cap)
        body: dict[str, Any] = {"tasks": self.tasks[first : first + limit]}
        if self.send_count:
            body["task_count"] = str(self.counted)
        return httpx.Response(200, content=json.dumps(body).encode())


def tasks(n: int) -> list[dict[str, Any]]:
    return [task_dict(i) for i in range(n)]


async def test_a_window_short_of_task_count_says_so() -> None:
    gateway = Gateway(tasks(240), counted=250)
    window = await make_client(gateway).fetch_window(REF, None, None)
    assert len(window.tasks) == 240 and window.reported_total == 250
    # The page at 201 came back with 40: one more look at 241 shows there is nothing more; no
    # switch to `offset`, since every page brought new tasks.
    assert sorted(gateway.paging) == [("start", s) for s in (1, 101, 201, 241)]


async def test_a_short_window_is_not_kept_as_settled() -> None:
    gateway = Gateway(tasks(240), counted=250)
    clock = [datetime(2026, 11, 28, 12, 0, tzinfo=UTC)]
    cache = TaskCache(make_client(gateway), clock=lambda: clock[0], live_ttl_s=15)
    end = clock[0] - timedelta(days=1)
    begin = end - timedelta(days=1)
    first = await cache.window(REF, begin, end)
    assert len(first.value.tasks) == 240 and first.value.settled
    clock[0] += timedelta(seconds=60)
    again = await cache.window(REF, begin, end)
    assert not again.from_cache


async def test_a_gateway_that_ignores_every_parameter_gives_an_honest_first_page(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="bot.dms")
    gateway = Gateway(tasks(250), reads="none")
    window = await make_client(gateway).fetch_window(REF, None, None)
    assert len(window.tasks) == 100 and window.reported_total == 250
    assert gateway.paging[0] == ("start", 1)
    assert sorted(gateway.paging[1:]) == sorted(
        [("start", 101), ("start", 201), ("offset", 100), ("offset", 200)]
    )
    warnings = [r.getMessage() for r in paging_records(caplog) if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "100 of 250" in warnings[0]


async def test_a_total_that_shrinks_while_paging_is_not_a_shortfall() -> None:
    everything = tasks(250)
    gateway = Gateway(everything)

    def handler(request: httpx.Request) -> httpx.Response:
        response = gateway(request)
        # Ten finished task records are deleted after the first page.
        gateway.tasks = everything[:90] + everything[100:]
        gateway.counted = 240
        return response

    window = await make_client(handler).fetch_window(REF, None, None)
    assert window.reported_total == 240
    assert len(window.tasks) >= 240


async def test_an_ignored_start_is_seen_even_while_tasks_arrive() -> None:
    arrived = [task_dict(i) for i in range(3)]
    old = [task_dict(i) for i in range(3, 253)]
    gateway = Gateway(old, reads="offset")

    def handler(request: httpx.Request) -> httpx.Response:
        response = gateway(request)
        # Three tasks start right after the first page: the repeated first pages hold them, so
        # they bring new ids although the gateway ignored `start`.
        gateway.tasks = arrived + old
        gateway.counted = 253
        return response

    window = await make_client(handler).fetch_window(REF, None, None)
    assert [t.id for t in window.tasks] == [t["id"] for t in arrived + old]
    assert window.reported_total == 253
    assert gateway.paging[0] == ("start", 1)
    assert sorted(gateway.paging[1:3]) == [("start", 101), ("start", 201)]
    assert sorted(gateway.paging[3:5]) == [("offset", 100), ("offset", 200)]
    # The newcomers sit above the first page: read again from the top.
    assert gateway.paging[5:] == [("offset", 0)]


async def test_one_task_pushed_onto_the_next_page_is_not_an_ignored_start() -> None:
    old = [task_dict(i) for i in range(1, 102)]
    gateway = Gateway(old)

    def handler(request: httpx.Request) -> httpx.Response:
        response = gateway(request)
        gateway.tasks = [task_dict(0), *old]
        gateway.counted = 102
        return response

    window = await make_client(handler).fetch_window(REF, None, None)
    # Page two held only the task pushed down from page one: no new id, yet `start` works.
    assert [t.id for t in window.tasks] == [t["id"] for t in [task_dict(0), *old]]
    assert all(name == "start" for name, _value in gateway.paging)


# ---- without task_count ------------------------------------------------------------------------


async def test_without_task_count_a_capped_gateway_is_paged_to_the_end() -> None:
    gateway = Gateway(tasks(120), cap=50, send_count=False)
    window = await make_client(gateway).fetch_window(REF, None, None)
    assert len(window.tasks) == 120 and window.reported_total is None
    assert gateway.paging == [("start", 1), ("start", 51), ("start", 101)]


async def test_without_task_count_an_offset_gateway_is_paged_by_offset() -> None:
    gateway = Gateway(tasks(250), reads="offset", send_count=False)
    window = await make_client(gateway).fetch_window(REF, None, None)
    assert [t.id for t in window.tasks] == [t["id"] for t in tasks(250)]
    assert gateway.paging == [("start", 1), ("start", 101), ("offset", 100), ("offset", 200)]


async def test_without_task_count_a_short_first_page_is_checked_once() -> None:
    gateway = Gateway(tasks(40), send_count=False)
    window = await make_client(gateway).fetch_window(REF, None, None)
    assert len(window.tasks) == 40
    # A gateway may cap pages silently, so 40 of 100 is not proof of the end: one look at 41.
    assert gateway.paging == [("start", 1), ("start", 41)]
