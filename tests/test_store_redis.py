"""Redis itself: the key layout and lifetimes, its version, and errors that name REDIS_URL and
never show its password."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import time
from pathlib import Path

import pytest
from redis.asyncio import Redis

from bot.domain.digests import Subscription
from bot.store import Record, RedisStore, StoreError, open_store
from bot.store.redis_store import LAYOUT_VERSION, shown_url
from tests.redis_server import free_port, redis_server

SUB = Subscription("ab2345", "C1", targets=("kafka-prod",), at=time(9, 30), tz="UTC")
PASSWORD = "s3cret-Pa55"


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with redis_server(tmp_path_factory.mktemp("redis")) as url:
        yield url


@pytest.fixture
async def raw(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url, decode_responses=True)
    await client.flushdb()
    yield client
    await client.aclose()


async def refusal(url: str) -> str:
    with pytest.raises(StoreError) as caught:
        await open_store("/unused/when/redis.db", url)
    message = str(caught.value)
    assert "REDIS_URL" in message, message
    assert PASSWORD not in message, message
    assert PASSWORD not in repr(caught.value.__cause__), message
    return message


@pytest.mark.parametrize(
    "userinfo", [f":{PASSWORD}@", f"default:{PASSWORD}@", ""], ids=["password", "user", "none"]
)
async def test_an_unreachable_redis_names_redis_url_without_the_password(userinfo: str) -> None:
    port = free_port()  # nothing listens there
    message = await refusal(f"redis://{userinfo}127.0.0.1:{port}/0")
    assert f"127.0.0.1:{port}" in message
    assert "cannot be reached" in message


async def test_a_password_in_the_query_is_not_shown_either() -> None:
    message = await refusal(f"redis://127.0.0.1:{free_port()}/0?password={PASSWORD}")
    assert "password=***" in message


async def test_a_wrong_password_names_redis_url_without_it(tmp_path: Path) -> None:
    with redis_server(tmp_path, "--requirepass", "the-right-one") as url:
        message = await refusal(url.replace("redis://", f"redis://:{PASSWORD}@"))
        assert "REDIS_URL=redis://:***@127.0.0.1:" in message
        store = await open_store(None, url.replace("redis://", "redis://:the-right-one@"))
        await store.close()


async def test_a_url_that_is_not_redis_names_redis_url() -> None:
    message = await refusal(f"http://:{PASSWORD}@127.0.0.1:6379/0")
    assert "redis://" in message


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://:pw@host:6379/0", "redis://:***@host:6379/0"),
        ("rediss://user:pw@host/1", "rediss://user:***@host/1"),
        ("redis://user@host", "redis://user@host"),
        ("redis://host:6379", "redis://host:6379"),
        ("redis://host?password=pw&db=2", "redis://host?password=***&db=2"),
    ],
)
def test_shown_url_masks_passwords_only(url: str, shown: str) -> None:
    assert shown_url(url) == shown


async def test_every_key_is_under_the_prefix(redis_url: str, raw: Redis) -> None:
    store = await RedisStore.open(redis_url, prefix="team-a:")
    await store.add(SUB)
    await store.claim("held", "replica-a", 60)
    await store.mark_done("posted", 60)
    await store.add_record(Record("alert", "k3m9qa", "C2", "{}"))
    await store.add_record(Record("alert", "zz2222", "C2", "{}"))
    await store.delete_record("alert", "zz2222")
    await store.close()
    keys = {key async for key in raw.scan_iter("*")}
    assert keys == {
        "team-a:schema",
        "team-a:seq",
        "team-a:subs",
        "team-a:channel:C1",
        "team-a:sub:ab2345",
        "team-a:claim:held",
        "team-a:claim:posted",
        "team-a:rec:alert:k3m9qa",
        "team-a:recs:alert",
        "team-a:rec-channel:alert:C2",
    }
    assert await raw.hgetall("team-a:rec:alert:k3m9qa") == {
        "channel": "C2",
        "body": "{}",
        "seq": "2",
    }
    assert await raw.zrange("team-a:rec-channel:alert:C2", 0, -1) == ["k3m9qa"]


async def test_two_prefixes_are_two_stores(redis_url: str, raw: Redis) -> None:
    one = await RedisStore.open(redis_url, prefix="one:")
    two = await RedisStore.open(redis_url, prefix="two:")
    await one.add(SUB)
    assert await one.claim("k", "a", 60) is True
    assert await two.all() == []
    assert await two.claim("k", "b", 60) is True
    await one.close()
    await two.close()


async def test_claims_and_done_markers_carry_their_lifetimes(redis_url: str, raw: Redis) -> None:
    store = await RedisStore.open(redis_url, prefix="p:")
    assert await store.claim("k", "replica-a", 30) is True
    assert 29_000 < await raw.pttl("p:claim:k") <= 30_000
    assert await raw.get("p:claim:k") == "held:replica-a"
    await store.mark_done("k", keep_s=3 * 86400)
    assert 3 * 86400_000 - 1000 < await raw.pttl("p:claim:k") <= 3 * 86400_000
    await store.close()


async def test_an_owner_named_like_the_done_marker_cannot_release_it(
    redis_url: str, raw: Redis
) -> None:
    store = await RedisStore.open(redis_url, prefix="p:")
    await store.mark_done("k", keep_s=60)
    await store.release("k", "done")
    assert await store.completed("k") is True
    await store.close()


async def test_the_layout_version_is_written_once(redis_url: str, raw: Redis) -> None:
    await (await RedisStore.open(redis_url, prefix="p:")).close()
    assert await raw.get("p:schema") == str(LAYOUT_VERSION)


async def test_a_layout_1_store_is_upgraded_and_keeps_its_digests_and_markers(
    redis_url: str, raw: Redis
) -> None:
    assert LAYOUT_VERSION == 2
    # What a layout-1 release left: the version, a digest and a done marker.
    first = await RedisStore.open(redis_url, prefix="p:")
    await first.add(SUB)
    await first.mark_done("digest:ab2345:2024-06-03", 60)
    await first.close()
    await raw.set("p:schema", "1")
    upgraded, racing = await asyncio.gather(
        RedisStore.open(redis_url, prefix="p:"), RedisStore.open(redis_url, prefix="p:")
    )
    assert await raw.get("p:schema") == "2"
    assert await upgraded.all() == [SUB]
    assert await upgraded.completed("digest:ab2345:2024-06-03") is True
    await upgraded.add_record(Record("alert", "k3m9qa", "C1", "{}"))
    assert await racing.records("alert") == [Record("alert", "k3m9qa", "C1", "{}")]
    await upgraded.close()
    await racing.close()


@pytest.mark.parametrize("found", [str(LAYOUT_VERSION + 1), "garbage"])
async def test_a_newer_layout_is_refused_and_left_alone(
    redis_url: str, raw: Redis, found: str
) -> None:
    await raw.set("dms-tasks-bot:schema", found)
    with pytest.raises(StoreError, match="REDIS_URL") as caught:
        await open_store(None, redis_url)
    assert f"layout version {found}" in str(caught.value)
    assert await raw.get("dms-tasks-bot:schema") == found


async def test_redis_wins_over_a_db_path(redis_url: str, raw: Redis, tmp_path: Path) -> None:
    store = await open_store(str(tmp_path / "bot.db"), redis_url)
    assert isinstance(store, RedisStore)
    await store.close()
    assert not (tmp_path / "bot.db").exists()
