"""The SQLite file itself: created on first use, versioned and migrated, and never replaced or
truncated when it cannot be used; and claims racing from separate processes."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
import textwrap
from dataclasses import replace
from datetime import UTC, datetime, time
from pathlib import Path

import pytest

from bot.domain.alerts import Alert
from bot.domain.digests import Subscription
from bot.store import AlertStore, SQLiteStore, StoreError, open_store
from bot.store import sqlite_schema as schema

ROOT = Path(__file__).resolve().parent.parent
SUB = Subscription("ab2345", "C1", targets=("kafka-prod",), at=time(9, 30), tz="UTC")


def pragma(path: Path, name: str) -> object:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(f"PRAGMA {name}").fetchone()[0]
    finally:
        conn.close()


async def expect_refusal(path: Path, *words: str) -> str:
    """The message names the file, the setting, and whatever else the case must say."""
    with pytest.raises(StoreError) as caught:
        await open_store(str(path), None)
    message = str(caught.value)
    for word in (str(path), "DMS_BOT_DB", *words):
        assert word in message, message
    return message


async def test_the_file_is_created_on_first_use_at_the_current_schema(tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    store = await open_store(str(path), None)
    await store.close()
    assert path.is_file()
    assert pragma(path, "user_version") == schema.SCHEMA_VERSION >= 1
    assert pragma(path, "journal_mode") == "wal"


async def test_an_empty_file_becomes_a_store(tmp_path: Path) -> None:
    # What `touch` leaves, e.g. a mount point prepared by an operator, is SQLite's empty database.
    path = tmp_path / "bot.db"
    path.touch()
    store = await open_store(str(path), None)
    await store.add(SUB)
    await store.close()
    assert pragma(path, "user_version") == schema.SCHEMA_VERSION


async def test_a_missing_directory_is_named_and_not_created(tmp_path: Path) -> None:
    path = tmp_path / "not-yet" / "bot.db"
    await expect_refusal(path, "does not exist", str(tmp_path / "not-yet"))
    assert not path.parent.exists()


async def test_a_directory_is_refused(tmp_path: Path) -> None:
    message = await expect_refusal(tmp_path, "is a directory")
    assert "left as it is" in message


JUNK = {
    "text": b"DMS_BOT_DB=/var/lib/bot.db\n" * 40,
    "binary": bytes(range(256)) * 32,
    "other-header": b"SQLite format 2\x00" + b"\x00" * 4080,
}


@pytest.mark.parametrize("content", JUNK.values(), ids=JUNK.keys())
async def test_a_file_that_is_not_a_database_is_refused_and_untouched(
    tmp_path: Path, content: bytes
) -> None:
    path = tmp_path / "bot.db"
    path.write_bytes(content)
    message = await expect_refusal(path, "not a SQLite database", "left as it is")
    assert "backup" in message
    assert path.read_bytes() == content
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bot.db"]


@pytest.mark.parametrize("keep", [100, 4096, 0.5], ids=["header", "first-page", "half"])
async def test_a_truncated_store_is_refused_and_untouched(tmp_path: Path, keep: float) -> None:
    whole = tmp_path / "whole.db"
    store = await open_store(str(whole), None)
    await store.add(SUB)
    await store.close()
    data = whole.read_bytes()
    path = tmp_path / "bot.db"
    path.write_bytes(data[: int(keep * len(data)) if keep < 1 else int(keep)])
    before = path.read_bytes()
    await expect_refusal(path, "damaged", "backup", "left as it is")
    assert path.read_bytes() == before


async def test_a_newer_schema_is_refused_and_untouched(tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {schema.SCHEMA_VERSION + 1}")
    conn.execute("CREATE TABLE subscriptions_v2 (x)")
    conn.close()
    before = path.read_bytes()
    await expect_refusal(path, "newer", f"schema version {schema.SCHEMA_VERSION + 1}")
    assert path.read_bytes() == before


async def test_another_applications_database_is_refused_and_untouched(tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY)")
    conn.commit()
    conn.close()
    before = path.read_bytes()
    await expect_refusal(path, "something else", "invoices")
    assert path.read_bytes() == before


async def test_a_file_sqlite_cannot_open_names_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Root, which runs these tests in CI containers, reads any file: stand in for a denial.
    def denied(*_args: object, **_kwargs: object) -> sqlite3.Connection:
        raise sqlite3.OperationalError("unable to open database file")

    monkeypatch.setattr(schema.sqlite3, "connect", denied)
    await expect_refusal(tmp_path / "bot.db", "unable to open", "read and write")


async def test_a_migration_step_runs_once_and_keeps_the_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "bot.db"
    store = await open_store(str(path), None)
    await store.add(SUB)
    await store.close()
    step = ("CREATE TABLE watches (id TEXT PRIMARY KEY)",)
    monkeypatch.setattr(schema, "STEPS", (*schema.STEPS, step))
    monkeypatch.setattr(schema, "SCHEMA_VERSION", len(schema.STEPS))
    for _ in range(2):  # the second open finds nothing to do
        store = await open_store(str(path), None)
        assert await store.get(SUB.id) == SUB
        await store.close()
    assert pragma(path, "user_version") == schema.SCHEMA_VERSION
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT count(*) FROM watches").fetchone() == (0,)
    conn.close()


async def test_a_failed_migration_leaves_the_old_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "bot.db"
    await (await open_store(str(path), None)).close()
    broken = ("CREATE TABLE watches (id TEXT)", "THIS IS NOT SQL")
    monkeypatch.setattr(schema, "STEPS", (*schema.STEPS, broken))
    monkeypatch.setattr(schema, "SCHEMA_VERSION", len(schema.STEPS))
    with pytest.raises(StoreError, match="DMS_BOT_DB"):
        await open_store(str(path), None)
    monkeypatch.undo()
    assert pragma(path, "user_version") == schema.SCHEMA_VERSION
    store = await open_store(str(path), None)  # the step's first statement was rolled back too
    await store.close()
    conn = sqlite3.connect(path)
    tables = {name for (name,) in conn.execute("SELECT name FROM sqlite_master")}
    conn.close()
    assert "watches" not in tables


# The first released schema, as files in the field hold it: written out here rather than taken
# from schema.STEPS, so that an edit to a released step cannot pass by rewriting its own fixture.
V1_SCHEMA = (
    """CREATE TABLE subscriptions (
        seq INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        channel_id TEXT NOT NULL,
        body TEXT NOT NULL,
        paused TEXT,
        last_result TEXT
    )""",
    "CREATE INDEX subscriptions_by_channel ON subscriptions (channel_id, seq)",
    """CREATE TABLE claims (
        key TEXT PRIMARY KEY,
        owner TEXT NOT NULL,
        done INTEGER NOT NULL DEFAULT 0,
        expires REAL NOT NULL
    ) WITHOUT ROWID""",
    "CREATE INDEX claims_by_expiry ON claims (expires)",
)
V1_BODY = (
    '{"id":"ab2345","channel_id":"C1","targets":["kafka-prod"],"at":"09:30:00","tz":"UTC",'
    '"days":"daily","quiet":false,"created_by":"","created_at":null}'
)


def write_v1_file(path: Path) -> None:
    conn = sqlite3.connect(path)
    for statement in V1_SCHEMA:
        conn.execute(statement)
    conn.execute(
        "INSERT INTO subscriptions (id, channel_id, body, paused, last_result) "
        "VALUES ('ab2345', 'C1', ?, 'not_in_channel', NULL)",
        (V1_BODY,),
    )
    conn.execute("INSERT INTO claims VALUES ('digest:ab2345:2024-06-03', '', 1, 4102444800.0)")
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()


async def test_a_version_1_file_migrates_and_keeps_its_digests_and_markers(
    tmp_path: Path,
) -> None:
    path = tmp_path / "bot.db"
    write_v1_file(path)
    store = await open_store(str(path), None)
    assert pragma(path, "user_version") == schema.SCHEMA_VERSION == 2
    assert await store.all() == [replace(SUB, paused="not_in_channel")]
    assert await store.completed("digest:ab2345:2024-06-03") is True
    alert = Alert("k3m9qa", "C1", ("kafka-prod",), created_at=datetime(2024, 6, 3, tzinfo=UTC))
    await AlertStore(store).add(alert)
    await store.close()
    # Opened again, by this release or a replica started with it: nothing more to do.
    again = await open_store(str(path), None)
    assert await AlertStore(again).all() == [alert]
    assert await again.get(SUB.id) == replace(SUB, paused="not_in_channel")
    await again.close()


async def test_a_version_2_file_without_its_records_table_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    write_v1_file(path)
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 2")
    conn.close()
    before = path.read_bytes()
    await expect_refusal(path, "lacks the tables records", "left as it is")
    assert path.read_bytes() == before


async def test_a_closed_store_says_so(tmp_path: Path) -> None:
    store = await SQLiteStore.open(tmp_path / "bot.db")
    await store.close()
    with pytest.raises(StoreError, match="closed"):
        await store.get(SUB.id)


async def test_no_store_configured_names_both_settings() -> None:
    with pytest.raises(StoreError, match=r"DMS_BOT_DB.*REDIS_URL"):
        await open_store(None, None)


# Each process opens the store, says so, waits for the word, then claims as fast as it can.
RACER = textwrap.dedent(
    """
    import asyncio, sys
    from bot.store import SQLiteStore

    async def main(path, name):
        store = await SQLiteStore.open(path)
        print("ready", flush=True)
        sys.stdin.readline()
        won = await asyncio.gather(*(store.claim("k", f"{name}-{i}", 60) for i in range(25)))
        await store.close()
        print(sum(won), flush=True)

    asyncio.run(main(sys.argv[1], sys.argv[2]))
    """
)


async def test_processes_racing_on_one_file_have_one_winner(tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    await (await open_store(str(path), None)).close()

    def race() -> list[int]:
        racers = [
            subprocess.Popen(
                [sys.executable, "-c", RACER, str(path), f"process-{n}"],
                cwd=ROOT,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            for n in range(4)
        ]
        for racer in racers:
            assert racer.stdout is not None and racer.stdout.readline() == "ready\n"
        for racer in racers:  # all at once: each was waiting with its store open
            assert racer.stdin is not None
            racer.stdin.write("go\n")
            racer.stdin.flush()
        return [int(racer.communicate(timeout=60)[0]) for racer in racers]

    wins = await asyncio.to_thread(race)
    assert sum(wins) == 1, wins
