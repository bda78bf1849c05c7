"""Client and cache figures against the DMS simulator (run by hand, not a test):

    .venv/bin/python bench/bench_client.py

1. Every task of a 2,000-task window at 50 ms of injected latency per request: our
   `DmsClient.fetch_window` (concurrent pages) against the official SDK's page-by-page loop
   (`KafkaClient.list_background_tasks`, synchronous, one request at a time). Both talk to one
   simulator running in its own process: in this process its per-request CPU work (filtering and
   serialising 2,000 tasks) would share the GIL with the client being measured, which a real DMS
   endpoint never does.
2. 50 concurrent identical window queries through `TaskCache`: upstream calls.
3. Warm-cache read latency over 10,000 reads.
"""

from __future__ import annotations

import asyncio
import inspect
import math
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.http.http_config import HttpConfig
from huaweicloudsdkkafka.v2 import KafkaClient, ListBackgroundTasksRequest

from bot.dms.auth import AkSkAuth
from bot.dms.cache import TaskCache
from bot.dms.client import DmsClient, format_api_time
from bot.domain.instances import InstanceRef
from bot.simulator import DEMO_AK, DEMO_PROJECT_ID, DEMO_REGION, DEMO_SK

WINDOW_TASKS = 2000
LATENCY_MS = 50
RUNS = 3
CONCURRENT_QUERIES = 50
WARM_READS = 10_000
REPO = Path(__file__).resolve().parent.parent

# The client's own default, so the figures describe what the bot runs.
DEFAULT_CONCURRENCY: int = inspect.signature(DmsClient).parameters["page_concurrency"].default


@dataclass
class SimulatorProcess:
    url: str
    instance_id: str

    def control(self, method: str, route: str, body: object = None) -> dict[str, int]:
        response = httpx.request(method, f"{self.url}/_sim/{route}", json=body)
        response.raise_for_status()
        return dict(response.json())

    def set_latency(self, latency_ms: int) -> None:
        self.control("POST", "faults", {"latency_ms": latency_ms})

    def list_task_requests(self) -> int:
        return self.control("GET", "stats").get("list_tasks", 0)


@contextmanager
def simulator_process(anchor: datetime) -> Iterator[SimulatorProcess]:
    command = [
        sys.executable,
        "-c",
        "from bot.cli import main; raise SystemExit(main())",
        "simulate",
        "--port=0",
        f"--bulk-tasks={WINDOW_TASKS}",
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
        url = instance_id = None
        for line in process.stdout:
            if found := re.search(r"listening on (\S+)", line):
                url = found.group(1)
            if found := re.match(r"\s+(\S+)\s+bulk-audit\s", line):
                instance_id = found.group(1)
            if "control:" in line:
                break
        if not (url and instance_id):
            raise RuntimeError("the simulator did not start")
        yield SimulatorProcess(url=url, instance_id=instance_id)
    finally:
        process.terminate()
        process.wait(timeout=10)


def sdk_fetch(sim: SimulatorProcess, ref: InstanceRef, begin: datetime, end: datetime) -> int:
    config = HttpConfig.get_default_config()
    config.ignore_ssl_verification = True
    client = (
        KafkaClient.new_builder()
        .with_http_config(config)
        .with_credentials(BasicCredentials(DEMO_AK, DEMO_SK, DEMO_PROJECT_ID))
        .with_endpoints([sim.url])
        .build()
    )
    seen = 0
    start = 1
    while True:
        response = client.list_background_tasks(
            ListBackgroundTasksRequest(
                instance_id=ref.instance_id,
                start=start,
                limit=100,
                begin_time=format_api_time(begin),
                end_time=format_api_time(end),
            )
        )
        tasks = response.tasks or []
        seen += len(tasks)
        if len(tasks) < 100:
            return seen
        start += len(tasks)


def new_client(sim: SimulatorProcess, page_concurrency: int = DEFAULT_CONCURRENCY) -> DmsClient:
    return DmsClient(
        auth=AkSkAuth(DEMO_AK, DEMO_SK),
        endpoint_for=lambda region: sim.url,
        page_concurrency=page_concurrency,
    )


async def ours_fetch(
    sim: SimulatorProcess, ref: InstanceRef, begin: datetime, end: datetime, concurrency: int
) -> tuple[float, int]:
    client = new_client(sim, concurrency)
    try:
        started = time.perf_counter()
        window = await client.fetch_window(ref, begin, end)
        return time.perf_counter() - started, len(window.tasks)
    finally:
        await client.aclose()


def timed_sdk(sim: SimulatorProcess, ref: InstanceRef, begin: datetime, end: datetime) -> float:
    started = time.perf_counter()
    count = sdk_fetch(sim, ref, begin, end)
    elapsed = time.perf_counter() - started
    assert count == WINDOW_TASKS, count
    return elapsed


async def coalescing(
    sim: SimulatorProcess, ref: InstanceRef, begin: datetime, end: datetime
) -> tuple[int, int, list[float]]:
    client = new_client(sim)
    cache = TaskCache(client)
    sim.control("POST", "reset")
    try:
        results = await asyncio.gather(
            *(cache.window(ref, begin, end) for _ in range(CONCURRENT_QUERIES))
        )
        assert all(len(r.value.tasks) == WINDOW_TASKS for r in results)
        upstream_windows = cache.stats.window_fetches
        http_requests = sim.list_task_requests()

        samples: list[float] = []
        for _ in range(WARM_READS):
            started = time.perf_counter_ns()
            hit = await cache.window(ref, begin, end)
            samples.append((time.perf_counter_ns() - started) / 1e6)
            assert hit.from_cache
        return upstream_windows, http_requests, samples
    finally:
        await client.aclose()


def main() -> None:
    anchor = datetime.now(UTC).replace(microsecond=0)
    # The busy instance's tasks span the week before the anchor: this window holds all of them.
    begin, end = anchor - timedelta(days=30), anchor + timedelta(minutes=1)
    with simulator_process(anchor) as sim:
        ref = InstanceRef(
            instance_id=sim.instance_id, project_id=DEMO_PROJECT_ID, region=DEMO_REGION
        )
        pages = math.ceil(WINDOW_TASKS / 100)

        # One unmeasured round each, so connection set-up and first-call costs are not counted.
        timed_sdk(sim, ref, begin, end)
        asyncio.run(ours_fetch(sim, ref, begin, end, DEFAULT_CONCURRENCY))

        sdk_times = [timed_sdk(sim, ref, begin, end) for _ in range(RUNS)]
        ours: dict[int, list[float]] = {}
        for concurrency in sorted({8, DEFAULT_CONCURRENCY, 16}):
            ours[concurrency] = []
            for _ in range(RUNS):
                elapsed, fetched = asyncio.run(ours_fetch(sim, ref, begin, end, concurrency))
                assert fetched == WINDOW_TASKS, fetched
                ours[concurrency].append(elapsed)

        sim.set_latency(0)
        upstream, http_requests, samples = asyncio.run(coalescing(sim, ref, begin, end))

    sdk = statistics.median(sdk_times)
    samples.sort()
    p99 = samples[min(len(samples) - 1, math.ceil(0.99 * len(samples)) - 1)]
    print(
        f"Window: {WINDOW_TASKS} tasks in {pages} pages of 100, {LATENCY_MS} ms latency per request"
    )
    print(f"(median of {RUNS} runs after one warm-up run; simulator in its own process)")
    print()
    print(f"{'measure':<58} {'value':>12}  goal")
    print("-" * 84)
    label = f"official SDK, page by page ({pages} round trips)"
    print(f"{label:<58} {sdk * 1000:>9.0f} ms")
    for concurrency, times in ours.items():
        mine = statistics.median(times)
        # The first page must come back (it carries task_count) before the rest can start.
        trips = 1 + math.ceil((pages - 1) / concurrency)
        default = " default" if concurrency == DEFAULT_CONCURRENCY else ""
        label = f"DmsClient.fetch_window,{default} page_concurrency={concurrency} ({trips} trips)"
        print(f"{label:<58} {mine * 1000:>9.0f} ms")
        print(f"{'  speed-up over the SDK':<58} {sdk / mine:>10.1f} ×  ≥ 5×")
    label = f"{CONCURRENT_QUERIES} concurrent identical queries: upstream window fetches"
    print(f"{label:<58} {upstream:>12}  1")
    print(f"{'  ...HTTP requests for them (pages of that one fetch)':<58} {http_requests:>12}")
    median = samples[len(samples) // 2]
    label = f"warm-cache read, median of {WARM_READS:,}"
    print(f"{label:<58} {median:>9.4f} ms  < 1 ms")
    print(f"{'warm-cache read, p99':<58} {p99:>9.4f} ms  < 1 ms")


if __name__ == "__main__":
    main()
