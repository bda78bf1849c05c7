"""What every store offers, and the errors it raises.

Claims make a scheduled post happen once across replicas sharing one store. For each run the
caller builds a key, e.g. "digest:d7k2q9:2024-06-03" (the subscription and its local date), then:

    if await store.completed(key) or not await store.claim(key, owner, ttl_s=300):
        return                              # posted already, or another replica is posting
    try:
        await post()
    except Exception:
        await store.release(key, owner)     # let a later attempt (or replica) try again
        raise
    await store.mark_done(key, keep_s=3 * 86400)

A process that dies mid-post leaves its claim to expire after `ttl_s`, when a surviving replica
can claim it; a done marker outlives every replica's catch-up window, so a restart never
re-posts. Keys are opaque strings, so alerts and watches can use the same calls.

Records are the other half, for everything a channel sets up besides digests (alerts now;
watches and channel defaults later): a record is a kind ("alert"), an id unique within its kind,
the channel it belongs to, and a body the caller encodes (JSON). Kept generic so that the next
kind needs no schema version, key layout or contract of its own; the typed views (AlertStore in
bot/store/alerts.py) encode and decode. There is no upsert: `add_record` only inserts, so that it
stays the arbiter of ids between replicas, and `update_record` only changes a record that is
there, so that a pause recorded just after someone removed the record cannot bring it back.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from bot.domain.digests import DigestResult, Subscription

# Lowercase letters and digits without 0/o and 1/l, which read alike in a Slack message.
ID_LETTERS = "abcdefghijkmnpqrstuvwxyz"
ID_ALPHABET = ID_LETTERS + "23456789"
ID_LENGTH = 6
# After this many taken candidates the id space is not the problem; something else is wrong.
ID_ATTEMPTS = 100


# A record kind is part of every key it is kept under, so it is one plain word.
_KIND = re.compile(r"[a-z][a-z0-9_-]{0,31}", re.ASCII)


class StoreError(Exception):
    """The store cannot be opened or used; the message says which setting to fix and how."""


class IdTaken(ValueError):
    """`add` was given a subscription whose id is already stored."""


def candidate_id() -> str:
    # A leading letter keeps an id from ever reading as a number or a time to the grammar.
    return secrets.choice(ID_LETTERS) + "".join(
        secrets.choice(ID_ALPHABET) for _ in range(ID_LENGTH - 1)
    )


def check_seconds(name: str, seconds: float) -> None:
    if not seconds > 0:
        raise ValueError(f"{name} must be positive, got {seconds!r}")


def check_kind(kind: str) -> None:
    if not _KIND.fullmatch(kind):
        raise ValueError(f"a record kind is one lowercase word, got {kind!r}")


@dataclass(frozen=True)
class Record:
    """One channel's record of some kind; `body` is the caller's encoding (JSON text)."""

    kind: str
    id: str
    channel_id: str
    body: str


@runtime_checkable
class Store(Protocol):
    """Subscriptions, records and claims, shared by every replica that opens the same store.

    Every operation may raise StoreError when the backend fails."""

    async def add(self, sub: Subscription) -> None:
        """Store a new subscription; IdTaken if its id is stored already."""
        ...

    async def get(self, sub_id: str) -> Subscription | None: ...

    async def for_channel(self, channel_id: str) -> list[Subscription]:
        """The channel's subscriptions, oldest first."""
        ...

    async def all(self) -> list[Subscription]:
        """Every subscription, oldest first."""
        ...

    async def remove(self, sub_id: str) -> bool:
        """True if it was there."""
        ...

    async def record_result(self, sub_id: str, result: DigestResult) -> bool:
        """Set its last_result; False if it is gone (removed while it ran)."""
        ...

    async def set_paused(self, sub_id: str, reason: str | None) -> bool:
        """Pause it for `reason`, or resume it with None; False if it is gone."""
        ...

    async def new_id(self) -> str:
        """A short typeable id no stored subscription has, e.g. "d7k2q9".

        Two replicas may draw the same one at once (about one chance in 10^8); `add` stays the
        arbiter and raises IdTaken for the second, which draws again."""
        ...

    async def add_record(self, record: Record) -> None:
        """Store a new record; IdTaken if its kind already has its id."""
        ...

    async def get_record(self, kind: str, record_id: str) -> Record | None: ...

    async def records(self, kind: str, channel_id: str | None = None) -> list[Record]:
        """Every record of `kind` (of one channel, when given), oldest first."""
        ...

    async def update_record(self, kind: str, record_id: str, body: str) -> bool:
        """Replace the body of a stored record; False (and nothing stored) if it is gone."""
        ...

    async def delete_record(self, kind: str, record_id: str) -> bool:
        """True if it was there."""
        ...

    async def new_record_id(self, kind: str) -> str:
        """A short typeable id no stored record of `kind` has; `add_record` stays the arbiter,
        as for `new_id`."""
        ...

    async def claim(self, key: str, owner: str, ttl_s: float) -> bool:
        """Atomically take `key` for `ttl_s` seconds: True only for the first caller while the
        claim or a done marker lives."""
        ...

    async def release(self, key: str, owner: str) -> None:
        """Drop `owner`'s claim on `key`; another owner's claim and a done marker stay."""
        ...

    async def completed(self, key: str) -> bool:
        """True while a done marker for `key` lives."""
        ...

    async def mark_done(self, key: str, keep_s: float) -> None:
        """Replace the claim on `key` with a done marker that lives `keep_s` seconds."""
        ...

    async def close(self) -> None: ...
