"""How fast the real serve process answers Slack. Run by hand; prints figures.

    .venv/bin/python bench/bench_slack.py [--commands 100] [--clicks 30] [--latency-ms 3000]

(a) Ack latency: `--commands` signed slash commands sent at once while every DMS API call takes
    `--latency-ms`. Slack gives up after 3 s, so the ack must not wait for the cloud
    (goal: p99 <= 100 ms).
(b) Warm page turn: a Next click whose page is already cached, from sending the click to the
    replaced message arriving at the response_url (goal: <= 20 ms).

The simulator and the mock Slack run in this process, the bot in its own, all over loopback.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.ids import ActionId
from bot.simulator import (
    Faults,
    SimulatorConfig,
    SimulatorThread,
)
from tests.e2e_harness import (
    BotProcess,
    bot_config_toml,
    bot_env,
    button,
    serve_bot,
    signed_click,
    signed_command,
)
from tests.slack_mock import MockSlack, start_mock_slack

CHANNEL = "C0ONCALL"


def _raw_request(host: str, port: int, method: str, path: str, request: Any | None) -> bytes:
    body = request.body if request is not None else b""
    headers = dict(request.headers) if request is not None else {}
    headers.update({"Host": f"{host}:{port}", "Content-Length": str(len(body))})
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    return f"{method} {path} HTTP/1.1\r\n{head}Connection: close\r\n\r\n".encode() + body


async def _burst(host: str, port: int, payloads: list[bytes]) -> list[float]:
    async def one(payload: bytes) -> float:
        started = time.perf_counter()
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(payload)
        status = await reader.readline()
        elapsed = time.perf_counter() - started
        assert b" 200 " in status, status
        writer.close()
        return elapsed

    return list(await asyncio.gather(*(one(p) for p in payloads)))


def burst_in_own_process(host: str, port: int, payloads: list[bytes]) -> list[float]:
    """Send every request at once from a separate process with bare sockets, and time each from
    connect to the first line of the response. A separate process, so that neither the load
    generator's own work nor the mock Slack answering users.info shares a core's time slice with
    the measurement; bare sockets, so that the figure is the bot's, not an HTTP client's."""
    import multiprocessing

    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(_burst_sync, (host, port, payloads))


def _burst_sync(host: str, port: int, payloads: list[bytes]) -> list[float]:
    return asyncio.run(_burst(host, port, payloads))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def figures(label: str, seconds: list[float], goal_ms: float, goal_at: str) -> None:
    ms = [s * 1000 for s in seconds]
    p50, p95, p99 = (percentile(ms, q) for q in (50, 95, 99))
    checked = {"p50": p50, "p95": p95, "p99": p99}[goal_at]
    verdict = "meets" if checked <= goal_ms else "MISSES"
    print(
        f"{label}: n={len(ms)}  min {min(ms):.1f} ms  p50 {p50:.1f} ms  "
        f"mean {statistics.fmean(ms):.1f} ms  p95 {p95:.1f} ms  p99 {p99:.1f} ms  "
        f"max {max(ms):.1f} ms  -> {verdict} the goal {goal_at} <= {goal_ms:.0f} ms"
    )


async def ack_latency(bot: BotProcess, slack: MockSlack, sim: Any, commands: int, latency_ms: int):
    # One answered command first: Bolt calls auth.test on its first request, and a cold process
    # is not what a busy on-call channel meets.
    warm = slack.response_url("ack-warm-up")
    await bot.send(signed_command("help", CHANNEL, "U0BENCHWARM", warm))
    await slack.wait_for(warm, timeout=30)
    sim.set_faults(Faults(latency_ms=latency_ms))
    # Distinct users and windows, so neither the time-zone cache nor the task cache shares work.
    requests = [
        (
            url := slack.response_url(f"ack{n}"),
            signed_command(f"prod-orders last {60 + n}m", CHANNEL, f"U0BENCH{n:03d}", url),
        )
        for n in range(commands)
    ]

    async def one(request: Any) -> float:
        started = time.perf_counter()
        response = await bot.send(request)
        elapsed = time.perf_counter() - started
        assert response.status_code == 200, response.text
        return elapsed

    baseline = []
    for n in range(20):
        url = slack.response_url(f"ack-seq{n}")
        baseline.append(
            await one(signed_command(f"prod-orders last {30 + n}m", CHANNEL, "U0BENCHSEQ", url))
        )
    figures(f"(a0) ack latency, one command at a time, DMS +{latency_ms} ms", baseline, 100, "p99")

    host, port = bot.url.removeprefix("http://").split(":")
    send_burst = functools.partial(burst_in_own_process, host, int(port))
    # The floor: the same burst on GET /healthz (loopback, uvicorn, new connections; no Bolt).
    health = [_raw_request(host, int(port), "GET", "/healthz", None)] * commands
    floor = await asyncio.to_thread(send_burst, health)
    figures(f"(a1) GET /healthz, {commands} concurrent (transport floor)", floor, 100, "p99")

    payloads = [
        _raw_request(host, int(port), "POST", "/slack/events", request) for _, request in requests
    ]
    started = time.perf_counter()
    acks = await asyncio.to_thread(send_burst, payloads)
    answers = await asyncio.gather(*(slack.wait_for(url, timeout=60) for url, _ in requests))
    answered = time.perf_counter() - started
    listings = sum(1 for [a] in answers if str(a.body.get("text", "")).startswith("prod-orders"))
    figures(
        f"(a) ack latency, {commands} concurrent commands, DMS +{latency_ms} ms", acks, 100, "p99"
    )
    print(
        f"    all {commands} answers reached their response_url after {answered:.2f} s "
        f"({listings} task listings, {commands - listings} other answers)"
    )
    sim.set_faults(Faults())


async def warm_click(bot: BotProcess, slack: MockSlack, clicks: int) -> None:
    url = slack.response_url("warm-listing")
    await bot.send(signed_command("prod-orders last 7d limit=5", CHANNEL, "U0BENCHCLICK", url))
    listing = (await slack.wait_for(url, timeout=30))[0].body
    try:
        nxt = button(listing, ActionId.NEXT)
    except LookupError:
        raise SystemExit(f"the listing has no Next button: {listing.get('text')}") from None

    async def click(hook: str) -> float:
        request = signed_click(
            nxt, listing["blocks"], CHANNEL, "U0BENCHCLICK", slack.response_url(hook)
        )
        started = time.perf_counter()
        await bot.send(request)
        [reply] = await slack.wait_for(slack.response_url(hook), timeout=30)
        return reply.received_at - started

    await click("warm-up")
    timings = [await click(f"click{n}") for n in range(clicks)]
    figures(f"(b) warm Next click to replaced message, {clicks} clicks", timings, 20, "p50")
    print(f"    p95 {percentile([t * 1000 for t in timings], 95):.1f} ms")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--commands", type=int, default=100)
    parser.add_argument("--clicks", type=int, default=30)
    parser.add_argument("--latency-ms", type=int, default=3000)
    args = parser.parse_args()
    # The simulator on its own thread and loop, so that its 100 slow answers do not share the
    # loop that times the acks.
    with SimulatorThread(SimulatorConfig()) as sim:
        async with start_mock_slack() as slack:
            await run(sim, slack, args)


async def run(sim: Any, slack: MockSlack, args: argparse.Namespace) -> None:
    instance = next(i for i in sim.instances if i.name == "prod-orders")
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "bot.toml"
        config.write_text(
            bot_config_toml(
                {"prod-orders": {"instance_id": instance.instance_id, "channels": [CHANNEL]}}
            ),
            encoding="utf-8",
        )
        env = bot_env(
            mock=slack,
            dms_endpoint=sim.url,
            config_path=config,
            extra={"DMS_TIMEOUT": str(args.latency_ms / 1000 + 5)},
        )
        async with serve_bot(env) as bot:
            await ack_latency(bot, slack, sim, args.commands, args.latency_ms)
            await warm_click(bot, slack, args.clicks)


if __name__ == "__main__":
    asyncio.run(main())
