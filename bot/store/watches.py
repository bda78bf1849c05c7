"""Watches kept as records of kind "watch": the WatchStore that bot/watches.py asks for, on any
Store. The body is `Watch.to_json()`; claims and done markers are the store's own."""

from __future__ import annotations

import json
import logging

from bot.domain.watches import RECORD_KIND, Watch

from .base import IdTaken, Record, Store

log = logging.getLogger(__name__)


def _decode(record: Record) -> Watch | None:
    try:
        return Watch.from_json(json.loads(record.body))
    except ValueError as exc:
        # One hand-edited or half-written record must not stop every other watch.
        log.warning("stored watch %s does not read back: %s", record.id, exc)
        return None


class StoredWatches:
    """Watches in a Store (bot.watches.WatchStore)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def add(self, watch: Watch) -> bool:
        body = json.dumps(watch.to_json(), separators=(",", ":"))
        try:
            await self.store.add_record(Record(RECORD_KIND, watch.id, watch.asked_in, body))
        except IdTaken:
            return False
        return True

    async def get(self, watch_id: str) -> Watch | None:
        record = await self.store.get_record(RECORD_KIND, watch_id)
        return None if record is None else _decode(record)

    async def all(self) -> list[Watch]:
        found = [_decode(r) for r in await self.store.records(RECORD_KIND)]
        return [w for w in found if w is not None]

    async def update(self, watch: Watch) -> bool:
        body = json.dumps(watch.to_json(), separators=(",", ":"))
        return await self.store.update_record(RECORD_KIND, watch.id, body)

    async def remove(self, watch_id: str) -> bool:
        return await self.store.delete_record(RECORD_KIND, watch_id)

    async def claim(self, key: str, owner: str, ttl_s: float) -> bool:
        return await self.store.claim(key, owner, ttl_s)

    async def release(self, key: str, owner: str) -> None:
        await self.store.release(key, owner)

    async def completed(self, key: str) -> bool:
        return await self.store.completed(key)

    async def mark_done(self, key: str, keep_s: float) -> None:
        await self.store.mark_done(key, keep_s)
