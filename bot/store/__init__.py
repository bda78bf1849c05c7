"""Where scheduled digests, alerts and other records (and the claims that post each run or
event once) are kept.

One SQLite file for a single host, or Redis when replicas run on several. Only the domain, the
standard library and redis are imported here (tests/test_layers.py); settings hand in the
paths and URLs, so this package never reads the environment."""

from __future__ import annotations

import time
from collections.abc import Callable

from .alerts import AlertStore
from .base import ID_ALPHABET, ID_LENGTH, IdTaken, Record, Store, StoreError
from .defaults import ChannelDefault, StoredDefaults
from .redis_store import DEFAULT_PREFIX, RedisStore
from .sqlite_store import SQLiteStore
from .watches import StoredWatches

__all__ = [
    "ID_ALPHABET",
    "ID_LENGTH",
    "AlertStore",
    "ChannelDefault",
    "IdTaken",
    "Record",
    "RedisStore",
    "SQLiteStore",
    "Store",
    "StoreError",
    "StoredDefaults",
    "StoredWatches",
    "open_store",
]


async def open_store(
    db_path: str | None,
    redis_url: str | None,
    *,
    clock: Callable[[], float] = time.time,
    redis_prefix: str = DEFAULT_PREFIX,
) -> Store:
    """Redis when `redis_url` is given, else the SQLite file at `db_path`.

    Raises StoreError naming the setting to fix when the store cannot be opened. `clock` is the
    SQLite store's wall clock for claim expiry (Redis keeps time itself)."""
    if redis_url:
        return await RedisStore.open(redis_url, prefix=redis_prefix)
    if db_path:
        return await SQLiteStore.open(db_path, clock=clock)
    raise StoreError("No store is configured: set DMS_BOT_DB to a file path, or REDIS_URL.")
