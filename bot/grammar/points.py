"""The pieces windows are made of: clock times, days, points in time (with their zone) and
amounts of time ("1h30m")."""

from __future__ import annotations

import difflib
import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from decimal import Decimal

from bot.grammar.words import (
    _CLOCK,
    _DATE,
    _DATE_TIME,
    _DECIMAL,
    _HALVES,
    UNITS,
    _Token,
)
from bot.grammar.zones import _Zone, offset_zone, read_zone

_PIECE = re.compile(r"([0-9]+(?:\.[0-9]+)?)([a-z]+)", re.ASCII)
_ATTACHED_OFFSET = re.compile(r"(.+?)([+-][0-9]{2}(?::?[0-9]{2})?)", re.ASCII)


def _utc(day: date, at: time, tz: tzinfo) -> datetime:
    # fold=0 is the module's documented choice for ambiguous and skipped local times.
    return datetime.combine(day, at).replace(tzinfo=tz, fold=0).astimezone(UTC)


def _hhmm(at: time) -> str:
    text = f"{at.hour:02d}:{at.minute:02d}"
    return f"{text}:{at.second:02d}" if at.second else text


@dataclass(frozen=True)
class _Point:
    """One end of a window as typed: a day, a clock time, or both, maybe in a zone."""

    day: date | None  # a date typed as such
    back: int | None  # or a day word: 0 today, 1 yesterday, in the point's zone
    at: time | None
    text: str  # for the label, without the zone
    zone: _Zone | None = None

    @property
    def has_day(self) -> bool:
        return self.day is not None or self.back is not None

    def date_in(self, today: date) -> date | None:
        if self.day is not None:
            return self.day
        return None if self.back is None else today - timedelta(days=self.back)

    @property
    def words(self) -> list[str]:
        """The point as words the grammar reads back, zone included."""
        return [*self.text.split(), *([self.zone.text] if self.zone else [])]


def _clock_word(word: str) -> time | None:
    """`09:00`, `09:00:30`, `9am`, `9:30pm` in one word; a bare `9` is not a clock time."""
    m = _CLOCK.fullmatch(word)
    if m is None:
        return None
    return _clock_of(m, m[4])


def _clock_of(m: re.Match[str], half: str | None) -> time | None:
    hour, minute, second = int(m[1]), int(m[2] or 0), int(m[3] or 0)
    if minute >= 60 or second >= 60:
        return None
    if half is None:
        return time(hour, minute, second) if m[2] is not None and hour < 24 else None
    if not 1 <= hour <= 12:
        return None
    return time(hour % 12 + (12 if half.startswith("p") else 0), minute, second)


def _read_clock(
    tokens: Sequence[_Token], i: int, *, offsets: bool = False
) -> tuple[time, int, _Zone | None] | None:
    """`09:00`, `9am`, `9:30pm`, `9 am`, `9:30 pm`, `noon`, `midnight`, `09:00z` at tokens[i];
    (time, next index, attached zone). After a date an ISO offset may be attached too
    (`09:00+01:00`); not after a bare time, where `09:00-11:00` is a range."""
    if i >= len(tokens):
        return None
    word = tokens[i].word
    if word in ("noon", "midnight"):
        return time(12 if word == "noon" else 0, 0), i + 1, None
    zone = None
    if len(word) > 1 and word.endswith("z"):
        word, zone = word[:-1], offset_zone("z")
    elif offsets and (m := _ATTACHED_OFFSET.fullmatch(word)) and ":" in m[1]:
        zone = offset_zone(m[2])
        if zone is None:
            return None
        word = m[1]
    m = _CLOCK.fullmatch(word)
    if m is None:
        return None
    half, stop = m[4], i + 1
    if half is None and zone is None and stop < len(tokens) and tokens[stop].word in _HALVES:
        half, stop = tokens[stop].word, stop + 1
    if zone is not None and m[2] is None:
        return None
    at = _clock_of(m, half)
    return None if at is None else (at, stop, zone)


def _read_date(word: str) -> date | None:
    m = _DATE.fullmatch(word)
    if m is None:
        return None
    try:
        return date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        return None


def _read_day(word: str) -> _Point | None:
    if word in ("today", "yesterday"):
        return _Point(None, 0 if word == "today" else 1, None, word)
    day = _read_date(word)
    return None if day is None else _Point(day, None, None, day.isoformat())


def _read_point(tokens: Sequence[_Token], i: int) -> tuple[_Point, int] | None:
    """A day, a time, a day and a time, or an ISO time, then maybe a zone word."""
    if i >= len(tokens):
        return None
    word = tokens[i].word
    m = _DATE_TIME.fullmatch(word)
    if m:
        day, at = _read_date(m[1]), _clock_word(m[2])
        zone = offset_zone(m[3]) if m[3] else None
        if day is None or at is None or (m[3] and zone is None):
            return None
        point, stop = _Point(day, None, at, f"{day.isoformat()} {_hhmm(at)}", zone), i + 1
    elif (spot := _read_day(word)) is not None:
        point, stop = spot, i + 1
        clock = _read_clock(tokens, i + 1, offsets=True)
        if clock is not None:
            at, stop, zone = clock
            point = replace(spot, at=at, text=f"{spot.text} {_hhmm(at)}", zone=zone)
    else:
        clock = _read_clock(tokens, i)
        if clock is None:
            return None
        at, stop, zone = clock
        point = _Point(None, None, at, _hhmm(at), zone)
    if point.zone is None and stop < len(tokens) and not tokens[stop].quoted:
        zone = read_zone(tokens[stop].word)
        if zone is not None:
            point, stop = replace(point, zone=zone), stop + 1
    return point, stop


# ---- amounts of time -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Amount:
    """`1h`, `90 minutes`, `1h30m`, `2h 30m`, `1 day 12 hours`: units largest first.
    Decimal, not float: "last 0.1h" must be exactly 6 minutes, and 400 typed digits must not
    overflow."""

    parts: tuple[tuple[Decimal, str], ...]  # (count, unit word)
    stop: int

    @property
    def seconds(self) -> Decimal:
        return sum((count * UNITS[unit][0] for count, unit in self.parts), Decimal(0))

    @property
    def text(self) -> str:
        return " ".join(f"{format(c.normalize(), 'f')} {UNITS[u][1]}" for c, u in self.parts)


def _pieces(word: str) -> list[tuple[Decimal, str]] | None:
    """`1h30m` -> [(1, "h"), (30, "m")]; None unless the pieces make up the whole word."""
    out: list[tuple[Decimal, str]] = []
    pos = 0
    for m in _PIECE.finditer(word):
        if m.start() != pos or m[2] not in UNITS:
            return None
        out.append((Decimal(m[1]), m[2]))
        pos = m.end()
    return out if out and pos == len(word) else None


def _read_piece(
    tokens: Sequence[_Token], i: int, *, bare_unit: bool
) -> tuple[list[tuple[Decimal, str]], int] | None:
    if i >= len(tokens):
        return None
    word = tokens[i].word
    if bare_unit and word in UNITS:
        return [(Decimal(1), word)], i + 1
    pieces = _pieces(word)
    if pieces:
        return pieces, i + 1
    if _DECIMAL.fullmatch(word) and i + 1 < len(tokens) and tokens[i + 1].word in UNITS:
        return [(Decimal(word), tokens[i + 1].word)], i + 2
    return None


def _largest_first(parts: Sequence[tuple[Decimal, str]]) -> bool:
    sizes = [UNITS[unit][0] for _, unit in parts]
    return all(a > b for a, b in itertools.pairwise(sizes))


def _read_amount(tokens: Sequence[_Token], i: int) -> _Amount | None:
    """The amount at tokens[i], or None. `hour` alone is one hour."""
    first = _read_piece(tokens, i, bare_unit=True)
    if first is None or not _largest_first(first[0]):
        return None
    parts, stop = first
    while stop < len(tokens):
        j = stop + (tokens[stop].word == "and")
        more = _read_piece(tokens, j, bare_unit=False)
        if more is None or not _largest_first([*parts, *more[0]]):
            break
        parts, stop = [*parts, *more[0]], more[1]
    return _Amount(tuple(parts), stop)


_LOOSE_PIECE = re.compile(r"([0-9]+(?:\.[0-9]+)?)([a-z]*)", re.ASCII)


def _fix_unit(unit: str) -> str:
    if unit in UNITS:
        return unit
    guess = difflib.get_close_matches(unit, list(UNITS), n=1, cutoff=0.6) if unit else []
    return guess[0] if guess else "m"


def _repair_amount(tokens: Sequence[_Token], i: int) -> tuple[list[str], int] | None:
    """An amount with a wrong or missing unit, mended: `5x` -> `5m`, `2 hourz` -> `2 hours`,
    `1h30` -> `1h30m`. (words, index after the tokens they replace), or None."""
    if i >= len(tokens) or tokens[i].quoted:
        return None
    word = tokens[i].word
    if _DECIMAL.fullmatch(word) and len(word) <= 6:
        after = tokens[i + 1].word if i + 1 < len(tokens) else ""
        if after.isalpha() and (unit := _fix_unit(after)) != "m":
            return [tokens[i].raw, unit], i + 2
        return [f"{word}m"], i + 1
    pieces = [(m[1], m[2]) for m in _LOOSE_PIECE.finditer(word)]
    if not pieces or "".join(a + b for a, b in pieces) != word or len(word) > 12:
        return None
    mended = [(count, _fix_unit(unit)) for count, unit in pieces]
    if not _largest_first([(Decimal(c), u) for c, u in mended]):
        return None
    return ["".join(c + u for c, u in mended)], i + 1
