"""The store's contract, run against both backends: SQLite in tmp_path and a real redis-server.

Claim expiry is reached without sleeping: the SQLite store's clock is moved on, and Redis's own
server-side expiry is awaited by polling the key, bounded (see Backend.expire)."""

from __future__ import annotations

import asyncio
import re
import time as clock
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, time
from pathlib import Path

import pytest
from redis.asyncio import Redis

from bot.domain.alerts import ALL_TARGETS as ALERT_ALL
from bot.domain.alerts import Alert
from bot.domain.digests import ALL_TARGETS, Days, DigestResult, ResultKind, Subscription
from bot.store import AlertStore, IdTaken, Record, RedisStore, SQLiteStore, Store, StoreError
from tests.fake_time import FakeTime
from tests.redis_server import redis_server

EXPIRY_BOUND_S = 2.0


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with redis_server(tmp_path_factory.mktemp("redis")) as url:
        yield url


@dataclass
class Backend:
    name: str
    opener: Callable[[], Awaitable[Store]]
    # Long enough that no claim lapses by itself mid-test; expire() ends it on purpose.
    ttl_s: float
    expire: Callable[[str, float], Awaitable[None]]  # let the claim or marker on a key lapse
    opened: list[Store] = field(default_factory=list)

    async def open(self) -> Store:
        """Another store on the same data: another process's view, or the same one restarted."""
        store = await self.opener()
        self.opened.append(store)
        return store


async def _sqlite_backend(tmp_path: Path) -> Backend:
    fake = FakeTime(start=1_700_000_000.0)

    async def expire(_key: str, seconds: float) -> None:
        fake.now += seconds + 1

    return Backend(
        "sqlite", lambda: SQLiteStore.open(tmp_path / "store.db", clock=fake.clock), 30.0, expire
    )


async def _redis_backend(url: str) -> tuple[Backend, Redis]:
    prefix = f"test-{uuid.uuid4().hex[:8]}:"
    raw = Redis.from_url(url, decode_responses=True)

    async def expire(key: str, _seconds: float) -> None:
        # The claim's PX timer runs in the server; poll the key until it is gone, bounded.
        deadline = clock.monotonic() + EXPIRY_BOUND_S
        while await raw.exists(f"{prefix}claim:{key}"):
            assert clock.monotonic() < deadline, f"{key} outlived its expiry"
            await asyncio.sleep(0.01)

    return Backend("redis", lambda: RedisStore.open(url, prefix=prefix), 0.05, expire), raw


@pytest.fixture(params=["sqlite", "redis"])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    raw: Redis | None = None
    if request.param == "sqlite":
        made = await _sqlite_backend(tmp_path)
    else:
        made, raw = await _redis_backend(request.getfixturevalue("redis_url"))
    yield made
    for store in made.opened:
        await store.close()
    if raw is not None:
        await raw.aclose()


@pytest.fixture
async def store(backend: Backend) -> Store:
    return await backend.open()


NOW = datetime(2024, 6, 3, 7, 0, 12, 345678, tzinfo=UTC)


def make_sub(sub_id: str, channel: str = "C1", **changes: object) -> Subscription:
    sub = Subscription(sub_id, channel, targets=("kafka-prod",), at=time(9, 30), tz="Europe/Paris")
    return replace(sub, **changes)  # type: ignore[arg-type]


FULL = make_sub(
    "d7k2q9",
    targets=("kafka-prod", "a1b2c3d4-0000-4000-8000-123456789abc"),
    at=time(7, 45),
    tz="America/Argentina/Buenos_Aires",
    days=Days.WEEKDAYS,
    quiet=True,
    created_by="U024BE7LH",
    created_at=NOW,
    paused="not_in_channel",
    last_result=DigestResult(ResultKind.FAILED, at=NOW, due=NOW.replace(microsecond=0), detail="…"),
)


async def test_both_backends_are_stores(store: Store) -> None:
    assert isinstance(store, Store)


@pytest.mark.parametrize(
    "sub", [FULL, make_sub("ab2345", targets=(ALL_TARGETS,))], ids=["every-field", "defaults"]
)
async def test_a_subscription_reads_back_exactly(store: Store, sub: Subscription) -> None:
    await store.add(sub)
    got = await store.get(sub.id)
    assert got == sub
    assert got is not None and isinstance(got.targets, tuple)
    assert got.created_at is None or got.created_at.tzinfo is UTC
    assert (await store.all()) == [sub]


async def test_an_unknown_id_is_none(store: Store) -> None:
    assert await store.get("zzzzzz") is None
    assert await store.for_channel("C1") == []
    assert await store.all() == []


async def test_subscriptions_are_listed_oldest_first(store: Store) -> None:
    # Ids in reverse alphabetical order, so that sorting by id would show.
    added = [make_sub("zz2222"), make_sub("yy3333", "C2"), make_sub("xx4444"), make_sub("ww5555")]
    for sub in added:
        await store.add(sub)
    assert [s.id for s in await store.for_channel("C1")] == ["zz2222", "xx4444", "ww5555"]
    assert [s.id for s in await store.for_channel("C2")] == ["yy3333"]
    assert [s.id for s in await store.all()] == [s.id for s in added]


async def test_adding_a_taken_id_is_refused_and_keeps_the_first(store: Store) -> None:
    await store.add(make_sub("ab2345"))
    with pytest.raises(IdTaken, match="ab2345"):
        await store.add(make_sub("ab2345", "C9", quiet=True))
    assert await store.get("ab2345") == make_sub("ab2345")
    assert await store.for_channel("C9") == []
    assert len(await store.all()) == 1


async def test_a_naive_time_is_refused_rather_than_shifted(store: Store) -> None:
    with pytest.raises(ValueError, match="naive"):
        await store.add(make_sub("ab2345", created_at=datetime(2024, 6, 3, 7, 0)))


async def test_remove(store: Store) -> None:
    await store.add(make_sub("ab2345"))
    await store.add(make_sub("cd6789"))
    assert await store.remove("ab2345") is True
    assert await store.remove("ab2345") is False
    assert await store.get("ab2345") is None
    assert [s.id for s in await store.for_channel("C1")] == ["cd6789"]
    assert [s.id for s in await store.all()] == ["cd6789"]


async def test_record_result_sets_only_the_last_result(store: Store) -> None:
    await store.add(make_sub("ab2345", paused="is_archived"))
    first = DigestResult(ResultKind.POSTED, at=NOW, due=NOW)
    assert await store.record_result("ab2345", first) is True
    second = DigestResult(ResultKind.NOTHING, at=NOW, due=NOW, detail="quiet")
    assert await store.record_result("ab2345", second) is True
    assert await store.get("ab2345") == make_sub("ab2345", paused="is_archived", last_result=second)


async def test_set_paused_and_resume(store: Store) -> None:
    result = DigestResult(ResultKind.PAUSED, at=NOW, due=NOW, detail="channel_not_found")
    await store.add(make_sub("ab2345", last_result=result))
    assert await store.set_paused("ab2345", "channel_not_found") is True
    got = await store.get("ab2345")
    assert got == make_sub("ab2345", paused="channel_not_found", last_result=result)
    assert await store.set_paused("ab2345", None) is True
    assert await store.get("ab2345") == make_sub("ab2345", last_result=result)


async def test_updating_a_removed_subscription_does_not_bring_it_back(store: Store) -> None:
    result = DigestResult(ResultKind.POSTED, at=NOW, due=NOW)
    assert await store.record_result("ab2345", result) is False
    assert await store.set_paused("ab2345", "not_in_channel") is False
    assert await store.get("ab2345") is None
    assert await store.all() == []


ID_SHAPE = re.compile(r"[a-km-np-z][a-km-np-z2-9]{5}")


async def test_new_ids_are_short_typeable_and_unique(store: Store) -> None:
    ids = [await store.new_id() for _ in range(300)]
    assert all(ID_SHAPE.fullmatch(i) for i in ids), ids
    assert len(set(ids)) == len(ids)


async def test_a_new_id_is_never_one_stored(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    await store.add(make_sub("ab2345"))
    draws = iter(["ab2345", "ab2345", "cd6789"])
    for module in ("bot.store.sqlite_store", "bot.store.redis_store"):
        monkeypatch.setattr(f"{module}.candidate_id", lambda: next(draws))
    assert await store.new_id() == "cd6789"


async def test_a_claim_is_taken_once(store: Store, backend: Backend) -> None:
    assert await store.claim("digest:ab2345:2024-06-03", "replica-a", backend.ttl_s) is True
    assert await store.claim("digest:ab2345:2024-06-03", "replica-b", backend.ttl_s) is False
    # Not re-entrant either: the owner asking again is a second attempt, and must not post twice.
    assert await store.claim("digest:ab2345:2024-06-03", "replica-a", backend.ttl_s) is False
    assert await store.claim("digest:ab2345:2024-06-04", "replica-b", backend.ttl_s) is True


async def test_a_hundred_concurrent_claims_have_one_winner(store: Store) -> None:
    won = await asyncio.gather(*(store.claim("k", f"owner-{i}", 30) for i in range(100)))
    assert won.count(True) == 1


async def test_concurrent_claims_through_two_stores_have_one_winner(backend: Backend) -> None:
    one, two = await backend.open(), await backend.open()
    attempts = [(one if i % 2 else two).claim("k", f"owner-{i}", 30) for i in range(100)]
    assert (await asyncio.gather(*attempts)).count(True) == 1


async def test_an_expired_claim_can_be_claimed_again(store: Store, backend: Backend) -> None:
    assert await store.claim("k", "crashed-replica", backend.ttl_s) is True
    await backend.expire("k", backend.ttl_s)
    assert await store.claim("k", "survivor", backend.ttl_s) is True
    assert await store.claim("k", "third", backend.ttl_s) is False


async def test_only_the_owner_releases(store: Store, backend: Backend) -> None:
    assert await store.claim("k", "replica-a", backend.ttl_s) is True
    await store.release("k", "replica-b")
    assert await store.claim("k", "replica-b", backend.ttl_s) is False
    await store.release("k", "replica-a")
    assert await store.claim("k", "replica-b", backend.ttl_s) is True
    await store.release("never-claimed", "replica-a")  # nothing to do, and no error


async def test_a_done_marker_blocks_every_later_claim(store: Store, backend: Backend) -> None:
    assert await store.completed("k") is False
    assert await store.claim("k", "replica-a", backend.ttl_s) is True
    assert await store.completed("k") is False  # claimed is not done
    await store.mark_done("k", keep_s=3 * 86400)
    assert await store.completed("k") is True
    # Outlives the claim's ttl, and the owner's release cannot undo it.
    await store.release("k", "replica-a")
    assert await store.claim("k", "replica-b", backend.ttl_s) is False
    assert await store.completed("k") is True


async def test_a_done_marker_lasts_as_long_as_it_is_kept(store: Store, backend: Backend) -> None:
    await store.mark_done("k", keep_s=backend.ttl_s)
    await backend.expire("k", backend.ttl_s)
    assert await store.completed("k") is False
    assert await store.claim("k", "replica-a", backend.ttl_s) is True


async def test_mark_done_without_a_claim(store: Store, backend: Backend) -> None:
    await store.mark_done("k", keep_s=60)
    assert await store.completed("k") is True
    assert await store.claim("k", "replica-a", backend.ttl_s) is False


@pytest.mark.parametrize("seconds", [0, -1.0])
async def test_a_lifetime_must_be_positive(store: Store, seconds: float) -> None:
    with pytest.raises(ValueError, match="ttl_s"):
        await store.claim("k", "a", seconds)
    with pytest.raises(ValueError, match="keep_s"):
        await store.mark_done("k", seconds)


async def test_two_stores_see_each_others_changes(backend: Backend) -> None:
    one, two = await backend.open(), await backend.open()
    await one.add(make_sub("ab2345"))
    assert await two.get("ab2345") == make_sub("ab2345")
    result = DigestResult(ResultKind.POSTED, at=NOW, due=NOW)
    await two.record_result("ab2345", result)
    await one.set_paused("ab2345", "is_archived")
    # Each update kept the other's: neither wrote back a whole stale record.
    expected = make_sub("ab2345", paused="is_archived", last_result=result)
    assert await two.get("ab2345") == expected
    assert await one.claim("k", "a", backend.ttl_s) is True
    assert await two.claim("k", "b", backend.ttl_s) is False
    await one.mark_done("k", keep_s=60)
    assert await two.completed("k") is True
    assert await two.remove("ab2345") is True
    assert await one.all() == []


async def test_everything_survives_a_restart(backend: Backend) -> None:
    first = await backend.open()
    await first.add(FULL)
    await first.add(make_sub("ab2345"))
    await first.claim("held", "replica-a", backend.ttl_s)
    await first.mark_done("posted", keep_s=60)
    await first.close()
    again = await backend.open()
    assert await again.all() == [FULL, make_sub("ab2345")]
    assert await again.claim("held", "replica-b", backend.ttl_s) is False
    assert await again.completed("posted") is True
    await first.close()  # closing twice is harmless


# ---- records (alerts now; watches and channel defaults later) --------------------------------


def rec(record_id: str, channel: str = "C1", body: str = '{"x":1}', kind: str = "alert") -> Record:
    return Record(kind, record_id, channel, body)


async def test_a_record_reads_back_exactly(store: Store) -> None:
    body = '{"targets":["prod-orders"],"note":"ünïcode ✅ <!channel> \\" \\\\"}'
    await store.add_record(rec("ab2345", body=body))
    assert await store.get_record("alert", "ab2345") == rec("ab2345", body=body)
    assert await store.get_record("alert", "zzzzzz") is None
    # Kinds are separate: the same id in another kind is another record.
    assert await store.get_record("watch", "ab2345") is None


async def test_records_are_listed_oldest_first_by_kind_and_channel(store: Store) -> None:
    added = [rec("zz2222"), rec("yy3333", "C2"), rec("xx4444"), rec("ww5555", kind="watch")]
    for record in added:
        await store.add_record(record)
    assert [r.id for r in await store.records("alert")] == ["zz2222", "yy3333", "xx4444"]
    assert [r.id for r in await store.records("alert", "C1")] == ["zz2222", "xx4444"]
    assert [r.id for r in await store.records("alert", "C2")] == ["yy3333"]
    assert await store.records("watch") == [rec("ww5555", kind="watch")]
    assert await store.records("alert", "C9") == []
    # Records are not subscriptions, nor the other way round.
    assert await store.all() == []


async def test_a_taken_record_id_is_refused_and_keeps_the_first(store: Store) -> None:
    await store.add_record(rec("ab2345"))
    with pytest.raises(IdTaken, match="ab2345"):
        await store.add_record(rec("ab2345", "C9", body="{}"))
    assert await store.get_record("alert", "ab2345") == rec("ab2345")
    assert await store.records("alert", "C9") == []
    # The same id in another kind is free.
    await store.add_record(rec("ab2345", kind="watch"))


async def test_concurrent_adds_of_one_record_id_have_one_winner(backend: Backend) -> None:
    one, two = await backend.open(), await backend.open()

    async def add(n: int) -> bool:
        try:
            await (one if n % 2 else two).add_record(rec("ab2345", f"C{n}"))
        except IdTaken:
            return False
        return True

    assert (await asyncio.gather(*(add(n) for n in range(20)))).count(True) == 1
    assert len(await one.records("alert")) == 1


async def test_update_and_delete_a_record(store: Store) -> None:
    await store.add_record(rec("ab2345"))
    await store.add_record(rec("cd6789"))
    assert await store.update_record("alert", "ab2345", '{"x":2}') is True
    assert await store.get_record("alert", "ab2345") == rec("ab2345", body='{"x":2}')
    # Still in its place: an update is not a re-add.
    assert [r.id for r in await store.records("alert", "C1")] == ["ab2345", "cd6789"]
    assert await store.delete_record("alert", "ab2345") is True
    assert await store.delete_record("alert", "ab2345") is False
    assert await store.get_record("alert", "ab2345") is None
    assert [r.id for r in await store.records("alert", "C1")] == ["cd6789"]
    assert [r.id for r in await store.records("alert")] == ["cd6789"]


async def test_updating_a_deleted_record_does_not_bring_it_back(store: Store) -> None:
    assert await store.update_record("alert", "ab2345", "{}") is False
    assert await store.get_record("alert", "ab2345") is None
    assert await store.records("alert") == []


@pytest.mark.parametrize("kind", ["", "Alert", "al:ert", "a b", "x" * 40])
async def test_a_record_kind_is_one_plain_word(store: Store, kind: str) -> None:
    with pytest.raises(ValueError, match="kind"):
        await store.add_record(rec("ab2345", kind=kind))


async def test_new_record_ids_are_typeable_and_never_one_stored(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = [await store.new_record_id("alert") for _ in range(100)]
    assert all(ID_SHAPE.fullmatch(i) for i in ids), ids
    await store.add_record(rec("ab2345"))
    draws = iter(["ab2345", "ab2345", "cd6789"])
    for module in ("bot.store.sqlite_store", "bot.store.redis_store"):
        monkeypatch.setattr(f"{module}.candidate_id", lambda: next(draws))
    assert await store.new_record_id("alert") == "cd6789"


async def test_records_survive_a_restart_and_are_shared(backend: Backend) -> None:
    first = await backend.open()
    await first.add_record(rec("ab2345"))
    other = await backend.open()
    assert await other.update_record("alert", "ab2345", '{"x":3}') is True
    await first.close()
    again = await backend.open()
    assert await again.records("alert") == [rec("ab2345", body='{"x":3}')]


# ---- alerts, typed, over records -------------------------------------------------------------

ALERT = Alert(
    id="k3m9qa",
    channel_id="C1",
    targets=("kafka-prod", "a1b2c3d4-0000-4000-8000-123456789abc"),
    created_at=NOW,
    stuck=True,
    created_by="U024BE7LH",
    paused="not_in_channel",
)


@pytest.mark.parametrize(
    "alert",
    [ALERT, Alert("ab2345", "C2", (ALERT_ALL,), created_at=NOW.replace(microsecond=0))],
    ids=["every-field", "defaults"],
)
async def test_an_alert_reads_back_exactly(store: Store, alert: Alert) -> None:
    alerts = AlertStore(store)
    await alerts.add(alert)
    got = await alerts.get(alert.id)
    assert got == alert
    assert got is not None and got.created_at.tzinfo is UTC and isinstance(got.targets, tuple)
    assert await alerts.all() == [alert]
    assert await alerts.for_channel(alert.channel_id) == [alert]


async def test_alerts_pause_resume_and_go(store: Store) -> None:
    alerts = AlertStore(store)
    active = replace(ALERT, paused=None)
    await alerts.add(active)
    with pytest.raises(IdTaken):
        await alerts.add(replace(active, channel_id="C9"))
    assert await alerts.set_paused(active.id, "is_archived") is True
    assert await alerts.get(active.id) == replace(active, paused="is_archived")
    assert await alerts.set_paused(active.id, None) is True
    assert await alerts.get(active.id) == active
    assert await alerts.remove(active.id) is True
    # A pause arriving after the removal does not bring it back.
    assert await alerts.set_paused(active.id, "is_archived") is False
    assert await alerts.all() == []
    assert ID_SHAPE.fullmatch(await alerts.new_id())


async def test_a_naive_alert_time_is_refused_rather_than_shifted(store: Store) -> None:
    with pytest.raises(ValueError, match="naive"):
        await AlertStore(store).add(replace(ALERT, created_at=datetime(2024, 6, 3, 7, 0)))


@pytest.mark.parametrize(
    "body",
    ["not json", "{}", '{"v":99,"targets":[]}', "[1]"],
    ids=["text", "empty", "newer", "list"],
)
async def test_an_alert_that_does_not_read_back_names_itself(store: Store, body: str) -> None:
    await store.add_record(rec("ab2345", body=body))
    with pytest.raises(StoreError, match="ab2345"):
        await AlertStore(store).get("ab2345")
