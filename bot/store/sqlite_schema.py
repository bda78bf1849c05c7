"""Opening the SQLite file: every check that it is ours and current, and its migrations.

Nothing here ever deletes, truncates or replaces an existing file: a file that is not a store
this code can use is refused with a StoreError saying what to do, and left as it was."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from .base import StoreError

SETTING = "DMS_BOT_DB"

# Step i takes the schema from version i to i + 1, in one transaction with the version bump.
# Append new steps; never edit a released one, since files in the field ran it already.
STEPS: tuple[tuple[str, ...], ...] = (
    (
        # seq orders subscriptions oldest first; the JSON body is the codec's.
        """CREATE TABLE subscriptions (
            seq INTEGER PRIMARY KEY,
            id TEXT NOT NULL UNIQUE,
            channel_id TEXT NOT NULL,
            body TEXT NOT NULL,
            paused TEXT,
            last_result TEXT
        )""",
        "CREATE INDEX subscriptions_by_channel ON subscriptions (channel_id, seq)",
        # A claim or, with done = 1, a done marker; `expires` is seconds since the epoch, since
        # every process sharing the file must read the same clock.
        """CREATE TABLE claims (
            key TEXT PRIMARY KEY,
            owner TEXT NOT NULL,
            done INTEGER NOT NULL DEFAULT 0,
            expires REAL NOT NULL
        ) WITHOUT ROWID""",
        "CREATE INDEX claims_by_expiry ON claims (expires)",
    ),
    (
        # Version 2: records of any kind (alerts first); seq orders them oldest first, and the
        # body is the kind's own JSON, so a new kind needs no step of its own.
        """CREATE TABLE records (
            seq INTEGER PRIMARY KEY,
            kind TEXT NOT NULL,
            id TEXT NOT NULL,
            channel_id TEXT NOT NULL,
            body TEXT NOT NULL,
            UNIQUE (kind, id)
        )""",
        "CREATE INDEX records_by_channel ON records (kind, channel_id, seq)",
    ),
)
SCHEMA_VERSION = len(STEPS)
# The tables each step adds: a file at version v must hold those of the first v steps.
TABLES_ADDED: tuple[frozenset[str], ...] = (
    frozenset({"subscriptions", "claims"}),
    frozenset({"records"}),
)


def tables_at(version: int) -> frozenset[str]:
    return frozenset().union(*TABLES_ADDED[:version])


# How long a write waits for another process's transaction before giving up.
BUSY_TIMEOUT_S = 10.0

_LEFT_ALONE = "The file was left as it is."


def refusal(path: Path, problem: str, fix: str) -> StoreError:
    return StoreError(f"The store file {path} ({SETTING}) {problem}. {fix} {_LEFT_ALONE}")


def _check_place(path: Path) -> None:
    if path.is_dir():
        raise refusal(
            path,
            "is a directory",
            f"Point {SETTING} at a file inside it, e.g. {path / 'dms-tasks-bot.db'}.",
        )
    if not path.parent.is_dir():
        # Creating directories would hide a typo in the setting, e.g. a mount not yet there.
        raise StoreError(
            f"The store file {path} ({SETTING}) cannot be created: its directory {path.parent} "
            f"does not exist. Create the directory, or point {SETTING} at a file in one that does."
        )


# SQLite's primary result codes for a damaged file and for one that is not a database at all.
_SQLITE_CORRUPT = 11
_SQLITE_NOTADB = 26


def _not_usable(path: Path, exc: sqlite3.Error) -> StoreError:
    text = str(exc)
    code = getattr(exc, "sqlite_errorcode", 0) & 0xFF  # extended codes carry it in the low byte
    if code in (_SQLITE_CORRUPT, _SQLITE_NOTADB):
        return refusal(
            path,
            "is not a SQLite database, or is damaged",
            f"Restore it from a backup or move it aside (a new store is created when the file "
            f"does not exist), or point {SETTING} at another file.",
        )
    return refusal(
        path,
        f"cannot be opened for reading and writing ({text})",
        f"Check that the bot's user may read and write the file and its directory (SQLite keeps "
        f"-wal and -shm files beside it), or point {SETTING} at another file.",
    )


def _version_and_tables(conn: sqlite3.Connection) -> tuple[int, set[str]]:
    version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    return version, {str(name) for (name,) in rows if not str(name).startswith("sqlite_")}


def _check_contents(path: Path, version: int, tables: set[str]) -> None:
    if version > SCHEMA_VERSION:
        raise refusal(
            path,
            f"has schema version {version}, newer than this dms-tasks-bot knows "
            f"({SCHEMA_VERSION}); it was written by a newer release",
            f"Run that release or a newer one, or point {SETTING} at another file.",
        )
    if version == 0 and tables:
        # Our tables would be added beside someone else's data; refuse rather than mix them.
        raise refusal(
            path,
            f"is a SQLite database of something else (tables: {', '.join(sorted(tables))})",
            f"Point {SETTING} at a file of its own.",
        )
    expected = tables_at(version)
    if version > 0 and not tables >= expected:
        raise refusal(
            path,
            f"says schema version {version} but lacks the tables "
            f"{', '.join(sorted(expected - tables))}",
            f"Restore it from a backup or move it aside, or point {SETTING} at another file.",
        )


def _migrate(conn: sqlite3.Connection) -> None:
    # BEGIN IMMEDIATE takes the write lock first, so of two processes starting together one
    # migrates and the other then reads the new version and has nothing to do. It also proves
    # the file is writable when there is nothing to migrate.
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        for step in STEPS[version:]:
            for statement in step:
                conn.execute(statement)
        if version < SCHEMA_VERSION:
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def connect(path: Path) -> sqlite3.Connection:
    """A connection to a store at `path` on the current schema, creating the file if absent.

    Meant to run on the thread that will use the connection."""
    _check_place(path)
    try:
        # isolation_level=None: transactions are begun and ended here, explicitly.
        conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_S, isolation_level=None)
    except sqlite3.Error as exc:
        raise _not_usable(path, exc) from exc
    try:
        # Read and judge before anything writes: a refused file must keep every byte.
        version, tables = _version_and_tables(conn)
        _check_contents(path, version, tables)
        # WAL lets readers in other processes go on while a claim commits.
        conn.execute("PRAGMA journal_mode = WAL")
        _migrate(conn)
    except StoreError:
        conn.close()
        raise
    except sqlite3.Error as exc:
        conn.close()
        raise _not_usable(path, exc) from exc
    return conn
