"""The store in Redis, for replicas on several hosts.

Layout, every key under the prefix (default "dms-tasks-bot:"):
  schema              the layout's version, refused at open when newer than this code's
  seq                 a counter that orders subscriptions oldest first
  sub:<id>            hash: channel, body (the codec's JSON), paused and last_result (JSON)
  subs                sorted set of every id, scored by seq
  channel:<channel>   sorted set of one channel's ids, scored by seq
  claim:<key>         "held:<owner>" while claimed, "done" as a done marker; expiring keys
  rec:<kind>:<id>     hash: channel, body and seq of one record (layout 2)
  recs:<kind>         sorted set of every id of one kind, scored by seq (layout 2)
  rec-channel:<kind>:<channel>   sorted set of one channel's ids of one kind (layout 2)

Layout 2 only added the record keys, so a store in layout 1 is brought to 2 by rewriting the
version (compare-and-set, so that replicas starting together agree); a release that knows only
layout 1 then refuses the store rather than ignore the records in it. Kinds are one word without
":" (base.check_kind), so a record's keys never collide with another kind's.

Changes that touch several keys run as Lua scripts, which Redis runs atomically, so a reader
never sees a subscription in one index and not the other. Scripts name the channel index from
the stored hash, so this layout assumes one Redis, not a cluster."""

from __future__ import annotations

import json
import math
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import RedisError

from bot.domain.digests import DigestResult, Subscription

from .base import (
    ID_ATTEMPTS,
    IdTaken,
    Record,
    StoreError,
    candidate_id,
    check_kind,
    check_seconds,
)
from .codec import decode, encode_body, encode_result

SETTING = "REDIS_URL"
DEFAULT_PREFIX = "dms-tasks-bot:"
LAYOUT_VERSION = 2
DONE = "done"
HELD = "held:"

# Short: an unreachable Redis at start-up should fail in seconds, and a blip mid-run be retried
# a couple of times before the caller hears of it.
CONNECT_TIMEOUT_S = 5.0
COMMAND_TIMEOUT_S = 10.0
RETRIES = 2

_ADD = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local seq = redis.call('INCR', KEYS[2])
redis.call('HSET', KEYS[1], 'channel', ARGV[2], 'body', ARGV[3], 'paused', ARGV[4],
    'last_result', ARGV[5], 'seq', seq)
redis.call('ZADD', KEYS[3], seq, ARGV[1])
redis.call('ZADD', KEYS[4], seq, ARGV[1])
return 1
"""

_REMOVE = """
local channel = redis.call('HGET', KEYS[1], 'channel')
if not channel then return 0 end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZREM', ARGV[2] .. channel, ARGV[1])
return 1
"""

# HSET alone would create a hash for a subscription removed meanwhile.
_SET_IF_PRESENT = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
"""

_ADD_RECORD = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local seq = redis.call('INCR', KEYS[2])
redis.call('HSET', KEYS[1], 'channel', ARGV[2], 'body', ARGV[3], 'seq', seq)
redis.call('ZADD', KEYS[3], seq, ARGV[1])
redis.call('ZADD', KEYS[4], seq, ARGV[1])
return 1
"""

# The channel index is named from the stored hash, as in _REMOVE.
_DELETE_RECORD = _REMOVE

# Layout upgrades: only from the version read, so two replicas upgrading at once both succeed.
_UPGRADE_LAYOUT = """
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('SET', KEYS[1], ARGV[2]) end
return redis.call('GET', KEYS[1])
"""

# Compare and delete in one step: between a GET and a DEL the claim could expire and be taken.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


def shown_url(url: str) -> str:
    """The URL with any password masked, fit for a log line or an error message."""
    try:
        parts = urlsplit(url)
        if "@" in parts.netloc:
            userinfo, _, hostport = parts.netloc.rpartition("@")
            user, colon, _password = userinfo.partition(":")
            netloc = f"{user}{colon}{'***' if colon else ''}@{hostport}"
            parts = parts._replace(netloc=netloc)
        # redis-py also reads ?password=...
        query = [(k, "***" if k.lower() == "password" else v) for k, v in parse_qsl(parts.query)]
        return urlunsplit(parts._replace(query=urlencode(query, safe="*")))
    except ValueError:
        return "(a URL that does not parse)"


def _secrets(url: str) -> list[str]:
    try:
        parts = urlsplit(url)
        found = [parts.password or ""]
        found += [v for k, v in parse_qsl(parts.query) if k.lower() == "password"]
    except ValueError:
        return [url]
    return [s for s in found if s]


def _ms(seconds: float) -> int:
    # PX takes whole milliseconds, at least one; rounding up never shortens a claim.
    return max(1, math.ceil(seconds * 1000))


class RedisStore:
    def __init__(self, client: Redis, url: str, prefix: str) -> None:
        self._r = client
        self._url = url
        self.prefix = prefix
        self._add = client.register_script(_ADD)
        self._remove = client.register_script(_REMOVE)
        self._set_if_present = client.register_script(_SET_IF_PRESENT)
        self._release = client.register_script(_RELEASE)
        self._add_record = client.register_script(_ADD_RECORD)
        self._delete_record = client.register_script(_DELETE_RECORD)
        self._upgrade_layout = client.register_script(_UPGRADE_LAYOUT)

    @classmethod
    async def open(cls, url: str, prefix: str = DEFAULT_PREFIX) -> RedisStore:
        try:
            client = Redis.from_url(
                url,
                decode_responses=True,
                socket_connect_timeout=CONNECT_TIMEOUT_S,
                socket_timeout=COMMAND_TIMEOUT_S,
                retry=Retry(ExponentialBackoff(cap=1.0, base=0.05), RETRIES),
            )
        except ValueError as exc:
            raise StoreError(
                f"{SETTING}={shown_url(url)} is not a Redis URL ({cls._scrub(url, exc)}). "
                f"Give it as redis://[:password@]host[:port][/db], or rediss:// for TLS."
            ) from None
        store = cls(client, url, prefix)
        try:
            await client.ping()
            await store._check_layout()
        except (RedisError, OSError) as exc:
            await store.close()
            raise StoreError(
                f"Redis at {SETTING}={shown_url(url)} cannot be reached or used "
                f"({cls._scrub(url, exc)}). Check that Redis is running and that {SETTING} "
                f"gives its host, port and password."
            ) from None
        except StoreError:
            await store.close()
            raise
        return store

    @staticmethod
    def _scrub(url: str, exc: BaseException) -> str:
        text = f"{type(exc).__name__}: {exc}"
        for secret in _secrets(url):
            text = text.replace(secret, "***")
        return text

    async def _check_layout(self) -> None:
        key = self.prefix + "schema"
        await self._r.set(key, LAYOUT_VERSION, nx=True)
        found = await self._r.get(key)
        if found is not None and found.isdigit() and int(found) < LAYOUT_VERSION:
            # Every older layout is a subset of this one (see the module docstring).
            found = await self._upgrade_layout(keys=[key], args=[found, LAYOUT_VERSION])
        if found is not None and not (found.isdigit() and int(found) <= LAYOUT_VERSION):
            raise StoreError(
                f"Redis at {SETTING}={shown_url(self._url)} holds the store (keys {self.prefix}*) "
                f"in layout version {found}, newer than this dms-tasks-bot knows "
                f"({LAYOUT_VERSION}). Run that release or a newer one. Nothing was changed."
            )

    def _failed(self, exc: BaseException) -> StoreError:
        return StoreError(
            f"Redis at {SETTING}={shown_url(self._url)} failed: {self._scrub(self._url, exc)}"
        )

    def _sub(self, sub_id: str) -> str:
        return f"{self.prefix}sub:{sub_id}"

    def _channel(self, channel_id: str) -> str:
        return f"{self.prefix}channel:{channel_id}"

    def _claim(self, key: str) -> str:
        return f"{self.prefix}claim:{key}"

    # Subscriptions

    async def add(self, sub: Subscription) -> None:
        keys = [self._sub(sub.id), self.prefix + "seq", self.prefix + "subs"]
        keys.append(self._channel(sub.channel_id))
        args = [sub.id, sub.channel_id, encode_body(sub), json.dumps(sub.paused)]
        args.append(json.dumps(encode_result(sub.last_result)))
        try:
            added = await self._add(keys=keys, args=args)
        except RedisError as exc:
            raise self._failed(exc) from exc
        if not added:
            raise IdTaken(f"subscription id {sub.id} is taken")

    @staticmethod
    def _decode(fields: list[str | None]) -> Subscription | None:
        body, paused, last_result = fields
        if body is None:
            return None  # removed between reading an index and reading the hash
        try:
            reason, result = json.loads(paused or "null"), json.loads(last_result or "null")
        except ValueError as exc:
            raise StoreError(f"a stored subscription does not read back ({exc!r})") from exc
        return decode(body, reason, result)

    async def _read(self, ids: list[str]) -> list[Subscription]:
        try:
            async with self._r.pipeline(transaction=False) as pipe:
                for sub_id in ids:
                    pipe.hmget(self._sub(sub_id), ["body", "paused", "last_result"])
                rows = await pipe.execute()
        except RedisError as exc:
            raise self._failed(exc) from exc
        return [sub for row in rows if (sub := self._decode(row)) is not None]

    async def _index(self, key: str) -> list[Subscription]:
        try:
            ids = await self._r.zrange(key, 0, -1)
        except RedisError as exc:
            raise self._failed(exc) from exc
        return await self._read(list(ids))

    async def get(self, sub_id: str) -> Subscription | None:
        found = await self._read([sub_id])
        return found[0] if found else None

    async def for_channel(self, channel_id: str) -> list[Subscription]:
        return await self._index(self._channel(channel_id))

    async def all(self) -> list[Subscription]:
        return await self._index(self.prefix + "subs")

    async def remove(self, sub_id: str) -> bool:
        keys = [self._sub(sub_id), self.prefix + "subs"]
        try:
            return bool(await self._remove(keys=keys, args=[sub_id, self.prefix + "channel:"]))
        except RedisError as exc:
            raise self._failed(exc) from exc

    async def _set(self, sub_id: str, field: str, value: str) -> bool:
        try:
            return bool(await self._set_if_present(keys=[self._sub(sub_id)], args=[field, value]))
        except RedisError as exc:
            raise self._failed(exc) from exc

    async def record_result(self, sub_id: str, result: DigestResult) -> bool:
        return await self._set(sub_id, "last_result", json.dumps(encode_result(result)))

    async def set_paused(self, sub_id: str, reason: str | None) -> bool:
        return await self._set(sub_id, "paused", json.dumps(reason))

    async def new_id(self) -> str:
        try:
            for _ in range(ID_ATTEMPTS):
                candidate = candidate_id()
                if not await self._r.exists(self._sub(candidate)):
                    return candidate
        except RedisError as exc:
            raise self._failed(exc) from exc
        raise StoreError(f"no free subscription id after {ID_ATTEMPTS} tries under {self.prefix}")

    # Records

    def _rec(self, kind: str, record_id: str) -> str:
        return f"{self.prefix}rec:{kind}:{record_id}"

    def _rec_channel(self, kind: str, channel_id: str = "") -> str:
        return f"{self.prefix}rec-channel:{kind}:{channel_id}"

    async def add_record(self, record: Record) -> None:
        check_kind(record.kind)
        keys = [self._rec(record.kind, record.id), self.prefix + "seq"]
        keys += [
            f"{self.prefix}recs:{record.kind}",
            self._rec_channel(record.kind, record.channel_id),
        ]
        try:
            added = await self._add_record(
                keys=keys, args=[record.id, record.channel_id, record.body]
            )
        except RedisError as exc:
            raise self._failed(exc) from exc
        if not added:
            raise IdTaken(f"{record.kind} id {record.id} is taken")

    async def _read_records(self, kind: str, ids: list[str]) -> list[Record]:
        try:
            async with self._r.pipeline(transaction=False) as pipe:
                for record_id in ids:
                    pipe.hmget(self._rec(kind, record_id), ["channel", "body"])
                rows = await pipe.execute()
        except RedisError as exc:
            raise self._failed(exc) from exc
        return [
            Record(kind, record_id, channel, body)
            for record_id, (channel, body) in zip(ids, rows, strict=True)
            # Deleted between reading an index and reading the hash.
            if channel is not None and body is not None
        ]

    async def get_record(self, kind: str, record_id: str) -> Record | None:
        found = await self._read_records(kind, [record_id])
        return found[0] if found else None

    async def records(self, kind: str, channel_id: str | None = None) -> list[Record]:
        index = (
            f"{self.prefix}recs:{kind}"
            if channel_id is None
            else self._rec_channel(kind, channel_id)
        )
        try:
            ids = await self._r.zrange(index, 0, -1)
        except RedisError as exc:
            raise self._failed(exc) from exc
        return await self._read_records(kind, list(ids))

    async def update_record(self, kind: str, record_id: str, body: str) -> bool:
        try:
            return bool(
                await self._set_if_present(keys=[self._rec(kind, record_id)], args=["body", body])
            )
        except RedisError as exc:
            raise self._failed(exc) from exc

    async def delete_record(self, kind: str, record_id: str) -> bool:
        keys = [self._rec(kind, record_id), f"{self.prefix}recs:{kind}"]
        try:
            return bool(
                await self._delete_record(keys=keys, args=[record_id, self._rec_channel(kind)])
            )
        except RedisError as exc:
            raise self._failed(exc) from exc

    async def new_record_id(self, kind: str) -> str:
        try:
            for _ in range(ID_ATTEMPTS):
                candidate = candidate_id()
                if not await self._r.exists(self._rec(kind, candidate)):
                    return candidate
        except RedisError as exc:
            raise self._failed(exc) from exc
        raise StoreError(f"no free {kind} id after {ID_ATTEMPTS} tries under {self.prefix}")

    # Claims

    async def claim(self, key: str, owner: str, ttl_s: float) -> bool:
        check_seconds("ttl_s", ttl_s)
        try:
            # NX: only when absent, and an expired claim or marker is absent. Atomic in Redis.
            return bool(await self._r.set(self._claim(key), HELD + owner, nx=True, px=_ms(ttl_s)))
        except RedisError as exc:
            raise self._failed(exc) from exc

    async def release(self, key: str, owner: str) -> None:
        try:
            await self._release(keys=[self._claim(key)], args=[HELD + owner])
        except RedisError as exc:
            raise self._failed(exc) from exc

    async def completed(self, key: str) -> bool:
        try:
            return await self._r.get(self._claim(key)) == DONE
        except RedisError as exc:
            raise self._failed(exc) from exc

    async def mark_done(self, key: str, keep_s: float) -> None:
        check_seconds("keep_s", keep_s)
        try:
            await self._r.set(self._claim(key), DONE, px=_ms(keep_s))
        except RedisError as exc:
            raise self._failed(exc) from exc

    async def close(self) -> None:
        # aclose arrived in redis-py 5.0.1; close is its older, now deprecated, name.
        closer = getattr(self._r, "aclose", None) or self._r.close
        await closer()
