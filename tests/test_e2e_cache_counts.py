"""Upstream call counts of triage at scale, counted at the DMS simulator (never timed); the
figures bench/bench_triage.py prints beside its timings.

On a real `dms-tasks-bot serve` process (the mock Slack and a simulator with 20 extra instances
of 500 tasks each, and bulk-audit holding 2,000 tasks of which 3 are running):
- `all last 24h` over the 20, cold: no more list calls than the 100-task pages that exist for
  what the answer reads per instance (its window and its look-back for tasks still running, one
  union per instance); asked again at once: no call at all;
- Refresh of a warm 2,000-task window once it is no longer fresh (the test waits out the 15 s
  of real time, as a process's clock cannot be moved): one list call plus one per running task.

In process (TaskService, AlertScheduler, DigestService over the real cache and client, with an
injected clock), because 10 alert intervals of 60 s and the 300 s full re-read cannot be waited
for in a test: 100 alerts and 100 daily digests over the 20 instances, nothing changing, cost at
most one call per instance per interval after the first (cold) one.
"""

from __future__ import annotations

import asyncio
import json
import math
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import pytest_asyncio
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
from bot.service import TaskService
from bot.settings import Settings, with_simulator
from bot.simulator import DEMO_AK, DEMO_SK, RunningSimulator, SimulatorConfig, start_simulator
from bot.simulator.model import SimInstance
from bot.store import AlertStore, open_store
from tests.e2e_harness import (
    BotProcess,
    bot_config_toml,
    bot_env,
    button,
    serve_bot,
    signed_click,
    signed_command,
)
from tests.slack_mock import BOT_TOKEN, DEFAULT_TZ, POST_MESSAGE, MockSlack, start_mock_slack

pytestmark = pytest.mark.asyncio(loop_scope="module")

ONCALL, AUDIT, ALICE = "C0ONCALL", "C0AUDIT", "U0ALICE"
EXTRA, TASKS, PAGE = 20, 500, 100
BULK, RUNNING = 2000, 3
LOOKBACK_DAYS = 7  # DMS_BOT_RUNNING_LOOKBACK_DAYS, its default
FRESH_S = 15.0  # how long a live window is served without a call (TaskCache live_ttl_s)
INTERVAL_S = 60.0
INTERVALS = 10


def pages(count: int) -> int:
    return max(1, math.ceil(count / PAGE))  # an empty window is still one request


def from_day(begin: datetime, days: int) -> datetime:
    day = begin.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return day - timedelta(days=days)


def created_since(inst: SimInstance, begin: datetime) -> int:
    return sum(1 for t in inst.tasks if inst.created_of(t) >= begin)


def extras(sim: RunningSimulator) -> list[SimInstance]:
    return [i for i in sim.instances if i.name.startswith("extra-")]


@dataclass
class Stack:
    sim: RunningSimulator
    slack: MockSlack
    bot: BotProcess
    cold: dict[str, int] = field(default_factory=dict)

    async def command(self, text: str, channel: str) -> dict[str, Any]:
        url = self.slack.response_url()
        ack = await self.bot.send(signed_command(text, channel, ALICE, url))
        assert ack.status_code == 200, ack.text
        [answer] = await self.slack.wait_for(url, timeout=20)
        return answer.body

    async def click(self, message: dict[str, Any], action: ActionId, channel: str) -> Any:
        url = self.slack.response_url()
        pressed = button(message, action)
        ack = await self.bot.send(signed_click(pressed, message["blocks"], channel, ALICE, url))
        assert ack.status_code == 200, ack.text
        [answer] = await self.slack.wait_for(url, timeout=20)
        return answer.body

    async def cold_all(self) -> dict[str, int]:
        """`all last 24h` once, on a cold cache: its list calls and the pages that exist."""
        if not self.cold:
            self.sim.reset_stats()
            answer = await self.command("all last 24h", ONCALL)
            assert f"*All {EXTRA} instances* here" in json.dumps(answer, ensure_ascii=False)
            window = ButtonState.decode(button(answer, ActionId.REFRESH)["value"]).query.window
            floor = from_day(window.begin, LOOKBACK_DAYS)
            self.cold = {
                "list_calls": self.sim.stats["list_tasks"],
                "other_calls": sum(self.sim.stats.values()) - self.sim.stats["list_tasks"],
                "union_pages": sum(pages(created_since(i, floor)) for i in extras(self.sim)),
            }
        return self.cold


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    config = SimulatorConfig(
        bulk_tasks=BULK - RUNNING, extra_instances=EXTRA, tasks_per_extra=TASKS
    )
    async with start_simulator(config) as sim, start_mock_slack() as slack:
        for n in range(RUNNING):
            created = sim.now() - timedelta(hours=1 + n, minutes=7)
            sim.add_task("bulk-audit", "extendBroker", "EXECUTING", created=created)
        entries: dict[str, dict[str, Any]] = {
            i.name: {"instance_id": i.instance_id, "channels": [ONCALL]} for i in extras(sim)
        }
        # Another channel's: `all` in ONCALL never reads it.
        entries["bulk-audit"] = {
            "instance_id": sim.instance("bulk-audit").instance_id,
            "channels": [AUDIT],
        }
        path = tmp_path_factory.mktemp("e2e-counts") / "bot.toml"
        path.write_text(bot_config_toml(entries), "utf-8")
        async with serve_bot(bot_env(mock=slack, dms_endpoint=sim.url, config_path=path)) as bot:
            yield Stack(sim, slack, bot)


async def test_all_last_24h_cold_reads_every_instance_and_lists_nothing_else(
    stack: Stack,
) -> None:
    cold = await stack.cold_all()
    # Every page that exists must be read once at least, and nothing but task lists is asked.
    assert cold["list_calls"] >= cold["union_pages"]
    assert cold["other_calls"] == 0


async def test_all_last_24h_cold_lists_no_more_pages_than_exist(stack: Stack) -> None:
    cold = await stack.cold_all()
    assert cold["list_calls"] <= cold["union_pages"], cold


async def test_all_asked_again_at_once_makes_no_call(stack: Stack) -> None:
    await stack.cold_all()
    stack.sim.reset_stats()
    answer = await stack.command("all last 24h", ONCALL)
    assert f"*All {EXTRA} instances* here" in json.dumps(answer, ensure_ascii=False)
    assert dict(stack.sim.stats) == {}


async def test_refresh_of_a_warm_window_lists_once_and_looks_at_each_running_task(
    stack: Stack,
) -> None:
    # A fixed start (`since`), so the window holds the same 2,000 tasks and its look-back the
    # same days when Refresh moves the end to now.
    since = (datetime.now(UTC) - timedelta(days=8)).astimezone(ZoneInfo(DEFAULT_TZ))
    first = await stack.command(f"bulk-audit since {since:%Y-%m-%d %H:%M}", AUDIT)
    inst = stack.sim.instance("bulk-audit")
    window = ButtonState.decode(button(first, ActionId.REFRESH)["value"]).query.window
    assert created_since(inst, window.begin) == BULK
    assert f": {BULK} tasks (" in first["text"]
    running = sum(1 for t in inst.tasks if t["status"] == "EXECUTING")
    assert running == RUNNING
    await asyncio.sleep(FRESH_S + 1)
    stack.sim.reset_stats()
    again = await stack.click(first, ActionId.REFRESH, AUDIT)
    assert f": {BULK} tasks (" in again["text"]
    calls = dict(stack.sim.stats)
    assert sum(calls.values()) <= 1 + running, calls
    assert calls == {"list_tasks": 1, "show_task": running}  # against 20 pages for a re-read


# ---- in process: alerts and digests over quiet intervals -------------------------------------


@dataclass
class Quiet:
    alerts: list[list[int]]  # per interval after the first: each instance's calls by alerts
    digests: list[list[int]]  # and by the digests built in that interval
    posts: int


async def quiet_intervals(tmp_path: Path) -> Quiet:
    start = datetime.now(UTC).replace(microsecond=0)
    moment = [datetime.fromtimestamp(math.ceil(start.timestamp() / INTERVAL_S) * INTERVAL_S, UTC)]
    config = SimulatorConfig(now=start, bulk_tasks=10, extra_instances=EXTRA, tasks_per_extra=TASKS)
    async with start_simulator(config) as sim, start_mock_slack(member_of={ONCALL}) as slack:
        names = [i.name for i in extras(sim)]
        entries = {
            i.name: {"instance_id": i.instance_id, "channels": [ONCALL]} for i in extras(sim)
        }
        (tmp_path / "bot.toml").write_text(bot_config_toml(entries), "utf-8")
        settings = with_simulator(
            Settings.model_validate({"DMS_BOT_CONFIG": str(tmp_path / "bot.toml")}), sim.url
        )
        client = DmsClient(
            auth=AkSkAuth(DEMO_AK, DEMO_SK),
            endpoint_for=settings.endpoint_for,
            retry=RetryPolicy(budget_s=0.5),
        )
        service = TaskService(
            settings, TaskCache(client, clock=lambda: moment[0]), clock=lambda: moment[0]
        )
        store = await open_store(
            str(tmp_path / "bot.db"), None, clock=lambda: moment[0].timestamp()
        )
        rng = random.Random(20261201)

        def targets(n: int) -> tuple[str, ...]:
            return (
                (ALL_TARGETS,) if n % 10 == 0 else tuple(rng.sample(names, rng.choice((1, 2, 3))))
            )

        for n in range(100):
            alert = Alert(f"q{n:05d}", ONCALL, targets(n), moment[0], n % 3 == 0, ALICE)
            await AlertStore(store).add(alert)
        digest_targets = [targets(n) for n in range(100)]
        poster = SlackPoster(AsyncWebClient(token=BOT_TOKEN, base_url=slack.api_url))
        scheduler = AlertScheduler(
            store,
            AlertService(service, store),
            poster,
            interval_s=INTERVAL_S,
            clock=lambda: moment[0],
        )
        digests = DigestService(service)
        by_alerts: list[list[int]] = []
        by_digests: list[list[int]] = []
        try:
            for step in range(INTERVALS + 1):
                sim.reset_stats()
                assert (await scheduler.round()).instances == EXTRA
                alerting = sim.instance_counts()
                sim.reset_stats()
                due = moment[0]
                # The 10 digests due now (one of them on all), each over the day before.
                for chosen in digest_targets[(step % INTERVALS) * 10 :][:10]:
                    report = await digests.build(ONCALL, chosen, due - timedelta(days=1), due)
                    assert not any(p.unavailable for p in report.instances)
                digesting = sim.instance_counts()
                if step:
                    ids = [i.instance_id for i in extras(sim)]
                    by_alerts.append([sum(alerting.get(i, {}).values()) for i in ids])
                    by_digests.append([sum(digesting.get(i, {}).values()) for i in ids])
                moment[0] += timedelta(seconds=INTERVAL_S)
        finally:
            await store.close()
            await client.aclose()
        return Quiet(by_alerts, by_digests, len(slack.calls_to(POST_MESSAGE)))


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def quiet(tmp_path_factory: pytest.TempPathFactory) -> Quiet:
    return await quiet_intervals(tmp_path_factory.mktemp("quiet"))


async def test_quiet_alert_rounds_read_each_instance_once_before_the_full_re_read(
    quiet: Quiet,
) -> None:
    assert quiet.posts == 0
    # Intervals 1 to 4 (60 to 240 s after the cold read): one list call per instance each.
    assert quiet.alerts[:4] == [[1] * EXTRA] * 4


async def test_quiet_alert_rounds_read_each_instance_at_most_once_per_interval(
    quiet: Quiet,
) -> None:
    assert max(max(calls) for calls in quiet.alerts) <= 1, quiet.alerts


async def test_quiet_alerts_and_digests_call_each_instance_at_most_once_per_interval(
    quiet: Quiet,
) -> None:
    totals = [
        [a + d for a, d in zip(alerts, digests, strict=True)]
        for alerts, digests in zip(quiet.alerts, quiet.digests, strict=True)
    ]
    assert max(max(calls) for calls in totals) <= 1, totals
