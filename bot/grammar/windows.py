"""Window phrases: `last 90m`, `since 09:00`, `between A and B`, `today`, `yesterday`."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from bot.domain.query import (
    MAX_WINDOW,
    Anchor,
    TimeWindow,
)
from bot.grammar.words import (
    _AMOUNT,
    _CLOCK,
    _DATE,
    _DATE_TIME,
    _DECIMAL,
    _HALVES,
    _NUMBER,
    MAX_DAYS_BACK,
    UNITS,
    WINDOW_FORMS,
    _fragment,
    _Reject,
    _Token,
)

# ---- time helpers ----------------------------------------------------------------------------


def _utc(day: date, at: time, tz: ZoneInfo) -> datetime:
    # fold=0 is the module's documented choice for ambiguous and skipped local times.
    return datetime.combine(day, at).replace(tzinfo=tz, fold=0).astimezone(UTC)


def _hhmm(at: time) -> str:
    return f"{at.hour:02d}:{at.minute:02d}"


@dataclass(frozen=True)
class _Point:
    """One end of a window as typed: a day, a clock time, or both."""

    day: date | None
    at: time | None
    text: str


def _read_clock(tokens: Sequence[_Token], i: int) -> tuple[time, int] | None:
    """`09:00`, `9am`, `9:30pm`, `9 am`, `9:30 pm`, `noon`, `midnight` at tokens[i]; (time, next
    index). Without am/pm a time needs its minutes: a bare `9` is not a clock time."""
    if i >= len(tokens):
        return None
    word = tokens[i].word
    if word in ("noon", "midnight"):
        return time(12 if word == "noon" else 0, 0), i + 1
    m = _CLOCK.fullmatch(word)
    if m is None:
        return None
    hour, minute, half, stop = int(m[1]), int(m[2] or 0), m[3], i + 1
    if half is None and stop < len(tokens) and tokens[stop].word in _HALVES:
        half, stop = tokens[stop].word, stop + 1
    if minute >= 60:
        return None
    if half is None:
        return (time(hour, minute), stop) if m[2] is not None and hour < 24 else None
    if not 1 <= hour <= 12:
        return None
    return time(hour % 12 + (12 if half.startswith("p") else 0), minute), stop


def _read_day(word: str, today: date) -> tuple[date, str] | None:
    if word == "today":
        return today, "today"
    if word == "yesterday":
        return today - timedelta(days=1), "yesterday"
    m = _DATE.fullmatch(word)
    if m is None:
        return None
    try:
        day = date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        return None
    return day, day.isoformat()


def _read_point(tokens: Sequence[_Token], i: int, today: date) -> tuple[_Point, int] | None:
    if i >= len(tokens):
        return None
    word = tokens[i].word
    m = _DATE_TIME.fullmatch(word)
    if m:
        day = _read_day(m[1], today)
        clock = _read_clock([_Token(m[2], m[2])], 0)
        if day is None or clock is None:
            return None
        return _Point(day[0], clock[0], f"{day[1]} {_hhmm(clock[0])}"), i + 1
    day = _read_day(word, today)
    if day is not None:
        clock = _read_clock(tokens, i + 1)
        if clock is not None:
            return _Point(day[0], clock[0], f"{day[1]} {_hhmm(clock[0])}"), clock[1]
        return _Point(day[0], None, day[1]), i + 1
    clock = _read_clock(tokens, i)
    if clock is not None:
        return _Point(None, clock[0], _hhmm(clock[0])), clock[1]
    return None


def _read_amount(tokens: Sequence[_Token], i: int) -> tuple[Decimal, str, int] | None:
    """`1h`, `1 h`, `1.5h`, `90 minutes`, `hour` at tokens[i]: (count, unit word, next index).
    Decimal, not float: "last 0.1h" must be exactly 6 minutes, and 400 typed digits must not
    overflow."""
    if i >= len(tokens):
        return None
    word = tokens[i].word
    if word in UNITS:
        return Decimal(1), word, i + 1
    m = _AMOUNT.fullmatch(word)
    if m and m[2] in UNITS:
        return Decimal(m[1]), m[2], i + 1
    if _DECIMAL.fullmatch(word) and i + 1 < len(tokens) and tokens[i + 1].word in UNITS:
        return Decimal(word), tokens[i + 1].word, i + 2
    return None


# ---- the parser ------------------------------------------------------------------------------


@dataclass
class _Window:
    begin: datetime
    end: datetime
    label: str
    start: int  # token span, for errors about a second window
    stop: int
    anchor: Anchor = Anchor.FIXED

    @property
    def window(self) -> TimeWindow:
        return TimeWindow(self.begin, self.end, self.label, self.anchor)


class _Reader:
    def __init__(self, tokens: Sequence[_Token], now: datetime, tz: ZoneInfo) -> None:
        self.tokens = tokens
        self.now = now
        self.tz = tz
        self.local_now = now.astimezone(tz)
        self.today = self.local_now.date()

    def _now_text(self) -> str:
        return f"{self.local_now:%H:%M} {self.local_now.tzname() or self.tz.key}"

    def _yesterday_fixes(self, *parts: str) -> list[list[str]]:
        day = (self.today - timedelta(days=1)).isoformat()
        return [["between", day, "09:00", "and", day, "11:30"], list(parts)]

    def _in_future(self, start: int, stop: int) -> _Reject:
        return _Reject(
            f'"{_fragment(self.tokens, start, stop)}" starts in the future '
            f"(it is {self._now_text()} now).",
            start,
            stop,
            [["today"], ["last", "1h"]],
        )

    def _too_long(self, start: int, stop: int, first: date, *, fix_between: bool) -> _Reject:
        """The message suggests a `between` starting on `first`; `fix_between` also makes it the
        first repair tried for the example."""
        last = first + timedelta(days=MAX_WINDOW.days - 2)
        fixes = [["last", "31d"]]
        if fix_between:
            fixes.insert(0, ["between", first.isoformat(), "and", last.isoformat()])
        return _Reject(
            f'"{_fragment(self.tokens, start, stop)}" is longer than {MAX_WINDOW.days} days, the '
            f'most one answer covers. For older tasks use "between", e.g. "between {first} and '
            f'{last}".',
            start,
            stop,
            fixes,
        )

    def _check(self, begin: datetime, end: datetime, start: int, stop: int) -> None:
        """Every window keeps begin < end <= now and lasts at most MAX_WINDOW."""
        if begin >= self.now:
            raise self._in_future(start, stop)
        if end <= begin:
            problem = "holds no time" if end == begin else "ends before it begins"
            raise _Reject(
                f'"{_fragment(self.tokens, start, stop)}" {problem}.', start, stop, [["last", "1h"]]
            )
        if end - begin > MAX_WINDOW:
            first = begin.astimezone(self.tz).date()
            raise self._too_long(start, stop, first, fix_between=True)

    def last(self, i: int) -> _Window:
        amount = _read_amount(self.tokens, i + 1)
        if amount is None:
            stop = min(i + 2, len(self.tokens))
            fixes: list[list[str]] = [["last", "1h"]]
            if i + 1 < len(self.tokens):
                m = _NUMBER.match(self.tokens[i + 1].word)
                if m and len(m[0]) <= 4:
                    fixes.insert(0, ["last", f"{int(m[0])}m"])
            raise self._not_a_window(i, stop, fixes)
        count, unit, stop = amount
        seconds, unit_label = UNITS[unit]
        total = count * seconds
        label = f"last {format(count.normalize(), 'f')} {unit_label}"
        if total < 1:
            raise _Reject(
                f'"{_fragment(self.tokens, i, stop)}" is an empty window.',
                i,
                stop,
                [["last", f"1{unit}"], ["last", "1h"]],
            )
        if total > Decimal(MAX_WINDOW.total_seconds()):
            # Checked before any date arithmetic: "last 99999999w" would overflow it.
            back = min(math.ceil(total / 86400), 366)
            first = self.today - timedelta(days=back)
            raise self._too_long(i, stop, first, fix_between=False)
        return _Window(
            self.now - timedelta(seconds=round(total)), self.now, label, i, stop, Anchor.SLIDING
        )

    def since(self, i: int) -> _Window:
        point = _read_point(self.tokens, i + 1, self.today)
        if point is None:
            stop = min(i + 2, len(self.tokens))
            raise self._not_a_window(i, stop, [["since", "09:00"], ["since", "yesterday"]])
        spot, stop = point
        label = f"since {spot.text}"
        if spot.day is None:
            assert spot.at is not None
            begin = self._most_recent(spot.at)
        else:
            self._check_day(spot.day, i, stop)
            begin = _utc(spot.day, spot.at or time(0), self.tz)
            if spot.text == "today":
                label = "today"
        self._check(begin, self.now, i, stop)
        return _Window(begin, self.now, label, i, stop, Anchor.GROWING)

    def _most_recent(self, at: time) -> datetime:
        """The latest `at` strictly before now: `since 09:00` at 08:00 means yesterday 09:00.
        At exactly 09:00:00 it is yesterday's too, so the window is never empty."""
        for back in range(3):
            begin = _utc(self.today - timedelta(days=back), at, self.tz)
            if begin < self.now:
                return begin
        return begin  # not reached: the day before today always lies in the past

    def _check_day(self, day: date, start: int, stop: int) -> None:
        # Refuse far-off dates before converting them: near year 1 or 9999 zone arithmetic
        # overflows. How far back a window may reach is _check's business, not this.
        if day > self.today + timedelta(days=1):
            raise self._in_future(start, stop)
        if day < self.today - timedelta(days=MAX_DAYS_BACK):
            raise _Reject(
                f'"{_fragment(self.tokens, start, stop)}" is more than {MAX_DAYS_BACK // 365} '
                "years ago.",
                start,
                stop,
                [["last", "31d"]],
            )

    def between(self, i: int) -> _Window:
        first = _read_point(self.tokens, i + 1, self.today)
        fixes = [
            ["between", "09:00", "and", "11:30"],
            *self._yesterday_fixes("last", "1h"),
        ]
        if first is None:
            raise self._not_a_window(i, min(i + 2, len(self.tokens)), fixes)
        a, j = first
        if j >= len(self.tokens) or self.tokens[j].word not in ("and", "to", "-", "until"):
            raise _Reject(
                f'"{_fragment(self.tokens, i, j + 1)}" needs an end: '
                f'"between {a.text} and …", e.g. "between 09:00 and 11:30".',
                i,
                min(j + 1, len(self.tokens)),
                fixes,
            )
        second = _read_point(self.tokens, j + 1, self.today)
        if second is None:
            raise self._not_a_window(i, min(j + 2, len(self.tokens)), fixes)
        b, stop = second
        label = f"between {a.text} and {b.text}"
        for spot in (a, b):
            if spot.day is not None:
                self._check_day(spot.day, i, stop)
        # A bare clock time borrows the other end's day, else today's.
        a_day = a.day or b.day or self.today
        b_day = b.day or a.day or self.today
        begin = _utc(a_day, a.at or time(0), self.tz)
        if b.at is None:
            # A day alone as the end includes that whole day.
            end = _utc(b_day + timedelta(days=1), time(0), self.tz)
        else:
            end = _utc(b_day, b.at, self.tz)
        if end <= begin:
            swapped = ["between", *b.text.split(), "and", *a.text.split()]
            problem = "holds no time" if end == begin else "ends before it begins"
            raise _Reject(
                f'"{_fragment(self.tokens, i, stop)}" {problem}.',
                i,
                stop,
                [swapped, *fixes],
            )
        if begin >= self.now and a.day is None and b.day is None:
            day = (self.today - timedelta(days=1)).isoformat()
            fixes = [["between", day, a.text, "and", day, b.text], *fixes]
        if begin >= self.now:
            raise _Reject(
                f'"{_fragment(self.tokens, i, stop)}" lies in the future '
                f"(it is {self._now_text()} now).",
                i,
                stop,
                fixes,
            )
        # Partly in the future: show what has happened so far.
        end = min(end, self.now)
        self._check(begin, end, i, stop)
        return _Window(begin, end, label, i, stop)

    def today_window(self, i: int) -> _Window:
        begin = _utc(self.today, time(0), self.tz)
        if begin >= self.now:
            raise _Reject(
                'It is just midnight: "today" holds no time yet.', i, i + 1, [["yesterday"]]
            )
        self._check(begin, self.now, i, i + 1)
        return _Window(begin, self.now, "today", i, i + 1, Anchor.GROWING)

    def yesterday_window(self, i: int) -> _Window:
        begin = _utc(self.today - timedelta(days=1), time(0), self.tz)
        end = _utc(self.today, time(0), self.tz)
        end = min(end, self.now)
        self._check(begin, end, i, i + 1)
        return _Window(begin, end, "yesterday", i, i + 1)

    def _not_a_window(self, start: int, stop: int, fixes: Sequence[Sequence[str]]) -> _Reject:
        return _Reject(
            f'"{_fragment(self.tokens, start, stop)}" isn\'t a window I understand. '
            f"Windows look like {WINDOW_FORMS}.",
            start,
            stop,
            fixes,
        )
