"""The alert use cases (`alert add | list | remove`) through the real service, cache and client
against the DMS simulator, a real SQLite store and the real poster against the mock Slack Web
API; and the rig the alert job's tests share (tests/test_alert_scheduler.py).

One injected clock drives the service, the cache, the store's claim expiry and the poster's
spacing. It starts at the simulator's own anchor (the real time, to the second), so that tasks
the simulator adds or moves on during a test carry times after an alert added "now", while its
seeded history lies before it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.alert_scheduler import AlertScheduler
from bot.alerts import AlertService
from bot.blockkit import check_posted_message
from bot.dms.auth import AkSkAuth
from bot.dms.cache import TaskCache
from bot.dms.client import DmsClient, RetryPolicy
from bot.domain.alerts import ALL_TARGETS, Alert, AlertAdded, AlertListing, AlertRemoved
from bot.poster import SlackPoster
from bot.render import render_text
from bot.render.alerts import render_alert_outcome
from bot.report import Problem
from bot.service import Requester, TaskService
from bot.settings import Settings, with_simulator
from bot.simulator import DEMO_AK, DEMO_SK, RunningSimulator, SimulatorConfig, start_simulator
from bot.store import AlertStore, Store, open_store
from tests.slack_mock import BOT_TOKEN, POST_MESSAGE, MockSlack, RecordedCall, start_mock_slack

CHANNEL = "C0ALERTS"
OTHER = "C0OTHER"
PUBLIC_NOT_MEMBER = "C0NOTMEMBER"
PRIVATE_GONE = "G0GONE"
OWNER = "U0OWNER"
MANAGER = "U0MANAGER"
INTERVAL_S = 60.0
GHOST_ID = "00000000-0000-4000-8000-000000000000"
# Aliases of the config file -> the simulator's instance names.
ALIASES = {
    "prod-orders": "prod-orders",
    "billing": "prod-billing",
    "dr": "prod-orders-dr",
    "staging": "staging-events",
    "edge": "edge-cases",
}


class Clock:
    """Wall time for every part at once; it moves when a test sets it or the code sleeps."""

    def __init__(self, start: datetime) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def utc(self) -> datetime:
        return self.now

    def epoch(self) -> float:
        return self.now.timestamp()

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += timedelta(seconds=seconds)
        await asyncio.sleep(0)  # let other tasks run, as a real sleep would


@dataclass
class Rig:
    sim: RunningSimulator
    slack: MockSlack
    settings: Settings
    db: Path
    clock: Clock
    stores: list[Store] = field(default_factory=list)
    clients: list[DmsClient] = field(default_factory=list)

    async def store(self) -> Store:
        """A new store object on the same SQLite file, as a restarted or second process has."""
        store = await open_store(str(self.db), None, clock=self.clock.epoch)
        self.stores.append(store)
        return store

    def service(self) -> TaskService:
        """A service with a cache of its own, as each process has."""
        client = DmsClient(
            auth=AkSkAuth(DEMO_AK, DEMO_SK),
            endpoint_for=self.settings.endpoint_for,
            retry=RetryPolicy(budget_s=0.2),
        )
        self.clients.append(client)
        return TaskService(
            self.settings, TaskCache(client, clock=self.clock.utc), clock=self.clock.utc
        )

    def poster(self) -> SlackPoster:
        client = AsyncWebClient(token=BOT_TOKEN, base_url=self.slack.api_url)
        return SlackPoster(client, clock=self.clock.epoch, sleep=self.clock.sleep)

    async def alerts(self, store: Store | None = None) -> AlertService:
        return AlertService(self.service(), store or await self.store())

    async def scheduler(
        self, owner: str = "replica-a", *, store: Store | None = None, poster: Any = None
    ) -> AlertScheduler:
        """A scheduler as one process runs it: its own store object, cache and poster."""
        store = store or await self.store()
        return AlertScheduler(
            store,
            await self.alerts(store),
            poster or self.poster(),
            interval_s=INTERVAL_S,
            clock=self.clock.utc,
            sleep=self.clock.sleep,
            owner=owner,
        )

    async def add_alert(
        self,
        *targets: str,
        stuck: bool = False,
        channel: str = CHANNEL,
        alert_id: str = "k3m9qa",
        created_at: datetime | None = None,
    ) -> Alert:
        alert = Alert(
            id=alert_id,
            channel_id=channel,
            targets=targets or ("prod-orders",),
            created_at=created_at or self.clock.now,
            stuck=stuck,
            created_by=OWNER,
        )
        await AlertStore(self.stores[-1] if self.stores else await self.store()).add(alert)
        return alert

    def posts(self, channel: str | None = None) -> list[RecordedCall]:
        """Every chat.postMessage the mock received (to `channel`), answered or refused."""
        return [
            c
            for c in self.slack.calls_to(POST_MESSAGE)
            if channel is None or c.body.get("channel") == channel
        ]

    def fail(
        self,
        task_name: str = "kafkaResetConsumerOffset",
        instance: str = "prod-orders",
        *,
        params: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """A task that starts now and then fails, as a console action would."""
        task = self.sim.add_task(
            instance,
            task_name,
            "EXECUTING",
            created=self.clock.now,
            params=params,
            user_name="bob.ops",
        )
        return self.sim.set_task_status(task["id"], "FAILED")


def blocks(call: RecordedCall) -> list[dict[str, Any]]:
    raw = call.body.get("blocks", [])
    parsed = json.loads(raw) if isinstance(raw, str) else raw
    assert isinstance(parsed, list)
    return parsed


def text_of(call: RecordedCall) -> str:
    """What a post says, as the terminal shows it, without mrkdwn's bold stars."""
    message = {"text": call.body.get("text", ""), "blocks": blocks(call)}
    check_posted_message(message)
    return render_text(message).replace("*", "")


def config_text(sim: RunningSimulator, managers: list[str] | None = None) -> str:
    channels = json.dumps([CHANNEL, OTHER, PUBLIC_NOT_MEMBER, PRIVATE_GONE])
    lines = []
    for alias, name in ALIASES.items():
        lines += [f"[instances.{alias}]", f'instance_id = "{sim.instance(name).instance_id}"']
        # billing is this channel's only: OTHER may not see it.
        lines.append(
            f'channels = ["{CHANNEL}"]' if alias == "billing" else f"channels = {channels}"
        )
    lines += ["[instances.ghost]", f'instance_id = "{GHOST_ID}"', f"channels = {channels}"]
    if managers is not None:
        lines += ["[digests]", f"managers = {json.dumps(managers)}"]
    return "\n".join(lines) + "\n"


@asynccontextmanager
async def open_rig(
    tmp_path: Path, *, managers: list[str] | None = None, lookback_days: int = 7
) -> AsyncIterator[Rig]:
    start = datetime.now(UTC).replace(microsecond=0)
    async with start_simulator(SimulatorConfig(now=start, bulk_tasks=50)) as sim:
        config = tmp_path / "bot.toml"
        config.write_text(config_text(sim, managers), encoding="utf-8")
        settings = Settings.model_validate(
            {
                "DMS_BOT_CONFIG": str(config),
                "DMS_RETRY_BUDGET": 0.2,
                "DMS_BOT_RUNNING_LOOKBACK_DAYS": lookback_days,
            }
        )
        async with start_mock_slack(member_of={CHANNEL, OTHER}) as slack:
            slack.public_channels.add(PUBLIC_NOT_MEMBER)
            rig = Rig(
                sim, slack, with_simulator(settings, sim.url), tmp_path / "bot.db", Clock(start)
            )
            try:
                yield rig
            finally:
                for store in rig.stores:
                    await store.close()
                for client in rig.clients:
                    await client.aclose()


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    async with open_rig(tmp_path) as opened:
        yield opened


def who(channel: str = CHANNEL, user: str = OWNER) -> Requester:
    return Requester(channel, user, ZoneInfo("Europe/Berlin"))


async def run(
    rig: Rig, text: str, requester: Requester | None = None, *, announce: bool = True
) -> Any:
    alerts = await rig.alerts(rig.stores[-1] if rig.stores else None)
    poster = rig.poster()
    outcome = await alerts.command(text, requester or who(), poster.post if announce else None)
    if not isinstance(outcome, Problem):
        check_posted_message(render_alert_outcome(outcome))
    return outcome


# ---- alert add ---------------------------------------------------------------------------------


async def test_add_announces_in_the_channel_and_starts_from_now(rig: Rig) -> None:
    outcome = await run(rig, "alert add prod-orders,billing stuck")
    assert isinstance(outcome, AlertAdded)
    alert = outcome.view.alert
    assert alert.channel_id == CHANNEL and alert.created_by == OWNER
    assert alert.targets == ("prod-orders", "billing") and alert.stuck
    assert alert.created_at == rig.clock.now
    assert outcome.view.covers == ("prod-orders", "billing")
    (announcement,) = rig.posts(CHANNEL)
    said = text_of(announcement)
    assert "added an alert here" in said and "prod-orders and billing" in said
    assert "fail or run far too long" in said
    assert await AlertStore(rig.stores[-1]).all() == [alert]
    reply = render_text(render_alert_outcome(outcome))
    assert f"alert remove {alert.id}" in reply


@pytest.mark.parametrize(
    ("channel", "reason"),
    [(PUBLIC_NOT_MEMBER, "not_in_channel"), (PRIVATE_GONE, "channel_not_found")],
)
async def test_add_where_the_bot_cannot_post_says_how_to_fix_it_and_keeps_nothing(
    rig: Rig, channel: str, reason: str
) -> None:
    outcome = await run(rig, "alert add prod-orders", who(channel))
    assert isinstance(outcome, Problem)
    assert reason in outcome.summary and "/invite @dms-tasks-bot" in outcome.hint
    assert await AlertStore(rig.stores[-1]).all() == []


@pytest.mark.parametrize(
    ("text", "named", "example"),
    [
        ("alert add billing", "billing (not available in this channel)", "alert add all"),
        ("alert add prod-orders,nope", "nope (no such instance)", "alert add prod-orders"),
    ],
)
async def test_add_of_what_the_channel_may_not_see_names_it(
    rig: Rig, text: str, named: str, example: str
) -> None:
    outcome = await run(rig, text, who(OTHER))
    assert isinstance(outcome, Problem)
    assert named in outcome.summary
    assert outcome.example == f"/dms-tasks {example}"
    assert rig.posts() == [] and await AlertStore(rig.stores[-1]).all() == []


async def test_a_bad_command_is_a_problem_with_a_command_that_works(rig: Rig) -> None:
    outcome = await run(rig, "alert add prod-orders hourly")
    assert isinstance(outcome, Problem)
    assert '"hourly"' in outcome.summary
    assert outcome.example == "/dms-tasks alert add prod-orders stuck"


# ---- alert list, alert remove --------------------------------------------------------------------


async def test_list_shows_this_channels_alerts_and_what_all_covers(rig: Rig) -> None:
    await rig.add_alert("prod-orders", alert_id="aaaa22")
    await rig.add_alert(ALL_TARGETS, alert_id="bbbb33", stuck=True)
    await rig.add_alert("prod-orders", channel=OTHER, alert_id="cccc44")
    outcome = await run(rig, "alert list")
    assert isinstance(outcome, AlertListing)
    assert [v.alert.id for v in outcome.alerts] == ["aaaa22", "bbbb33"]
    assert set(outcome.alerts[1].covers) == set(ALIASES) | {"ghost"}
    text = render_text(render_alert_outcome(outcome))
    assert "2 alerts in this channel" in text and "cccc44" not in text
    await rig.add_alert(ALL_TARGETS, channel=OTHER, alert_id="dddd55")
    other = await run(rig, "alert list", who(OTHER))
    assert [v.alert.id for v in other.alerts] == ["cccc44", "dddd55"]
    # `all` in OTHER does not reach billing, which only CHANNEL may see.
    assert set(other.alerts[1].covers) == set(ALIASES) - {"billing"} | {"ghost"}


async def test_remove_only_this_channels_alert(rig: Rig) -> None:
    await rig.add_alert("prod-orders", channel=OTHER, alert_id="cccc44")
    refused = await run(rig, "alert remove cccc44")
    assert isinstance(refused, Problem)
    assert refused.summary == "This channel has no alert cccc44."
    assert refused.example == "/dms-tasks alert list"
    assert await AlertStore(rig.stores[-1]).get("cccc44") is not None
    removed = await run(rig, "alert remove CCCC44", who(OTHER))
    assert isinstance(removed, AlertRemoved) and removed.alert.id == "cccc44"
    assert await AlertStore(rig.stores[-1]).all() == []
    again = await run(rig, "alert remove cccc44", who(OTHER))
    assert isinstance(again, Problem)


async def test_managers_alone_add_and_remove_and_everyone_lists(tmp_path: Path) -> None:
    async with open_rig(tmp_path, managers=[MANAGER]) as rig:
        refused = await run(rig, "alert add prod-orders")
        assert isinstance(refused, Problem) and "Only certain people" in refused.summary
        assert rig.posts() == []
        added = await run(rig, "alert add prod-orders", who(user=MANAGER))
        assert isinstance(added, AlertAdded)
        alert_id = added.view.alert.id
        listed = await run(rig, "alert list")
        assert isinstance(listed, AlertListing) and len(listed.alerts) == 1
        refused = await run(rig, f"alert remove {alert_id}")
        assert isinstance(refused, Problem) and "Only certain people" in refused.summary
        assert isinstance(
            await run(rig, f"alert remove {alert_id}", who(user=MANAGER)), AlertRemoved
        )


async def test_whoever_added_a_paused_alert_hears_of_it_once(rig: Rig) -> None:
    await rig.add_alert("prod-orders")
    alerts = await rig.alerts(rig.stores[-1])
    assert await alerts.notices_for(OWNER) == []
    await AlertStore(rig.stores[-1]).set_paused("k3m9qa", "is_archived")
    (notice,) = await alerts.notices_for(OWNER)
    assert "k3m9qa" in notice and "is_archived" in notice and "add the alert again" in notice
    # Once, across replicas: another service on another store object hears nothing more.
    other = await rig.alerts(await rig.store())
    assert await other.notices_for(OWNER) == [] and await alerts.notices_for(OWNER) == []
    assert await alerts.notices_for("U0SOMEONE") == []
