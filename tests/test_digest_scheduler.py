"""The digest scheduler driving a real store and a real poster: runs at their local time across
DST, once per local date across restarts, missed runs inside and outside the grace period,
weekdays in the digest's own zone, and how long a round says to wait.

Everything is real but the clock: digests are built through the service and client against the
DMS simulator, posted through SlackPoster to the mock Slack Web API, and kept in a SQLite file.
One injected clock drives the scheduler, the service, the store's claim expiry and the poster's
spacing, so rounds are run directly at chosen instants and nothing waits for real time.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.digest_scheduler import DigestScheduler
from bot.digests import DigestService
from bot.domain.digests import Days, DigestResult, ResultKind, Subscription
from bot.poster import SlackPoster
from bot.render import render_text
from bot.runtime import Runtime
from bot.service import TaskService
from bot.settings import Settings, with_simulator
from bot.simulator import RunningSimulator, SimulatorConfig, SimulatorThread
from bot.store import Store, open_store
from tests.slack_mock import BOT_TOKEN, POST_MESSAGE, MockSlack, RecordedCall, start_mock_slack

CHANNEL = "C0DIGESTS"
# Channels the bot is a member of, for tests with several digests.
OTHER_CHANNELS = ("C0SECOND", "C0THIRD")
# Channels the config lets see the instance but the bot cannot post in.
PUBLIC_NOT_MEMBER = "C0NOTMEMBER"
PRIVATE_GONE = "G0GONE"
OWNER = "U0OWNER"
# The simulator's data lies in the fortnight before this; March 2026 has no tasks at all.
ANCHOR = datetime(2026, 10, 20, 12, 0, tzinfo=UTC)
GRACE = timedelta(hours=2)
POLL_S = 30.0
SECOND = timedelta(seconds=1)
DAY = timedelta(days=1)


def utc(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, s, tzinfo=UTC)


class Clock:
    """Wall time for every part at once; it moves when a test sets it or the code sleeps."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def utc(self) -> datetime:
        return self.now

    def epoch(self) -> float:
        return self.now.timestamp()

    async def sleep(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)
        await asyncio.sleep(0)  # let other tasks run, as a real sleep would


@dataclass
class Rig:
    sim: RunningSimulator
    slack: MockSlack
    runtime: Runtime
    db: Path
    clock: Clock
    stores: list[Store] = field(default_factory=list)

    async def store(self) -> Store:
        """A new store object on the same SQLite file, as a restarted or second process has."""
        store = await open_store(str(self.db), None, clock=self.clock.epoch)
        self.stores.append(store)
        return store

    def digests(self, store: Store) -> DigestService:
        service = TaskService(self.runtime.settings, self.runtime.cache, clock=self.clock.utc)
        return DigestService(service, store)

    def poster(self) -> SlackPoster:
        client = AsyncWebClient(token=BOT_TOKEN, base_url=self.slack.api_url)
        return SlackPoster(client, clock=self.clock.epoch, sleep=self.clock.sleep)

    async def scheduler(
        self,
        owner: str = "replica-a",
        *,
        store: Store | None = None,
        poster: Any = None,
        grace: timedelta = GRACE,
    ) -> DigestScheduler:
        """A scheduler as one process runs it: by default with a store object of its own."""
        store = store or await self.store()
        return DigestScheduler(
            store,
            self.digests(store),
            poster or self.poster(),
            grace=grace,
            poll_s=POLL_S,
            clock=self.clock.utc,
            sleep=self.clock.sleep,
            owner=owner,
        )

    async def subscribe(
        self,
        at: str = "09:00",
        tz: str = "Europe/Berlin",
        *,
        created_at: datetime,
        days: Days = Days.DAILY,
        quiet: bool = False,
        sub_id: str = "dgst01",
        channel: str = CHANNEL,
    ) -> Subscription:
        sub = Subscription(
            id=sub_id,
            channel_id=channel,
            targets=("prod-orders",),
            at=time.fromisoformat(at),
            tz=tz,
            days=days,
            quiet=quiet,
            created_by=OWNER,
            created_at=created_at,
        )
        await (self.stores[-1] if self.stores else await self.store()).add(sub)
        return sub

    async def at(self, scheduler: DigestScheduler, moment: datetime) -> float:
        """One round at `moment`; the wait it asks for."""
        self.clock.now = moment
        wait = await scheduler.round()
        assert 0 <= wait <= POLL_S
        return wait

    async def follow(
        self, scheduler: DigestScheduler, start: datetime, until: datetime
    ) -> list[tuple[datetime, RecordedCall]]:
        """Rounds from `start` to `until`, each after the wait the one before asked for, as the
        job runs them; each post with the instant its round began."""
        self.clock.now = start
        posted: list[tuple[datetime, RecordedCall]] = []
        rounds = 0
        while self.clock.now <= until:
            began, before = self.clock.now, len(self.posts())
            wait = await scheduler.round()
            assert 0 <= wait <= POLL_S, (began, wait)
            posted += [(began, call) for call in self.posts()[before:]]
            self.clock.now += timedelta(seconds=wait)
            rounds += 1
            assert rounds < 10_000, "the scheduler stopped moving time forward"
        return posted

    async def result(self, sub_id: str = "dgst01") -> DigestResult | None:
        sub = await self.stores[-1].get(sub_id)
        assert sub is not None
        return sub.last_result

    def posts(self) -> list[RecordedCall]:
        """Every chat.postMessage the mock received, answered or refused."""
        return self.slack.calls_to(POST_MESSAGE)


def blocks(call: RecordedCall) -> list[dict[str, Any]]:
    raw = call.body.get("blocks", [])
    parsed = json.loads(raw) if isinstance(raw, str) else raw
    assert isinstance(parsed, list)
    return parsed


def text_of(call: RecordedCall) -> str:
    return render_text({"text": call.body.get("text", ""), "blocks": blocks(call)})


def period(call: RecordedCall) -> tuple[datetime, datetime]:
    """The begin and end a posted digest shows, from the date tokens of its first line."""
    head = json.dumps(blocks(call)[0])
    stamps = [int(s) for s in re.findall(r"<!date\^(\d+)\^", head)]
    assert len(stamps) == 2, head
    return datetime.fromtimestamp(stamps[0], UTC), datetime.fromtimestamp(stamps[1], UTC)


def start_sim() -> SimulatorThread:
    return SimulatorThread(SimulatorConfig(now=ANCHOR, bulk_tasks=50))


@asynccontextmanager
async def open_rig(sim: RunningSimulator, tmp_path: Path) -> AsyncIterator[Rig]:
    config = tmp_path / "bot.toml"
    channels = [CHANNEL, *OTHER_CHANNELS, PUBLIC_NOT_MEMBER, PRIVATE_GONE]
    config.write_text(
        f'[instances.prod-orders]\ninstance_id = "{sim.instance("prod-orders").instance_id}"\n'
        f"channels = {json.dumps(channels)}\n",
        encoding="utf-8",
    )
    settings = Settings.model_validate({"DMS_BOT_CONFIG": str(config), "DMS_RETRY_BUDGET": 0.2})
    runtime = Runtime(with_simulator(settings, sim.url), with_slack=False)
    async with start_mock_slack(member_of={CHANNEL, *OTHER_CHANNELS}) as slack:
        slack.public_channels.add(PUBLIC_NOT_MEMBER)
        rig = Rig(sim, slack, runtime, tmp_path / "digests.db", Clock(ANCHOR))
        try:
            yield rig
        finally:
            for store in rig.stores:
                await store.close()
            await runtime.stop()


@pytest.fixture(scope="module")
def sim() -> Iterator[RunningSimulator]:
    # One simulator for the module: its data is read, never changed, by these tests.
    with start_sim() as running:
        yield running


@pytest.fixture
async def rig(sim: RunningSimulator, tmp_path: Path) -> AsyncIterator[Rig]:
    async with open_rig(sim, tmp_path) as opened:
        yield opened


# Four consecutive runs in Berlin, the third on a DST night; the first only begins the second's
# period. Spring forward (29 March, 02:00 CET -> 03:00 CEST): 02:30 does not exist and runs at
# 03:30 CEST. Fall back (25 October, 03:00 CEST -> 02:00 CET): 02:30 happens twice, runs once.
DST_RUNS = [
    pytest.param(
        "02:30",
        [*(utc(2026, 3, d, 1, 30) for d in (27, 28, 29)), utc(2026, 3, 30, 0, 30)],
        id="spring-forward-02:30",
    ),
    pytest.param(
        "09:00",
        [utc(2026, 3, 27, 8), utc(2026, 3, 28, 8), utc(2026, 3, 29, 7), utc(2026, 3, 30, 7)],
        id="spring-forward-09:00",
    ),
    pytest.param(
        "02:30",
        [*(utc(2026, 10, d, 0, 30) for d in (23, 24, 25)), utc(2026, 10, 26, 1, 30)],
        id="fall-back-02:30",
    ),
    pytest.param(
        "09:00",
        [utc(2026, 10, 23, 7), utc(2026, 10, 24, 7), utc(2026, 10, 25, 8), utc(2026, 10, 26, 8)],
        id="fall-back-09:00",
    ),
]


@pytest.mark.parametrize(("at", "runs"), DST_RUNS)
async def test_across_a_dst_change_each_local_date_is_posted_once_at_its_instant(
    rig: Rig, at: str, runs: list[datetime]
) -> None:
    await rig.subscribe(at, created_at=runs[0] + timedelta(hours=1))
    scheduler = await rig.scheduler()
    for previous, due in itertools.pairwise(runs):
        # From just before the run to past the hour a fall-back night repeats.
        posted = await rig.follow(
            scheduler, due - timedelta(seconds=90), due + timedelta(hours=1, minutes=5)
        )
        assert len(posted) == 1, (due, [began for began, _ in posted])
        began, call = posted[0]
        assert due <= began <= due + timedelta(seconds=POLL_S)
        # The period is the time since the previous scheduled run: 23 or 25 hours on DST nights.
        assert period(call) == (previous, due)
        assert await rig.result() == DigestResult(ResultKind.POSTED, began, due, "")


@pytest.mark.parametrize(
    ("late", "posted"),
    [(timedelta(hours=1, minutes=59), True), (timedelta(hours=2, minutes=1), False)],
    ids=["inside-grace", "outside-grace"],
)
async def test_a_run_missed_while_down_is_posted_once_at_start_up_only_inside_the_grace(
    rig: Rig, late: timedelta, posted: bool
) -> None:
    due = utc(2026, 3, 26, 8)  # Thursday 09:00 CET
    await rig.subscribe(created_at=due - timedelta(hours=12))
    scheduler = await rig.scheduler()
    # The first round after start-up, then a few more.
    for moment in (due + late, due + late + SECOND, due + late + timedelta(minutes=10)):
        await rig.at(scheduler, moment)
    result = await rig.result()
    assert result is not None and result.due == due
    if posted:
        assert len(rig.posts()) == 1
        assert period(rig.posts()[0]) == (due - DAY, due)
        assert result.kind is ResultKind.POSTED
    else:
        assert rig.posts() == []
        assert result.kind is ResultKind.SKIPPED and result.detail


@pytest.mark.parametrize("inside_grace", [True, False])
async def test_after_several_missed_days_only_the_latest_is_posted_and_older_ones_skipped(
    rig: Rig, monkeypatch: pytest.MonkeyPatch, inside_grace: bool
) -> None:
    latest = utc(2026, 3, 26, 8)
    missed = [latest - n * DAY for n in (4, 3, 2, 1, 0)]
    await rig.subscribe(created_at=missed[0] - timedelta(hours=12))
    store = await rig.store()
    recorded: list[DigestResult] = []
    real_record = store.record_result

    async def record(sub_id: str, result: DigestResult) -> bool:
        recorded.append(result)
        return await real_record(sub_id, result)

    monkeypatch.setattr(store, "record_result", record)
    scheduler = await rig.scheduler(store=store)
    start = latest + (timedelta(minutes=30) if inside_grace else timedelta(hours=3))
    for moment in (start, start + timedelta(minutes=1), start + timedelta(minutes=20)):
        await rig.at(scheduler, moment)
    assert [r.due for r in recorded] == missed
    kinds = [r.kind for r in recorded]
    if inside_grace:
        assert kinds == [ResultKind.SKIPPED] * 4 + [ResultKind.POSTED]
        assert len(rig.posts()) == 1
        # Since the previous scheduled run, not since the last one posted.
        assert period(rig.posts()[0]) == (latest - DAY, latest)
    else:
        assert kinds == [ResultKind.SKIPPED] * 5
        assert rig.posts() == []


async def test_a_restarted_scheduler_does_not_post_that_date_again_and_posts_the_next(
    rig: Rig,
) -> None:
    due = utc(2026, 3, 26, 8)
    await rig.subscribe(created_at=due - timedelta(hours=12))
    first = await rig.scheduler("replica-a")
    await rig.at(first, due)
    assert len(rig.posts()) == 1
    await rig.stores[-1].close()
    # A new process: its own owner and store object on the same file.
    second = await rig.scheduler("replica-b")
    for moment in (due + SECOND, due + timedelta(minutes=30), due + timedelta(hours=1, minutes=59)):
        await rig.at(second, moment)
    assert len(rig.posts()) == 1
    await rig.at(second, due + DAY)
    assert len(rig.posts()) == 2
    assert period(rig.posts()[1]) == (due, due + DAY)


async def test_weekdays_are_judged_in_the_digests_zone(rig: Rig) -> None:
    # 09:00 in Auckland (NZDT, +13:00) is 20:00 UTC the day before: Saturday's run would fall on
    # a UTC Friday and Monday's on a UTC Sunday.
    friday = utc(2026, 10, 22, 20)
    await rig.subscribe(
        tz="Pacific/Auckland", days=Days.WEEKDAYS, created_at=friday - timedelta(hours=1)
    )
    scheduler = await rig.scheduler()
    per_day: list[int] = []
    for n in range(4):  # Friday, Saturday, Sunday, Monday in Auckland
        before = len(rig.posts())
        for late in (timedelta(0), SECOND, timedelta(minutes=30)):
            await rig.at(scheduler, friday + n * DAY + late)
        per_day.append(len(rig.posts()) - before)
    assert per_day == [1, 0, 0, 1]
    # Monday's digest covers the weekend: since Friday's run.
    assert period(rig.posts()[1]) == (friday, friday + 3 * DAY)


async def test_each_round_waits_so_that_every_run_is_taken_within_the_poll_bound(
    rig: Rig,
) -> None:
    # Thursday 26 March 2026: 09:00 CET, 13:47 IST and 05:10 NDT are 08:00, 08:17 and 07:40 UTC.
    subs = {
        CHANNEL: ("09:00", "Europe/Berlin", utc(2026, 3, 26, 8)),
        OTHER_CHANNELS[0]: ("13:47", "Asia/Kolkata", utc(2026, 3, 26, 8, 17)),
        OTHER_CHANNELS[1]: ("05:10", "America/St_Johns", utc(2026, 3, 26, 7, 40)),
    }
    for n, (channel, (at, tz, _)) in enumerate(subs.items()):
        await rig.subscribe(
            at, tz, created_at=utc(2026, 3, 25, 12), sub_id=f"dgst0{n}", channel=channel
        )
    scheduler = await rig.scheduler()
    # An odd start, so that no round lands on a due time by luck.
    posted = await rig.follow(scheduler, utc(2026, 3, 26, 7, 30, 7), utc(2026, 3, 26, 8, 30))
    taken = {call.body["channel"]: began for began, call in posted}
    assert len(posted) == 3 and set(taken) == set(subs)
    for channel, (_, _, due) in subs.items():
        assert timedelta(0) <= taken[channel] - due <= timedelta(seconds=POLL_S), channel


async def test_a_round_that_outlasts_the_next_run_asks_for_no_wait_never_a_negative_one(
    rig: Rig,
) -> None:
    due = utc(2026, 3, 26, 8)
    await rig.subscribe("09:00", created_at=due - DAY / 2, sub_id="dgst01")
    await rig.subscribe(
        "09:01", created_at=due - DAY / 2, sub_id="dgst02", channel=OTHER_CHANNELS[0]
    )
    # Slack makes the first post wait 70 s: the round ends after 09:01, when the second is due.
    rig.slack.rate_limit_post_message(1, retry_after="70")
    scheduler = await rig.scheduler()
    assert await rig.at(scheduler, due) == 0.0
    assert rig.clock.now == due + timedelta(seconds=70)
    await scheduler.round()
    assert [c.body["channel"] for c in rig.posts() if c.status == 200] == [
        CHANNEL,
        OTHER_CHANNELS[0],
    ]
