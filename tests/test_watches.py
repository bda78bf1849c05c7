"""The watch use cases (Watch, Stop watching) through the real service, cache and client against
the DMS simulator, the real poster against the mock Slack Web API (with chat.update, from
tests/test_poster.py), and an in-memory WatchStore; and the rig the job's tests share
(tests/test_watch_runner.py).

One injected clock drives the service, the cache, the store's claim expiry and the poster's
spacing. It starts at the simulator's own anchor (the real time, to the second), so tasks the
simulator adds during a test carry times the watch sees as "now".
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

from bot.blockkit import check_posted_message
from bot.dms.auth import AkSkAuth
from bot.dms.cache import TaskCache
from bot.dms.client import DmsClient, RetryPolicy
from bot.domain.watches import (
    AlreadyFinished,
    AlreadyWatched,
    NotWatching,
    Stopping,
    StopRefused,
    StopValue,
    TooManyWatches,
    Watch,
    WatchLimits,
    WatchStarted,
    WatchValue,
)
from bot.poster import SlackPoster
from bot.render import render_text
from bot.report import Problem, Refusal, UnknownInstance
from bot.service import Requester, TaskService
from bot.settings import Settings, with_simulator
from bot.simulator import DEMO_AK, DEMO_SK, RunningSimulator, SimulatorConfig, start_simulator
from bot.watch_runner import WatchRunner
from bot.watches import WatchService
from tests.slack_mock import BOT_TOKEN, POST_MESSAGE, RecordedCall
from tests.test_poster import UPDATE, EditingSlack, start_editing_slack

CHANNEL = "C0ONCALL"
OTHER = "C0OTHER"
PUBLIC_NOT_MEMBER = "C0NOTMEMBER"
OWNER = "U0OWNER"
BOB = "U0BOB"
CAROL = "U0CAROL"
BERLIN = ZoneInfo("Europe/Berlin")


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
        await asyncio.sleep(0)

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class MemoryWatchStore:
    """The WatchStore protocol in memory, as the real store would back it: watches kept as the
    JSON text of `to_json()` (so every test also proves they survive the trip), claims and done
    markers with expiry on the injected clock. One object shared by two services stands for
    two replicas on one store, or a restarted process on the same store."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self.bodies: dict[str, str] = {}
        self._claims: dict[str, tuple[str, float]] = {}  # key -> (owner, expires)
        self._done: dict[str, float] = {}  # key -> expires
        self.fail_updates_of: set[str] = set()  # ids whose update raises, as a broken backend

    def _now(self) -> float:
        return self._clock.epoch()

    async def add(self, watch: Watch) -> bool:
        if watch.id in self.bodies:
            return False
        self.bodies[watch.id] = json.dumps(watch.to_json())
        return True

    async def get(self, watch_id: str) -> Watch | None:
        body = self.bodies.get(watch_id)
        return None if body is None else Watch.from_json(json.loads(body))

    async def all(self) -> list[Watch]:
        return [Watch.from_json(json.loads(b)) for b in self.bodies.values()]

    async def update(self, watch: Watch) -> bool:
        if watch.id in self.fail_updates_of:
            raise OSError("the store is broken for this watch")
        if watch.id not in self.bodies:
            return False
        self.bodies[watch.id] = json.dumps(watch.to_json())
        return True

    async def remove(self, watch_id: str) -> bool:
        return self.bodies.pop(watch_id, None) is not None

    async def claim(self, key: str, owner: str, ttl_s: float) -> bool:
        now = self._now()
        if self._done.get(key, 0) > now:
            return False
        held = self._claims.get(key)
        if held is not None and held[1] > now:
            return False
        self._claims[key] = (owner, now + ttl_s)
        return True

    async def release(self, key: str, owner: str) -> None:
        held = self._claims.get(key)
        if held is not None and held[0] == owner:
            del self._claims[key]

    async def completed(self, key: str) -> bool:
        return self._done.get(key, 0) > self._now()

    async def mark_done(self, key: str, keep_s: float) -> None:
        self._claims.pop(key, None)
        self._done[key] = self._now() + keep_s


@dataclass
class Rig:
    sim: RunningSimulator
    slack: EditingSlack
    settings: Settings
    clock: Clock
    store: MemoryWatchStore
    clients: list[DmsClient] = field(default_factory=list)

    def service(self) -> TaskService:
        """A service with a cache and client of its own, as each process has."""
        client = DmsClient(
            auth=AkSkAuth(DEMO_AK, DEMO_SK),
            endpoint_for=self.settings.endpoint_for,
            retry=RetryPolicy(attempts=1, budget_s=0.5),
        )
        self.clients.append(client)
        return TaskService(
            self.settings, TaskCache(client, clock=self.clock.utc), clock=self.clock.utc
        )

    def poster(self) -> SlackPoster:
        client = AsyncWebClient(token=BOT_TOKEN, base_url=self.slack.api_url)
        return SlackPoster(client, clock=self.clock.epoch, sleep=self.clock.sleep)

    def watches(
        self, owner: str = "replica-a", *, poster: Any = None, limits: WatchLimits | None = None
    ) -> WatchService:
        """The watch use cases as one process has them: its own service, cache and poster, on
        the shared store."""
        service = self.service()
        return WatchService(
            service,
            poster or self.poster(),
            self.store,
            progress=self.clients[-1].task_progress,
            limits=limits,
            owner=owner,
        )

    def runner(self, watches: WatchService) -> WatchRunner:
        return WatchRunner(watches, sleep=self.clock.sleep)

    def running(self, name: str = "extendStorage", instance: str = "prod-orders") -> str:
        """A task that starts now, as a console action would; its id."""
        task = self.sim.add_task(instance, name, "EXECUTING", created=self.clock.now)
        return str(task["id"])

    def posts(self, channel: str | None = None) -> list[RecordedCall]:
        """chat.postMessage calls Slack took (to `channel`)."""
        return [
            c
            for c in self.slack.calls_to(POST_MESSAGE)
            if (c.answer or {}).get("ok") and (channel is None or c.body.get("channel") == channel)
        ]

    def replies(self) -> list[RecordedCall]:
        return [c for c in self.posts() if c.body.get("thread_ts")]

    def edits(self) -> list[RecordedCall]:
        return self.slack.calls_to(UPDATE)

    async def soonest(self) -> datetime | None:
        due = [w.next_check_at for w in await self.store.all() if w.next_check_at]
        return min(due) if due else None

    async def step(self, *runners: WatchRunner) -> float:
        """Move the clock to the next look that is due and run a round on every runner at
        once; the wait the first one asked for."""
        soonest = await self.soonest()
        if soonest is not None and soonest > self.clock.now:
            self.clock.now = soonest
        waits = await asyncio.gather(*(r.round() for r in runners))
        return waits[0]


def config_text(sim: RunningSimulator) -> str:
    channels = json.dumps([CHANNEL, OTHER, PUBLIC_NOT_MEMBER])
    orders = sim.instance("prod-orders").instance_id
    billing = sim.instance("prod-billing").instance_id
    return "\n".join(
        [
            "[instances.prod-orders]",
            f'instance_id = "{orders}"',
            f"channels = {channels}",
            # billing: in the on-call channel, but only for its owner.
            "[instances.billing]",
            f'instance_id = "{billing}"',
            f'channels = ["{CHANNEL}"]',
            f'users = ["{OWNER}"]',
        ]
    )


@asynccontextmanager
async def open_rig(tmp_path: Path) -> AsyncIterator[Rig]:
    start = datetime.now(UTC).replace(microsecond=0)
    async with start_simulator(SimulatorConfig(now=start, bulk_tasks=20)) as sim:
        config = tmp_path / "bot.toml"
        config.write_text(config_text(sim) + "\n", encoding="utf-8")
        settings = Settings.model_validate({"DMS_BOT_CONFIG": str(config), "DMS_RETRY_BUDGET": 0.5})
        async with start_editing_slack(member_of={CHANNEL, OTHER}) as slack:
            slack.public_channels.add(PUBLIC_NOT_MEMBER)
            clock = Clock(start)
            rig = Rig(sim, slack, with_simulator(settings, sim.url), clock, MemoryWatchStore(clock))
            try:
                yield rig
            finally:
                for client in rig.clients:
                    await client.aclose()


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    async with open_rig(tmp_path) as opened:
        yield opened


def who(user: str = OWNER, channel: str = CHANNEL) -> Requester:
    return Requester(channel, user, BERLIN)


def text_of(call: RecordedCall) -> str:
    """What a post or edit says, as the terminal shows it, without mrkdwn's bold stars; checked
    as chat.postMessage would check it."""
    raw = call.body.get("blocks", [])
    blocks = json.loads(raw) if isinstance(raw, str) else raw
    message = {"text": call.body.get("text", ""), "blocks": blocks}
    check_posted_message(message)
    return render_text(message).replace("*", "")


def raw_of(call: RecordedCall) -> str:
    """The mrkdwn as sent: mentions and date tokens as Slack reads them."""
    return str(call.body.get("text", "")) + str(call.body.get("blocks", ""))


def buttons_of(call: RecordedCall) -> list[dict[str, Any]]:
    raw = call.body.get("blocks", [])
    blocks = json.loads(raw) if isinstance(raw, str) else raw
    return [e for b in blocks for e in b.get("elements", []) if e.get("type") == "button"]


async def start(
    rig: Rig,
    watches: WatchService,
    task_id: str,
    *,
    target: str = "prod-orders",
    requester: Requester | None = None,
    thread_ts: str | None = None,
) -> Any:
    return await watches.start(WatchValue(target, task_id), requester or who(), thread_ts=thread_ts)


# ---- Watch ---------------------------------------------------------------------------------------


async def test_watch_posts_a_message_it_owns_in_the_channel_with_a_stop_button(rig: Rig) -> None:
    watches = rig.watches()
    task_id = rig.running()
    outcome = await start(rig, watches, task_id)
    assert isinstance(outcome, WatchStarted) and outcome.dm_reason is None
    [post] = rig.posts(CHANNEL)
    text = text_of(post)
    assert "Watching Expand broker storage on prod-orders" in text
    assert f"<@{OWNER}>" in raw_of(post) and "<!date^" in raw_of(post)
    [stop] = buttons_of(post)
    assert stop["text"]["text"] == "Stop watching"
    assert StopValue.decode(stop["value"]).watch_id == outcome.watch.id
    stored = await rig.store.get(outcome.watch.id)
    assert stored is not None and stored.message_ts and stored.channel_id == CHANNEL
    assert stored.task is not None and stored.task.status_upper == "EXECUTING"


async def test_a_click_in_a_thread_watches_in_that_thread(rig: Rig) -> None:
    watches = rig.watches()
    outcome = await start(rig, watches, rig.running(), thread_ts="1764662400.000100")
    assert isinstance(outcome, WatchStarted)
    [post] = rig.posts(CHANNEL)
    assert post.body["thread_ts"] == "1764662400.000100"
    assert outcome.watch.reply_thread == "1764662400.000100"


async def test_the_same_task_by_the_same_person_is_watched_once_with_a_link(rig: Rig) -> None:
    task_id = rig.running()
    first = await start(rig, rig.watches(), task_id)
    assert isinstance(first, WatchStarted)
    # Another replica, a moment later: the same id, so the store says it is watched.
    again = await start(rig, rig.watches("replica-b"), task_id)
    assert isinstance(again, AlreadyWatched) and again.watch.id == first.watch.id
    assert again.link is not None and again.link.startswith("https://")
    assert len(rig.posts(CHANNEL)) == 1
    # Someone else may watch the same task: their own watch, their own ping.
    other = await start(rig, rig.watches(), task_id, requester=who(BOB))
    assert isinstance(other, WatchStarted) and other.watch.id != first.watch.id


async def test_a_double_click_posts_one_message(rig: Rig) -> None:
    task_id = rig.running()
    results = await asyncio.gather(
        start(rig, rig.watches(), task_id), start(rig, rig.watches("replica-b"), task_id)
    )
    assert sorted(type(r).__name__ for r in results) == ["AlreadyWatched", "WatchStarted"]
    assert len(rig.posts(CHANNEL)) == 1


async def test_a_person_may_watch_five_tasks_and_the_bot_two_hundred(rig: Rig) -> None:
    watches = rig.watches()
    for _ in range(5):
        assert isinstance(await start(rig, watches, rig.running()), WatchStarted)
    sixth = await start(rig, watches, rig.running())
    assert isinstance(sixth, TooManyWatches) and sixth.per_user and sixth.limit == 5
    assert len(sixth.yours) == 5
    assert len(rig.posts(CHANNEL)) == 5
    # The bot's own bound, here 6: Bob gets one, Carol none.
    small = rig.watches(limits=WatchLimits(overall=6))
    assert isinstance(await start(rig, small, rig.running(), requester=who(BOB)), WatchStarted)
    full = await start(rig, small, rig.running(), requester=who(CAROL))
    assert isinstance(full, TooManyWatches) and not full.per_user and full.limit == 6


async def test_a_finished_task_is_not_watched(rig: Rig) -> None:
    task_id = rig.running()
    rig.sim.set_task_status(task_id, "SUCCESS")
    outcome = await start(rig, rig.watches(), task_id)
    assert isinstance(outcome, AlreadyFinished)
    assert rig.posts() == [] and rig.store.bodies == {}


async def test_access_is_judged_again_for_the_clicker_and_channel(rig: Rig) -> None:
    watches = rig.watches()
    task_id = rig.running("extendBroker", "prod-billing")
    # Bob may not see billing, even in its channel; nor may anyone elsewhere.
    refused = await start(rig, watches, task_id, target="billing", requester=who(BOB))
    assert isinstance(refused, Refusal)
    elsewhere = await start(rig, watches, task_id, target="billing", requester=who(OWNER, OTHER))
    assert isinstance(elsewhere, Refusal)
    unknown = await start(rig, watches, task_id, target="prod-ordres")
    assert isinstance(unknown, UnknownInstance)
    gone = await start(rig, watches, "no-such-task")
    assert isinstance(gone, Problem) and "can't find that task" in gone.summary
    assert rig.posts() == [] and rig.store.bodies == {}


async def test_an_instance_limited_to_certain_people_is_watched_in_the_dm(rig: Rig) -> None:
    task_id = rig.running("extendBroker", "prod-billing")
    outcome = await start(rig, rig.watches(), task_id, target="billing")
    assert isinstance(outcome, WatchStarted) and outcome.dm_reason == "restricted"
    dm = EditingSlack.dm_of(OWNER)
    assert [p.body["channel"] for p in rig.posts()] == [dm]
    assert outcome.watch.channel_id == dm and outcome.watch.in_dm


async def test_a_channel_the_bot_is_not_in_falls_back_to_the_dm(rig: Rig) -> None:
    outcome = await start(
        rig, rig.watches(), rig.running(), requester=who(channel=PUBLIC_NOT_MEMBER)
    )
    assert isinstance(outcome, WatchStarted) and outcome.dm_reason == "not_in_channel"
    tried = rig.slack.calls_to(POST_MESSAGE)
    assert [c.body["channel"] for c in tried] == [PUBLIC_NOT_MEMBER, EditingSlack.dm_of(OWNER)]
    assert outcome.watch.channel_id == EditingSlack.dm_of(OWNER)


async def test_nowhere_to_post_watches_nothing_and_says_so(rig: Rig) -> None:
    rig.slack.no_dm.add(OWNER)
    outcome = await start(
        rig, rig.watches(), rig.running(), requester=who(channel=PUBLIC_NOT_MEMBER)
    )
    assert isinstance(outcome, Problem) and "nothing is watched" in outcome.summary
    assert rig.store.bodies == {}


# ---- Stop watching -----------------------------------------------------------------------------


async def test_only_whoever_asked_stops_it_and_the_message_says_who(rig: Rig) -> None:
    watches = rig.watches()
    started = await start(rig, watches, rig.running())
    assert isinstance(started, WatchStarted)
    value = StopValue(started.watch.id, started.watch.generation)
    refused = await watches.stop(value, who(BOB))
    assert isinstance(refused, StopRefused) and rig.store.bodies
    assert await watches.stop(value, who()) is None
    [edit] = rig.edits()
    text = text_of(edit)
    assert "Stopped watching Expand broker storage on prod-orders" in text
    assert f"<@{OWNER}> stopped it" in raw_of(edit) and buttons_of(edit) == []
    # Stopping is the asker's own doing: no ping.
    assert rig.replies() == [] and rig.store.bodies == {}
    assert isinstance(await watches.stop(value, who()), NotWatching)


async def test_a_stop_during_a_look_is_done_by_whoever_holds_the_lease(rig: Rig) -> None:
    watches = rig.watches()
    started = await start(rig, watches, rig.running())
    assert isinstance(started, WatchStarted)
    # Another replica is looking at it right now.
    assert await rig.store.claim(started.watch.lease_key, "replica-b", 120)
    value = StopValue(started.watch.id, started.watch.generation)
    assert isinstance(await watches.stop(value, who()), Stopping)
    assert rig.edits() == []
    await rig.store.release(started.watch.lease_key, "replica-b")
    await rig.step(rig.runner(rig.watches("replica-b")))
    [edit] = rig.edits()
    assert "stopped it" in text_of(edit) and rig.store.bodies == {}


async def test_a_stop_button_of_an_older_watch_stops_nothing(rig: Rig) -> None:
    watches = rig.watches()
    started = await start(rig, watches, rig.running())
    assert isinstance(started, WatchStarted)
    stale = StopValue(started.watch.id, started.watch.generation - 60)
    assert isinstance(await watches.stop(stale, who()), NotWatching)
    assert rig.store.bodies and rig.edits() == []
