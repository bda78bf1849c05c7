"""The store in one SQLite file, for a single host (replicas on it may share the file).

One connection lives on one dedicated thread: calls queue there in order, the event loop never
waits on the disk, and sqlite3's same-thread rule holds without a lock."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import TypeVar

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
from .sqlite_schema import SETTING, connect

T = TypeVar("T")

_COLUMNS = "body, paused, last_result"


class SQLiteStore:
    def __init__(self, path: Path, pool: ThreadPoolExecutor, clock: Callable[[], float]) -> None:
        self.path = path
        self._pool = pool
        self._clock = clock
        self._conn: sqlite3.Connection | None = None
        self._closed = False

    @classmethod
    async def open(cls, path: str | Path, clock: Callable[[], float] = time.time) -> SQLiteStore:
        """`clock` is wall time in seconds since the epoch, shared by every process on the file;
        tests pass their own to expire claims without waiting."""
        store = cls(Path(path), ThreadPoolExecutor(1, thread_name_prefix="dms-store"), clock)
        try:
            conn = await asyncio.get_running_loop().run_in_executor(
                store._pool, connect, store.path
            )
        except BaseException:
            store._pool.shutdown(wait=False)
            raise
        store._conn = conn
        return store

    async def _run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        if self._closed or self._conn is None:
            raise StoreError(f"the store {self.path} ({SETTING}) is closed")
        return await asyncio.get_running_loop().run_in_executor(
            self._pool, partial(self._guarded, work, self._conn)
        )

    def _guarded(self, work: Callable[[sqlite3.Connection], T], conn: sqlite3.Connection) -> T:
        try:
            return work(conn)
        except sqlite3.IntegrityError as exc:
            raise IdTaken(str(exc)) from exc
        except sqlite3.Error as exc:
            raise StoreError(f"the store {self.path} ({SETTING}) failed: {exc}") from exc

    @staticmethod
    @contextmanager
    def _immediate(conn: sqlite3.Connection) -> Iterator[None]:
        # The write lock from the start: no other process can read-then-write in between.
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    # Subscriptions

    async def add(self, sub: Subscription) -> None:
        body, result = encode_body(sub), encode_result(sub.last_result)

        def work(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO subscriptions (id, channel_id, body, paused, last_result) "
                "VALUES (?, ?, ?, ?, ?)",
                (sub.id, sub.channel_id, body, sub.paused, result),
            )

        try:
            await self._run(work)
        except IdTaken:
            raise IdTaken(f"subscription id {sub.id} is taken") from None

    async def get(self, sub_id: str) -> Subscription | None:
        def work(conn: sqlite3.Connection) -> tuple[str, str | None, str | None] | None:
            sql = f"SELECT {_COLUMNS} FROM subscriptions WHERE id = ?"
            return conn.execute(sql, (sub_id,)).fetchone()

        row = await self._run(work)
        return None if row is None else decode(*row)

    async def _select(self, where: str, args: tuple[str, ...]) -> list[Subscription]:
        def work(conn: sqlite3.Connection) -> list[tuple[str, str | None, str | None]]:
            sql = f"SELECT {_COLUMNS} FROM subscriptions {where} ORDER BY seq"
            return conn.execute(sql, args).fetchall()

        return [decode(*row) for row in await self._run(work)]

    async def for_channel(self, channel_id: str) -> list[Subscription]:
        return await self._select("WHERE channel_id = ?", (channel_id,))

    async def all(self) -> list[Subscription]:
        return await self._select("", ())

    async def remove(self, sub_id: str) -> bool:
        def work(conn: sqlite3.Connection) -> bool:
            return conn.execute("DELETE FROM subscriptions WHERE id = ?", (sub_id,)).rowcount > 0

        return await self._run(work)

    async def _set(self, sub_id: str, column: str, value: str | None) -> bool:
        def work(conn: sqlite3.Connection) -> bool:
            sql = f"UPDATE subscriptions SET {column} = ? WHERE id = ?"
            return conn.execute(sql, (value, sub_id)).rowcount > 0

        return await self._run(work)

    async def record_result(self, sub_id: str, result: DigestResult) -> bool:
        return await self._set(sub_id, "last_result", encode_result(result))

    async def set_paused(self, sub_id: str, reason: str | None) -> bool:
        return await self._set(sub_id, "paused", reason)

    async def new_id(self) -> str:
        def work(conn: sqlite3.Connection) -> str | None:
            for _ in range(ID_ATTEMPTS):
                candidate = candidate_id()
                sql = "SELECT 1 FROM subscriptions WHERE id = ?"
                if conn.execute(sql, (candidate,)).fetchone() is None:
                    return candidate
            return None

        found = await self._run(work)
        if found is None:
            raise StoreError(f"no free subscription id after {ID_ATTEMPTS} tries in {self.path}")
        return found

    # Records

    async def add_record(self, record: Record) -> None:
        check_kind(record.kind)

        def work(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO records (kind, id, channel_id, body) VALUES (?, ?, ?, ?)",
                (record.kind, record.id, record.channel_id, record.body),
            )

        try:
            await self._run(work)
        except IdTaken:
            raise IdTaken(f"{record.kind} id {record.id} is taken") from None

    async def get_record(self, kind: str, record_id: str) -> Record | None:
        def work(conn: sqlite3.Connection) -> tuple[str, str] | None:
            sql = "SELECT channel_id, body FROM records WHERE kind = ? AND id = ?"
            return conn.execute(sql, (kind, record_id)).fetchone()

        row = await self._run(work)
        return None if row is None else Record(kind, record_id, row[0], row[1])

    async def records(self, kind: str, channel_id: str | None = None) -> list[Record]:
        where, args = "kind = ?", (kind,)
        if channel_id is not None:
            where, args = "kind = ? AND channel_id = ?", (kind, channel_id)

        def work(conn: sqlite3.Connection) -> list[tuple[str, str, str]]:
            sql = f"SELECT id, channel_id, body FROM records WHERE {where} ORDER BY seq"
            return conn.execute(sql, args).fetchall()

        return [Record(kind, *row) for row in await self._run(work)]

    async def update_record(self, kind: str, record_id: str, body: str) -> bool:
        def work(conn: sqlite3.Connection) -> bool:
            sql = "UPDATE records SET body = ? WHERE kind = ? AND id = ?"
            return conn.execute(sql, (body, kind, record_id)).rowcount > 0

        return await self._run(work)

    async def delete_record(self, kind: str, record_id: str) -> bool:
        def work(conn: sqlite3.Connection) -> bool:
            sql = "DELETE FROM records WHERE kind = ? AND id = ?"
            return conn.execute(sql, (kind, record_id)).rowcount > 0

        return await self._run(work)

    async def new_record_id(self, kind: str) -> str:
        def work(conn: sqlite3.Connection) -> str | None:
            for _ in range(ID_ATTEMPTS):
                candidate = candidate_id()
                sql = "SELECT 1 FROM records WHERE kind = ? AND id = ?"
                if conn.execute(sql, (kind, candidate)).fetchone() is None:
                    return candidate
            return None

        found = await self._run(work)
        if found is None:
            raise StoreError(f"no free {kind} id after {ID_ATTEMPTS} tries in {self.path}")
        return found

    # Claims

    async def claim(self, key: str, owner: str, ttl_s: float) -> bool:
        check_seconds("ttl_s", ttl_s)

        def work(conn: sqlite3.Connection) -> bool:
            now = self._clock()
            with self._immediate(conn):
                # Expired claims and markers go first, so that the insert below wins over them;
                # sweeping all of them keeps the table as small as what is live.
                conn.execute("DELETE FROM claims WHERE expires <= ?", (now,))
                inserted = conn.execute(
                    "INSERT INTO claims (key, owner, done, expires) VALUES (?, ?, 0, ?) "
                    "ON CONFLICT (key) DO NOTHING",
                    (key, owner, now + ttl_s),
                ).rowcount
            return inserted == 1

        return await self._run(work)

    async def release(self, key: str, owner: str) -> None:
        def work(conn: sqlite3.Connection) -> None:
            conn.execute(
                "DELETE FROM claims WHERE key = ? AND owner = ? AND done = 0", (key, owner)
            )

        await self._run(work)

    async def completed(self, key: str) -> bool:
        def work(conn: sqlite3.Connection) -> bool:
            row = conn.execute(
                "SELECT 1 FROM claims WHERE key = ? AND done = 1 AND expires > ?",
                (key, self._clock()),
            ).fetchone()
            return row is not None

        return await self._run(work)

    async def mark_done(self, key: str, keep_s: float) -> None:
        check_seconds("keep_s", keep_s)

        def work(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO claims (key, owner, done, expires) VALUES (?, '', 1, ?) "
                "ON CONFLICT (key) DO UPDATE SET done = 1, expires = excluded.expires",
                (key, self._clock() + keep_s),
            )

        await self._run(work)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        conn, self._conn = self._conn, None
        if conn is not None:
            await asyncio.get_running_loop().run_in_executor(self._pool, conn.close)
        self._pool.shutdown(wait=True)
