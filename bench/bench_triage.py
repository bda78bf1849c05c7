"""Triage figures at 50 ms of injected latency per request (run by hand, not a test):

    .venv/bin/python bench/bench_triage.py

The bot's real parts (TaskService over TaskCache over DmsClient, AlertScheduler, DigestService)
run in this process; the DMS simulator runs in a process of its own (`dms-tasks-bot simulate`,
as bench/bench_client.py does), so its per-request work never shares the GIL with the bot and
the timings are the bot's. Upstream calls are counted at the simulator (GET /_sim/stats and
GET /_sim/stats/instances: every HTTP request, one per page).

(a) `/dms-tasks all last 24h` over 20 instances of 500 tasks each (spread over 14 days), cold
    cache: time to the answer, and list calls against the pages that exist for what an answer
    reads per instance: the window and its look-back for tasks still running (from
    DMS_BOT_RUNNING_LOOKBACK_DAYS = 7 days before the window's day), one union of 100-task pages.
    Median of 3 runs, each with a fresh client and cache, after one unmeasured run.
(b) Refresh of a warm window of 2,000 tasks (one instance, 3 of them running for 1-3 h): the
    answer is read once, the injected clock of cache and service moves 16 s (past the 15 s a
    live window stays fresh), then Refresh is pressed. Calls against 1 + running, and against a
    re-read of the window with the plain per-window fetch (`TaskCache(sync=False)`, i.e.
    `DmsClient.fetch_window`: 20 pages).
(c) 100 alerts and 100 daily digests over the 20 instances, nothing changing: an injected clock
    steps one alert interval (60 s) at a time; each step runs `AlertScheduler.round()` and
    builds the 10 digests due at that moment (`DigestService.build`, the day before it). The
    first step is the cold read; the 10 after it are the figure: upstream calls per instance
    per interval (most for one instance in one interval, and the mean).

About a minute. Prints one table with the goals beside the figures.
"""

from __future__ import annotations

import asyncio
import math
import os
import platform
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
from slack_sdk.web.async_client import AsyncWebClient

from bot.alert_scheduler import AlertScheduler
from bot.alerts import AlertService
from bot.digests import DigestService
from bot.dms.auth import AkSkAuth
from bot.dms.cache import TaskCache
from bot.dms.client import DmsClient, RetryPolicy
from bot.domain.alerts import ALL_TARGETS, Alert
from bot.grammar.state import ButtonState
from bot.ids import ActionId
from bot.poster import SlackPoster
from bot.report import TaskReport, TimelineReport
from bot.service import Requester, TaskService
from bot.settings import Settings, with_simulator
from bot.simulator import DEMO_AK, DEMO_PROJECT_ID, DEMO_SK, SimulatorConfig
from bot.simulator.model import SimInstance
from bot.simulator.state import RunningSimulator
from bot.store import AlertStore, open_store
from tests.slack_mock import BOT_TOKEN, POST_MESSAGE, start_mock_slack

LATENCY_MS = 50
PAGE = 100
INSTANCES, TASKS = 20, 500
WINDOW_TASKS, RUNNING = 2000, 3
LOOKBACK_DAYS = 7  # DMS_BOT_RUNNING_LOOKBACK_DAYS, its default
RUNS = 3
ALERTS = DIGESTS = 100
INTERVALS = 10
INTERVAL_S = 60.0
FRESH_S = 15.0
CHANNEL, USER = "C0TRIAGE", "U0TRIAGE"
REPO = Path(__file__).resolve().parent.parent
UTC_ZONE = ZoneInfo("UTC")


@dataclass
class SimulatorProcess:
    url: str
    # The same data, built here from the same config: what exists, to count pages against.
    data: RunningSimulator

    def control(self, method: str, route: str, body: object = None) -> dict[str, Any]:
        response = httpx.request(method, f"{self.url}/_sim/{route}", json=body)
        response.raise_for_status()
        return dict(response.json())

    def reset(self) -> None:
        self.control("POST", "reset")

    def calls(self) -> dict[str, int]:
        return self.control("GET", "stats")

    def calls_per_instance(self) -> dict[str, int]:
        counts = self.control("GET", "stats/instances")
        return {key: sum(routes.values()) for key, routes in counts.items()}

    @property
    def extras(self) -> list[SimInstance]:
        return [i for i in self.data.instances if i.name.startswith("extra-")]


@contextmanager
def simulator_process(
    anchor: datetime, instances: int, tasks: int, running: int
) -> Iterator[SimulatorProcess]:
    config = SimulatorConfig(
        now=anchor,
        bulk_tasks=0,
        extra_instances=instances,
        tasks_per_extra=tasks,
        running_per_extra=running,
    )
    command = [
        sys.executable,
        "-c",
        "from bot.cli import main; raise SystemExit(main())",
        "simulate",
        "--port=0",
        "--bulk-tasks=0",
        f"--extra-instances={instances}",
        f"--tasks-per-extra={tasks}",
        f"--running-per-extra={running}",
        f"--latency-ms={LATENCY_MS}",
        f"--now={anchor.isoformat()}",
        f"--ak={DEMO_AK}",
        f"--sk={DEMO_SK}",
        f"--project-id={DEMO_PROJECT_ID}",
    ]
    process = subprocess.Popen(
        command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    try:
        assert process.stdout is not None
        url, served = None, {}
        for line in process.stdout:
            if found := re.search(r"listening on (\S+)", line):
                url = found.group(1)
            if found := re.match(r"\s+(\S+)\s+(extra-\d+)\s", line):
                served[found.group(2)] = found.group(1)
            if "control:" in line:
                break
        data = RunningSimulator(config)
        if not url or served != {i.name: i.instance_id for i in data.instances[6:]}:
            raise RuntimeError("the simulator did not start with the expected instances")
        yield SimulatorProcess(url=url, data=data)
    finally:
        process.terminate()
        process.wait(timeout=10)


def settings_for(sim: SimulatorProcess, folder: Path) -> Settings:
    """The extra instances as aliases of one channel, so `all` there means those."""
    lines = []
    for inst in sim.extras:
        lines += [f"[instances.{inst.name}]", f'instance_id = "{inst.instance_id}"']
        lines.append(f'channels = ["{CHANNEL}"]')
    path = folder / f"bot-{len(sim.extras)}.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return with_simulator(
        Settings.model_validate(
            {"DMS_BOT_CONFIG": str(path), "DMS_BOT_RUNNING_LOOKBACK_DAYS": LOOKBACK_DAYS}
        ),
        sim.url,
    )


def new_client(settings: Settings) -> DmsClient:
    # The client as the runtime builds it (default page concurrency and pool).
    return DmsClient(
        auth=AkSkAuth(DEMO_AK, DEMO_SK),
        endpoint_for=settings.endpoint_for,
        retry=RetryPolicy(budget_s=settings.retry_budget_seconds),
        timeout=settings.timeout_seconds,
    )


def pages(count: int) -> int:
    # An empty window is still one request.
    return max(1, math.ceil(count / PAGE))


def count_between(inst: SimInstance, begin: datetime, end: datetime | None = None) -> int:
    times = (inst.created_of(t) for t in inst.tasks)
    return sum(1 for at in times if begin <= at and (end is None or at < end))


def lookback_start(begin: datetime) -> datetime:
    day = begin.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return day - timedelta(days=LOOKBACK_DAYS)


# ---- (a) all last 24h, cold ------------------------------------------------------------------


@dataclass
class AllFigures:
    time_ms: float
    list_calls: int
    other_calls: int
    union_pages: int
    window_pages: int
    lookback_pages: int


async def all_once(settings: Settings) -> tuple[float, TimelineReport]:
    client = new_client(settings)
    service = TaskService(settings, TaskCache(client))
    try:
        started = time.perf_counter()
        report = await service.command("all last 24h", Requester(CHANNEL, USER, UTC_ZONE))
        elapsed = time.perf_counter() - started
    finally:
        await client.aclose()
    assert isinstance(report, TimelineReport), report
    assert len(report.parts) == INSTANCES and not any(p.unavailable for p in report.parts)
    return elapsed, report


def measure_all(sim: SimulatorProcess, settings: Settings) -> AllFigures:
    asyncio.run(all_once(settings))  # connection set-up and first-call costs, not counted
    times, calls = [], []
    report: TimelineReport | None = None
    for _ in range(RUNS):
        sim.reset()
        elapsed, report = asyncio.run(all_once(settings))
        times.append(elapsed)
        calls.append(sim.calls())
    assert report is not None and all(c == calls[0] for c in calls), calls
    begin = report.query.window.begin
    floor = lookback_start(begin)
    union = sum(pages(count_between(i, floor)) for i in sim.extras)
    window = sum(pages(count_between(i, begin)) for i in sim.extras)
    day = floor + timedelta(days=LOOKBACK_DAYS + 1)
    lookback = sum(pages(count_between(i, floor, day)) for i in sim.extras)
    listed = calls[0].get("list_tasks", 0)
    return AllFigures(
        time_ms=statistics.median(times) * 1000,
        list_calls=listed,
        other_calls=sum(calls[0].values()) - listed,
        union_pages=union,
        window_pages=window,
        lookback_pages=lookback,
    )


# ---- (b) Refresh of a warm 2,000-task window ------------------------------------------------


class OffsetClock:
    """Real time plus an offset that the bench moves: the cache's and service's clock."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset


@dataclass
class RefreshFigures:
    synced_calls: dict[str, int]
    synced_ms: float
    plain_calls: dict[str, int]
    plain_ms: float
    running: int
    window_tasks: int


async def refresh_once(
    sim: SimulatorProcess, settings: Settings, *, sync: bool
) -> tuple[dict[str, int], float, TaskReport]:
    clock = OffsetClock()
    client = new_client(settings)
    service = TaskService(settings, TaskCache(client, clock=clock, sync=sync), clock=clock)
    requester = Requester(CHANNEL, USER, UTC_ZONE)
    try:
        first = await service.command(f"{sim.extras[0].name} last 15d", requester)
        assert isinstance(first, TaskReport) and first.matched == WINDOW_TASKS, first
        clock.offset += timedelta(seconds=FRESH_S + 1)
        sim.reset()
        started = time.perf_counter()
        again = await service.press(ActionId.REFRESH, ButtonState.of(first.query), requester)
        elapsed = time.perf_counter() - started
        assert isinstance(again, TaskReport) and again.matched == WINDOW_TASKS, again
        assert again.query.window.end > first.query.window.end
        return sim.calls(), elapsed * 1000, first
    finally:
        await client.aclose()


def measure_refresh(sim: SimulatorProcess, settings: Settings) -> RefreshFigures:
    asyncio.run(refresh_once(sim, settings, sync=True))  # unmeasured
    synced, synced_ms, first = asyncio.run(refresh_once(sim, settings, sync=True))
    plain, plain_ms, _ = asyncio.run(refresh_once(sim, settings, sync=False))
    inst = sim.extras[0]
    running = sum(1 for t in inst.tasks if t["status"] in {"CREATED", "EXECUTING"})
    return RefreshFigures(
        synced, synced_ms, plain, plain_ms, running, count_between(inst, first.query.window.begin)
    )


# ---- (c) alerts and digests over intervals where nothing changes ----------------------------


@dataclass
class QuietFigures:
    cold_calls: int
    cold_max: int
    per_interval: list[int]  # every instance's calls, in every interval after the first
    by_alerts: list[int]  # the same, the alert rounds' share
    by_digests: list[int]  # and the digests'
    posts: int
    alert_instances: int


def subscriptions(names: list[str], created: datetime) -> tuple[list[Alert], list[tuple[str, ...]]]:
    """The alerts (every tenth on all, every third with stuck) and the digests' targets (every
    tenth all, the others 1 to 3 instances), drawn the same in every run."""
    rng = random.Random(20261201)

    def targets(n: int) -> tuple[str, ...]:
        return (ALL_TARGETS,) if n % 10 == 0 else tuple(rng.sample(names, rng.choice((1, 2, 3))))

    alerts = [
        Alert(f"t{n:05d}", CHANNEL, targets(n), created, stuck=n % 3 == 0, created_by=USER)
        for n in range(ALERTS)
    ]
    return alerts, [targets(n) for n in range(DIGESTS)]


async def quiet_intervals(sim: SimulatorProcess, settings: Settings, folder: Path) -> QuietFigures:
    start = math.ceil(time.time() / INTERVAL_S) * INTERVAL_S
    moment = [datetime.fromtimestamp(start, UTC)]
    clock: Callable[[], datetime] = lambda: moment[0]  # noqa: E731
    client = new_client(settings)
    service = TaskService(settings, TaskCache(client, clock=clock), clock=clock)
    store = await open_store(str(folder / "triage.db"), None, clock=lambda: moment[0].timestamp())
    alerts, digest_targets = subscriptions([i.name for i in sim.extras], moment[0])
    for alert in alerts:
        await AlertStore(store).add(alert)
    digests = DigestService(service)
    per_interval: list[int] = []
    by_alerts: list[int] = []
    by_digests: list[int] = []
    cold_calls = cold_max = alert_instances = 0
    try:
        async with start_mock_slack(member_of={CHANNEL}) as slack:
            poster = SlackPoster(AsyncWebClient(token=BOT_TOKEN, base_url=slack.api_url))
            scheduler = AlertScheduler(
                store, AlertService(service, store), poster, interval_s=INTERVAL_S, clock=clock
            )
            for step in range(INTERVALS + 1):
                sim.reset()
                result = await scheduler.round()
                alert_instances = result.instances
                counted = sim.calls_per_instance()
                alerting = [counted.get(i.instance_id, 0) for i in sim.extras]
                sim.reset()
                due = moment[0]
                batch = digest_targets[(step % INTERVALS) * 10 : (step % INTERVALS) * 10 + 10]
                for targets in batch:
                    report = await digests.build(CHANNEL, targets, due - timedelta(days=1), due)
                    assert not any(p.unavailable for p in report.instances)
                counted = sim.calls_per_instance()
                digesting = [counted.get(i.instance_id, 0) for i in sim.extras]
                calls = [x + y for x, y in zip(alerting, digesting, strict=True)]
                if step == 0:
                    cold_calls, cold_max = sum(calls), max(calls)
                else:
                    per_interval.extend(calls)
                    by_alerts.extend(alerting)
                    by_digests.extend(digesting)
                moment[0] += timedelta(seconds=INTERVAL_S)
            posts = len(slack.calls_to(POST_MESSAGE))
    finally:
        await store.close()
        await client.aclose()
    return QuietFigures(
        cold_calls, cold_max, per_interval, by_alerts, by_digests, posts, alert_instances
    )


# ---- the table -------------------------------------------------------------------------------


def row(measure: str, figure: str, goal: str = "", reached: bool | None = None) -> None:
    verdict = "" if reached is None else ("reached" if reached else "NOT reached")
    print(f"{measure:<62} {figure:>14}  {goal:<32} {verdict}".rstrip())


def print_table(a: AllFigures, b: RefreshFigures, c: QuietFigures) -> None:
    print(
        f"{LATENCY_MS} ms injected latency per request; simulator in its own process; "
        f"page size {PAGE}; look-back {LOOKBACK_DAYS} days"
    )
    print(f"cpus {os.cpu_count()}, Python {platform.python_version()}, {platform.machine()}")
    print()
    head = f"{'measure':<62} {'figure':>14}  {'goal':<32} reached?"
    print(head)
    print("-" * len(head))
    print(f"(a) all last 24h, {INSTANCES} instances x {TASKS} tasks, cold cache (median of {RUNS})")
    row("  time to the answer", f"{a.time_ms:.0f} ms", "≤ 1,000 ms", a.time_ms <= 1000)
    row(
        "  list_tasks calls",
        f"{a.list_calls}",
        f"≤ {a.union_pages} (pages that exist)",
        a.list_calls <= a.union_pages,
    )
    row("  pages of window + look-back, as one union per instance", f"{a.union_pages}")
    row("  ...window alone + look-back alone, read apart", f"{a.window_pages} + {a.lookback_pages}")
    row("  other calls (show task, list instances)", f"{a.other_calls}")
    print(f"(b) Refresh of a warm {b.window_tasks:,}-task window, {b.running} running, clock +16 s")
    synced = sum(b.synced_calls.values())
    row(
        "  synced view: calls (list + show task)",
        f"{synced} ({b.synced_calls.get('list_tasks', 0)} + {b.synced_calls.get('show_task', 0)})",
        f"≤ {1 + b.running} (1 + running)",
        synced <= 1 + b.running,
    )
    row("  plain per-window re-read (fetch_window): calls", f"{sum(b.plain_calls.values())}", "20")
    row("  time to the answer: synced / plain", f"{b.synced_ms:.0f} / {b.plain_ms:.0f} ms")
    print(
        f"(c) {ALERTS} alerts + {DIGESTS} digests over {c.alert_instances} instances, "
        f"{INTERVALS} intervals of {INTERVAL_S:.0f} s, nothing changing"
    )
    worst = max(c.per_interval)
    mean = statistics.mean(c.per_interval)
    over = sum(1 for n in c.per_interval if n > 1)
    row("  calls per instance per interval: most", f"{worst}", "≤ 1", worst <= 1)
    row("  calls per instance per interval: mean", f"{mean:.2f}", "≤ 1", mean <= 1)
    row("  intervals × instances over 1 call", f"{over} of {len(c.per_interval)}", "0", over == 0)
    row(
        "  ...of those calls: alert rounds / digests (mean per instance)",
        f"{statistics.mean(c.by_alerts):.2f} / {statistics.mean(c.by_digests):.2f}",
    )
    row(
        "  ...alert rounds alone: most for one instance in one interval",
        f"{max(c.by_alerts)}",
    )
    row("  first (cold) interval: calls, most for one instance", f"{c.cold_calls}, {c.cold_max}")
    row("  posts (nothing fires)", f"{c.posts}", "0", c.posts == 0)


def main() -> None:
    anchor = datetime.now(UTC).replace(microsecond=0)
    with tempfile.TemporaryDirectory(prefix="bench-triage-") as tmp:
        folder = Path(tmp)
        with simulator_process(anchor, INSTANCES, TASKS, 0) as sim:
            settings = settings_for(sim, folder)
            a = measure_all(sim, settings)
            c = asyncio.run(quiet_intervals(sim, settings, folder))
        with simulator_process(anchor, 1, WINDOW_TASKS, RUNNING) as busy:
            b = measure_refresh(busy, settings_for(busy, folder))
    print_table(a, b, c)


if __name__ == "__main__":
    main()
