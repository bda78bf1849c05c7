"""Digest subscriptions all due at the same moment: how long until the last one is posted, and
how much memory the round takes. Run by hand, not a test; prints a table.

    .venv/bin/python bench/bench_digests.py [--quick] [--by-channel]

Each row is one scheduler round at the due moment (`await DigestScheduler.round()`, with a clock
that reads the due moment when the round starts and then moves in real time) over N daily
digests, each in the SQLite store with yesterday's run posted:

- 1, 100 and 500 digests in distinct channels (the poster spaces posts 1 s apart per channel
  only, so nothing but building and posting limits these), and 500 digests in 10 channels, where
  that spacing alone forces at least 49 s (50 posts per channel, the first at once);
- each digest covers 1 to 3 of the simulator's six instances (22 to 3,000 tasks each) in one of
  five time zones, read through the real DigestService, TaskService, cache and DMS client;
- "due -> last post": from the due moment until the last chat.postMessage arrives at the mock
  Slack Web API; "bound": what per-channel spacing alone forces; "spacing held": whether no
  channel got two posts less than 1 s apart (arrival times; the smallest gap is shown);
- "peak RSS": the bot process's ru_maxrss; "growth": that peak minus the RSS taken just before
  the round (store filled, parts built, garbage collected), and per digest; "msg": the mean size
  of a posted message (JSON), to set the growth against.

The DMS simulator (its own thread) and the mock Slack run in this process; every round runs the
bot's parts (store, digests, poster, scheduler, cold cache) in a fresh process of its own, so that
its peak RSS is that round's alone and holds neither the simulator's data nor the mock's record
of every post. All over loopback. About a minute; `--quick` runs 1, 20 and 100 digests, and 100
in 10 channels (at least 9 s). `--by-channel` stores the digests channel by channel instead of
shuffled (one channel's digests added in a row), the order that costs the scheduler most.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import platform
import random
import resource
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.digest_scheduler import CONCURRENT_DIGESTS, DigestScheduler
from bot.digests import DigestService
from bot.domain.digests import DigestResult, ResultKind, Subscription
from bot.domain.schedule import previous_due
from bot.runtime import Runtime
from bot.service import TaskService
from bot.settings import Settings, with_simulator
from bot.simulator import SimulatorConfig, SimulatorThread
from bot.store import open_store
from tests.slack_mock import BOT_TOKEN, POST_MESSAGE, MockSlack, start_mock_slack

# The digests' zones: one due instant is a different local time in each.
ZONES = ("UTC", "Europe/Berlin", "America/New_York", "Asia/Shanghai", "Asia/Kolkata")
INTERVAL_S = 1.0  # the poster's default spacing per channel
SEED = 20261120
PAGE = os.sysconf("SC_PAGE_SIZE")


@dataclass(frozen=True)
class Scenario:
    subs: int
    channels: int


FULL = (Scenario(1, 1), Scenario(100, 100), Scenario(500, 500), Scenario(500, 10))
QUICK = (Scenario(1, 1), Scenario(20, 20), Scenario(100, 100), Scenario(100, 10))


def channel_ids(scenario: Scenario) -> list[str]:
    return [
        f"C0S{scenario.subs:03d}X{scenario.channels:03d}N{n:03d}" for n in range(scenario.channels)
    ]


def rss_kib() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * PAGE // 1024


# ---- the bot's side: one round in a process of its own ---------------------------------------


def subscriptions(
    scenario: Scenario, channels: list[str], aliases: list[str], due: datetime, by_channel: bool
) -> list[Subscription]:
    """Every channel gets the same number of digests (± 1); stored in a shuffled order, as
    digests added over months would be, or channel by channel (`--by-channel`)."""
    rng = random.Random(SEED + scenario.subs * 1000 + scenario.channels)
    subs = []
    for n in range(scenario.subs):
        zone = ZONES[n % len(ZONES)]
        local = due.astimezone(ZoneInfo(zone))
        sub = Subscription(
            id=f"b{n:05d}",
            channel_id=channels[n % len(channels)],
            targets=tuple(rng.sample(aliases, rng.choice((1, 1, 2, 3)))),
            at=clock_time(local.hour, local.minute),
            tz=zone,
            created_by="U0BENCH",
            created_at=due - timedelta(days=30),
        )
        # Yesterday's run was posted: the round at `due` has exactly today's run to post.
        yesterday = previous_due(sub, due)
        posted = DigestResult(ResultKind.POSTED, yesterday + timedelta(seconds=3), yesterday)
        subs.append(replace(sub, last_result=posted))
    rng.shuffle(subs)
    if by_channel:
        subs.sort(key=lambda sub: sub.channel_id)
    return subs


async def bot_round(spec: dict[str, Any]) -> dict[str, Any]:
    scenario = Scenario(spec["subs"], spec["channels"])
    settings = Settings.model_validate(
        {
            "DMS_BOT_CONFIG": spec["config"],
            "DMS_BOT_DB": spec["db"],
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_API_URL": spec["api_url"],
        }
    )
    runtime = Runtime(with_simulator(settings, spec["sim_url"]), with_slack=False)
    _, poster = runtime.open_poster()  # the Web client and poster the bot itself builds
    store = await open_store(spec["db"], None)
    # The due moment: a whole minute, as digest times are; the clock reads it when the round
    # starts and moves in real time from there.
    due = datetime.now(UTC).replace(second=0, microsecond=0)
    started = 0.0

    def clock() -> datetime:
        return due + timedelta(seconds=time.perf_counter() - started)

    try:
        for sub in subscriptions(
            scenario, spec["channel_ids"], spec["aliases"], due, spec["by_channel"]
        ):
            await store.add(sub)
        digests = DigestService(TaskService(runtime.settings, runtime.cache, clock=clock), store)
        scheduler = DigestScheduler(
            store, digests, poster, grace=settings.digest_grace, clock=clock, owner="bench"
        )
        gc.collect()
        baseline, peak_before = rss_kib(), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        started = time.perf_counter()
        await scheduler.round()
        finished = time.perf_counter()
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        results = Counter(
            s.last_result.kind.value if s.last_result and s.last_result.due == due else "none"
            for s in await store.all()
        )
    finally:
        await store.close()
        await runtime.stop()
    return {
        "due_at": started,  # time.perf_counter() (CLOCK_MONOTONIC, shared by every process)
        "round_s": finished - started,
        "baseline_kib": baseline,
        "peak_before_kib": peak_before,
        "peak_kib": peak,
        "results": dict(results),
    }


def bot_main() -> None:
    spec = json.loads(sys.stdin.read())
    print(json.dumps(asyncio.run(bot_round(spec))), flush=True)


# ---- this side: the simulator, the mock Slack, the figures -----------------------------------


@dataclass
class Row:
    scenario: Scenario
    posts: int
    results: dict[str, int]
    last_post_s: float
    round_s: float
    bound_s: float
    peak_mib: float
    growth_mib: float
    growth_per_sub_kib: float
    message_kib: float
    spacing_held: bool
    min_gap_s: float | None
    peak_before_mib: float


def config_toml(aliases: dict[str, str], channels: list[str]) -> str:
    return "".join(
        f'[instances.{alias}]\ninstance_id = "{instance_id}"\nchannels = {json.dumps(channels)}\n'
        for alias, instance_id in aliases.items()
    )


async def run_scenario(
    scenario: Scenario,
    sim_url: str,
    slack: MockSlack,
    aliases: dict[str, str],
    tmp: Path,
    by_channel: bool,
) -> Row:
    channels = channel_ids(scenario)
    slack.member_of.update(channels)
    name = f"s{scenario.subs}-c{scenario.channels}"
    config = tmp / f"{name}.toml"
    config.write_text(config_toml(aliases, channels), encoding="utf-8")
    spec = {
        "subs": scenario.subs,
        "channels": scenario.channels,
        "channel_ids": channels,
        "aliases": sorted(aliases),
        "config": str(config),
        "db": str(tmp / f"{name}.db"),
        "sim_url": sim_url,
        "api_url": slack.api_url,
        "by_channel": by_channel,
    }
    mark = len(slack.calls)
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        __file__,
        "--bot-round",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await asyncio.wait_for(child.communicate(json.dumps(spec).encode()), timeout=900)
    if child.returncode != 0:
        raise SystemExit(f"the bot's round for {name} failed (exit {child.returncode})")
    found = json.loads(out.decode().strip().splitlines()[-1])
    posts = [c for c in slack.calls[mark:] if c.path == POST_MESSAGE and c.status == 200]
    arrivals: dict[str, list[float]] = defaultdict(list)
    for call in posts:
        arrivals[str(call.body.get("channel"))].append(call.received_at)
    gaps = [
        later - earlier
        for times in arrivals.values()
        for earlier, later in zip(sorted(times), sorted(times)[1:], strict=False)
    ]
    per_channel = Counter(n % scenario.channels for n in range(scenario.subs))
    growth_kib = max(0, found["peak_kib"] - found["baseline_kib"])
    return Row(
        scenario=scenario,
        posts=len(posts),
        results=found["results"],
        last_post_s=max((c.received_at for c in posts), default=float("nan")) - found["due_at"],
        round_s=found["round_s"],
        bound_s=(max(per_channel.values()) - 1) * INTERVAL_S,
        peak_mib=found["peak_kib"] / 1024,
        growth_mib=growth_kib / 1024,
        growth_per_sub_kib=growth_kib / scenario.subs,
        message_kib=sum(len(json.dumps(c.body)) for c in posts) / max(len(posts), 1) / 1024,
        spacing_held=all(gap >= INTERVAL_S for gap in gaps),
        min_gap_s=min(gaps) if gaps else None,
        peak_before_mib=found["peak_before_kib"] / 1024,
    )


def print_table(rows: list[Row], tasks: dict[str, int], order: str) -> None:
    print(
        f"Digests due at one moment, stored {order}; {len(tasks)} instances ("
        + ", ".join(f"{name} {count}" for name, count in tasks.items())
        + f" tasks); {CONCURRENT_DIGESTS} digests at once (CONCURRENT_DIGESTS)"
    )
    print(
        f"cpus {os.cpu_count()}, Python {platform.python_version()}, {platform.machine()}; "
        "bot in its own process, simulator and mock Slack in this one, loopback"
    )
    print()
    head = (
        f"{'digests':>7} {'channels':>8} {'posted':>6} {'due->last post':>14} {'bound':>6} "
        f"{'peak RSS':>9} {'growth':>9} {'per digest':>10} {'msg':>7}"
    )
    print(head)
    print("-" * len(head))
    for r in rows:
        print(
            f"{r.scenario.subs:>7} {r.scenario.channels:>8} {r.posts:>6} "
            f"{r.last_post_s:>12.2f} s {r.bound_s:>4.0f} s "
            f"{r.peak_mib:>5.1f} MiB {r.growth_mib:>5.1f} MiB {r.growth_per_sub_kib:>6.1f} KiB "
            f"{r.message_kib:>3.1f} KiB"
        )
    print()
    for r in rows:
        where = f"{r.scenario.subs} in {r.scenario.channels}:"
        held = "yes" if r.spacing_held else "no"
        gap = (
            f"smallest gap between two posts to one channel {r.min_gap_s:.3f} s"
            if r.min_gap_s is not None
            else "one post per channel"
        )
        print(f"{where:<11} per-channel spacing held: {held} ({gap})")
        odd = {k: v for k, v in r.results.items() if k != "posted"}
        if odd or r.posts != r.scenario.subs:
            print(f"{'':<11} results not all posted: {r.results}")
        if r.peak_before_mib >= r.peak_mib:
            print(f"{'':<11} the peak came before the round (set-up): its growth is an upper bound")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="1, 20, 100, and 100 in 10 channels")
    parser.add_argument(
        "--by-channel",
        action="store_true",
        help="store the digests channel by channel instead of shuffled",
    )
    args = parser.parse_args()
    anchor = datetime.now(UTC).replace(second=0, microsecond=0)
    with SimulatorThread(SimulatorConfig(now=anchor)) as sim:
        aliases = {i.name: i.instance_id for i in sim.instances}
        tasks = {i.name: len(i.tasks) for i in sim.instances}
        async with start_mock_slack() as slack:
            with tempfile.TemporaryDirectory(prefix="bench-digests-") as tmp:
                rows = [
                    await run_scenario(
                        scenario, sim.url, slack, aliases, Path(tmp), args.by_channel
                    )
                    for scenario in (QUICK if args.quick else FULL)
                ]
    print_table(rows, tasks, "channel by channel" if args.by_channel else "shuffled")


if __name__ == "__main__":
    if sys.argv[1:] == ["--bot-round"]:
        bot_main()
    else:
        asyncio.run(main())
