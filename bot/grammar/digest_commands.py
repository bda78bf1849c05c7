"""`/dms-tasks digest …`: managing a channel's scheduled digests.

    digest add <target>[,<target>…] [at 09:00] [tz Europe/Berlin] [daily|weekdays] [quiet]
    digest list
    digest remove <id>
    digest preview <target>[,<target>…]

Pure, like the rest of the grammar; an error names the bad part and gives a corrected command
(without the command's name, which the service adds).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.domain.digests import ALL_TARGETS, Days
from bot.grammar.words import QueryError

DIGEST_WORD = "digest"
_CLOCK = re.compile(r"([01]?[0-9]|2[0-3])(?::([0-5][0-9]))?", re.ASCII)
_TARGET = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}", re.ASCII)
_ID = re.compile(r"[a-z0-9]{4,12}", re.ASCII)
USAGE = "digest add prod-orders at 09:00"


@dataclass(frozen=True)
class DigestAdd:
    targets: tuple[str, ...]
    at: time | None = None  # None: 09:00
    tz: str | None = None  # None: the adding user's Slack zone
    days: Days = Days.DAILY
    quiet: bool = False


@dataclass(frozen=True)
class DigestList:
    pass


@dataclass(frozen=True)
class DigestRemove:
    id: str


@dataclass(frozen=True)
class DigestPreview:
    targets: tuple[str, ...]


DigestCommand = DigestAdd | DigestList | DigestRemove | DigestPreview


def is_digest_command(text: str) -> bool:
    words = text.split()
    return bool(words) and words[0].lower() == DIGEST_WORD


def targets_of(word: str, example: str) -> tuple[str, ...]:
    parts = [p.strip() for p in word.split(",") if p.strip()]
    if not parts:
        raise QueryError("Name the instances to cover, e.g. prod-orders or all.", example)
    for part in parts:
        if part.lower() != ALL_TARGETS and not _TARGET.fullmatch(part):
            raise QueryError(f'"{part[:40]}" is not an instance name, alias or id.', example)
    if any(p.lower() == ALL_TARGETS for p in parts):
        return (ALL_TARGETS,)
    return tuple(dict.fromkeys(parts))


def _clock(word: str, rest: str) -> time:
    match = _CLOCK.fullmatch(word)
    if not match:
        raise QueryError(
            f'"at {word[:20]}" is not a time of day: use 24-hour HH:MM, from 00:00 to 23:59.',
            f"digest add {rest} at 09:00".strip(),
        )
    return time(int(match[1]), int(match[2] or 0))


def _zone(word: str, rest: str) -> str:
    try:
        ZoneInfo(word)
    except (ZoneInfoNotFoundError, ValueError):
        raise QueryError(
            f'"{word[:40]}" is not a time zone I know: use an IANA name such as Europe/Berlin, '
            "America/New_York or UTC.",
            f"digest add {rest} tz Europe/Berlin".strip(),
        ) from None
    return word


def parse_digest_command(text: str) -> DigestCommand:
    """The words after `digest`. Raises QueryError with a corrected command."""
    words = text.split()
    if not words or words[0].lower() != DIGEST_WORD:
        raise QueryError("That is not a digest command.", USAGE)
    if len(words) == 1:
        raise QueryError("Say what to do with digests: add, list, remove or preview.", USAGE)
    verb, args = words[1].lower(), words[2:]
    if verb == "list":
        if args:
            raise QueryError('"digest list" takes nothing after it.', "digest list")
        return DigestList()
    if verb == "remove":
        if len(args) != 1 or not _ID.fullmatch(args[0].lower()):
            raise QueryError(
                "Give the id of the digest to remove, as digest list shows it.", "digest list"
            )
        return DigestRemove(args[0].lower())
    if verb == "preview":
        if len(args) != 1:
            raise QueryError("Preview one set of instances.", "digest preview prod-orders")
        return DigestPreview(targets_of(args[0], "digest preview prod-orders"))
    if verb != "add":
        raise QueryError(
            f'"{verb[:20]}" is not something I do with digests: add, list, remove or preview.',
            USAGE,
        )
    if not args:
        raise QueryError("Name the instances the digest covers.", USAGE)
    targets = targets_of(args[0], USAGE)
    rest = ",".join(targets)
    at: time | None = None
    tz: str | None = None
    days = Days.DAILY
    quiet = False
    i = 1
    while i < len(args):
        word = args[i].lower()
        if word in ("at", "tz") and i + 1 < len(args):
            if word == "at":
                at = _clock(args[i + 1], rest)
            else:
                tz = _zone(args[i + 1], rest)
            i += 2
            continue
        if word in (Days.DAILY, Days.WEEKDAYS):
            days = Days(word)
        elif word == "quiet":
            quiet = True
        elif word in ("at", "tz"):
            example = f"digest add {rest} at 09:00" if word == "at" else f"digest add {rest} tz UTC"
            raise QueryError(f'"{word}" needs a value after it.', example)
        else:
            raise QueryError(
                f'I don\'t understand "{args[i][:30]}" in a digest: after the instances come '
                "at HH:MM, tz ZONE, daily or weekdays, and quiet.",
                f"digest add {rest} at 09:00",
            )
        i += 1
    return DigestAdd(targets=targets, at=at, tz=tz, days=days, quiet=quiet)
