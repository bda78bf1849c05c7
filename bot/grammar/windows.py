"""Window phrases: `last 90m`, `since 09:00`, `between A and B`, `today`, `yesterday`,
`on 2026-11-27` (or the date alone); any time may carry a zone (`since 09:00 CET`)."""

from __future__ import annotations

import difflib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from decimal import Decimal
from zoneinfo import ZoneInfo

from bot.domain.query import MAX_WINDOW, Anchor, TimeWindow
from bot.grammar.points import (
    _hhmm,
    _Point,
    _read_amount,
    _read_point,
    _repair_amount,
    _utc,
)
from bot.grammar.words import (
    BETWEEN_SEPARATORS,
    MAX_DAYS_BACK,
    MAX_LABEL,
    WINDOW_FORMS,
    _Fix,
    _fragment,
    _Reject,
    _Token,
)
from bot.grammar.zones import _Zone, read_zone

_DAY_WORDS = ("today", "yesterday", "noon", "midnight")


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


def _fit(*labels: str) -> str:
    """The first label short enough for a button (see state.py); the last one always is."""
    return next((label for label in labels if len(label) <= MAX_LABEL), labels[-1][:MAX_LABEL])


def _utc_span(begin: datetime, end: datetime) -> str:
    return f"{begin:%Y-%m-%d %H:%M} – {end:%Y-%m-%d %H:%M} UTC"


def _zoned(text: str, zone: _Zone | None) -> str:
    return f"{text} {zone.text}" if zone else text


class _Reader:
    def __init__(self, tokens: Sequence[_Token], now: datetime, tz: ZoneInfo) -> None:
        self.tokens = tokens
        self.raws = [t.raw for t in tokens]
        self.now = now
        self.tz = tz
        self.local_now = now.astimezone(tz)
        self.today = self.local_now.date()

    def _in(self, zone: _Zone | None) -> tuple[tzinfo, date]:
        """The zone a time is read in, and the date there now."""
        tz = zone.tz if zone else self.tz
        return tz, self.now.astimezone(tz).date()

    def _now_text(self) -> str:
        return f"{self.local_now:%H:%M} {self.local_now.tzname() or self.tz.key}"

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

    def _ahead(self, keyword: str, i: int, j: int, read: str) -> list[_Fix]:
        """`last please 1h`: the keyword with what it needs, found a word or two further on."""
        for k in range(j, min(j + 3, len(self.tokens))):
            found = _read_amount(self.tokens, k) if read == "amount" else None
            stop = found.stop if found else None
            if read == "point" and (spot := _read_point(self.tokens, k)):
                stop = spot[1]
            if stop is not None:
                return [_Fix([keyword, *self.raws[k:stop]], i, stop)]
        return []

    # ---- last ------------------------------------------------------------------------------

    def last(self, i: int) -> _Window:
        amount = _read_amount(self.tokens, i + 1)
        if amount is None:
            stop = min(i + 2, len(self.tokens))
            fixes: list[Sequence[str] | _Fix] = [*self._ahead("last", i, i + 2, "amount")]
            repaired = _repair_amount(self.tokens, i + 1)
            if repaired is not None:
                fixes.insert(0, _Fix(["last", *repaired[0]], i, repaired[1]))
                stop = max(stop, repaired[1])
            raise self._not_a_window(i, stop, [*fixes, ["last", "1h"]])
        total, stop = amount.seconds, amount.stop
        label = _fit(f"last {amount.text}", f"last {round(total)} s")
        if total < 1:
            unit = amount.parts[-1][1]
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
        begin = self.now - timedelta(seconds=round(total))
        return _Window(begin, self.now, label, i, stop, Anchor.SLIDING)

    # ---- since -----------------------------------------------------------------------------

    def since(self, i: int) -> _Window:
        point = _read_point(self.tokens, i + 1)
        if point is None:
            stop = min(i + 2, len(self.tokens))
            fixes = [*self._guess_day("since", i), *self._ahead("since", i, i + 2, "point")]
            raise self._not_a_window(i, stop, [*fixes, ["since", "09:00"], ["since", "yesterday"]])
        spot, stop = point
        tz, today = self._in(spot.zone)
        if not spot.has_day:
            assert spot.at is not None
            begin = self._most_recent(spot.at, tz, today)
        else:
            day = spot.date_in(today)
            assert day is not None
            self._check_day(day, today, i, stop)
            begin = _utc(day, spot.at or time(0), tz)
        label = "today" if spot.text == "today" and not spot.zone else f"since {spot.text}"
        label = _fit(_zoned(label, spot.zone), f"since {begin:%Y-%m-%d %H:%M:%S} UTC")
        self._check(begin, self.now, i, stop)
        return _Window(begin, self.now, label, i, stop, Anchor.GROWING)

    def _guess_day(self, keyword: str, i: int) -> list[_Fix]:
        if i + 1 >= len(self.tokens):
            return []
        guess = difflib.get_close_matches(self.tokens[i + 1].word, _DAY_WORDS, n=1, cutoff=0.75)
        return [_Fix([keyword, guess[0]], i, i + 2)] if guess else []

    def _most_recent(self, at: time, tz: tzinfo, today: date) -> datetime:
        """The latest `at` strictly before now: `since 09:00` at 08:00 means yesterday 09:00.
        At exactly 09:00:00 it is yesterday's too, so the window is never empty."""
        for back in range(3):
            begin = _utc(today - timedelta(days=back), at, tz)
            if begin < self.now:
                return begin
        return begin  # not reached: the day before today always lies in the past

    def _check_day(self, day: date, today: date, start: int, stop: int) -> None:
        # Refuse far-off dates before converting them: near year 1 or 9999 zone arithmetic
        # overflows. How far back a window may reach is _check's business, not this.
        if day > today + timedelta(days=1):
            raise self._in_future(start, stop)
        if day < today - timedelta(days=MAX_DAYS_BACK):
            raise _Reject(
                f'"{_fragment(self.tokens, start, stop)}" is more than {MAX_DAYS_BACK // 365} '
                "years ago.",
                start,
                stop,
                [["last", "31d"]],
            )

    # ---- between ---------------------------------------------------------------------------

    def between(self, i: int) -> _Window:
        day = (self.today - timedelta(days=1)).isoformat()
        fixes: list[Sequence[str] | _Fix] = [
            ["between", "09:00", "and", "11:30"],
            ["between", day, "09:00", "and", day, "11:30"],
            ["last", "1h"],
        ]
        first = _read_point(self.tokens, i + 1)
        if first is None:
            ahead = self._ahead("between", i, i + 2, "point")
            raise self._not_a_window(i, min(i + 2, len(self.tokens)), [*ahead, *fixes])
        a, j = first
        if j >= len(self.tokens) or self.tokens[j].word not in BETWEEN_SEPARATORS:
            raise _Reject(
                f'"{_fragment(self.tokens, i, j + 1)}" needs an end: '
                f'"between {a.text} and …", e.g. "between 09:00 and 11:30".',
                i,
                min(j + 1, len(self.tokens)),
                [*self._missing_and(i, j), *fixes],
            )
        second = _read_point(self.tokens, j + 1)
        if second is None:
            ahead = [
                _Fix(["between", *self.raws[i + 1 : j + 1], *f.words[1:]], i, f.stop)
                for f in self._ahead("between", j, j + 2, "point")
            ]
            raise self._not_a_window(i, min(j + 2, len(self.tokens)), [*ahead, *fixes])
        b, stop = second
        return self._between(a, b, i, j, stop, fixes)

    def _missing_and(self, i: int, j: int) -> list[_Fix]:
        """`between 09:00 11:00`, `between 09:00 adn 11:00`: the end is there, the "and" not."""
        head = ["between", *self.raws[i + 1 : j]]
        for k in range(j, min(j + 3, len(self.tokens))):
            after = k + (self.tokens[k].word in BETWEEN_SEPARATORS)
            spot = _read_point(self.tokens, after)
            if spot is not None:
                return [_Fix([*head, "and", *self.raws[after : spot[1]]], i, spot[1])]
        return []

    def _between(
        self, a: _Point, b: _Point, i: int, j: int, stop: int, fixes: list[Sequence[str] | _Fix]
    ) -> _Window:
        zone_a, zone_b = a.zone or b.zone, b.zone or a.zone
        tz_a, today_a = self._in(zone_a)
        tz_b, today_b = self._in(zone_b)
        for spot, today in ((a, today_a), (b, today_b)):
            if spot.has_day:
                self._check_day(spot.date_in(today) or today, today, i, stop)
        overnight = not (a.has_day or b.has_day) and a.at and b.at and b.at < a.at
        if overnight:
            # `between 23:00 and 01:00`: last night, yesterday 23:00 to today 01:00.
            a_day, b_day = today_a - timedelta(days=1), today_b
        else:
            # A bare clock time borrows the other end's day, else today's.
            a_day = a.date_in(today_a) or b.date_in(today_b) or today_a
            b_day = b.date_in(today_b) or a.date_in(today_a) or today_b
        begin = _utc(a_day, a.at or time(0), tz_a)
        if b.at is None:
            # A day alone as the end includes that whole day.
            end = _utc(b_day + timedelta(days=1), time(0), tz_b)
        else:
            end = _utc(b_day, b.at, tz_b)
        a_words, b_words = self.raws[i + 1 : j], self.raws[j + 1 : stop]
        if end <= begin:
            if a.at and b.at and a_day == b_day and b.at < a.at:
                # `between 2026-11-27 23:00 and 01:00`: the end is on the next day.
                next_day = (a_day + timedelta(days=1)).isoformat()
                zone = [b.zone.text] if b.zone else []
                repair = ["between", *a_words, "and", next_day, _hhmm(b.at), *zone]
            else:
                repair = ["between", *b_words, "and", *a_words]
            problem = "holds no time" if end == begin else "ends before it begins"
            raise _Reject(
                f'"{_fragment(self.tokens, i, stop)}" {problem}.', i, stop, [repair, *fixes]
            )
        if begin >= self.now:
            if not (a.has_day or b.has_day):
                day = (today_a - timedelta(days=1)).isoformat()
                fixes = [["between", day, *a.words, "and", day, *b.words], *fixes]
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
        if zone_a and zone_b and zone_a.text == zone_b.text:
            label = f"between {a.text} and {b.text} {zone_a.text}"
        else:
            label = f"between {_zoned(a.text, a.zone)} and {_zoned(b.text, b.zone)}"
        return _Window(begin, end, _fit(label, _utc_span(begin, end)), i, stop)

    # ---- calendar days ---------------------------------------------------------------------

    def _zone_after(self, i: int) -> tuple[_Zone | None, int]:
        if i < len(self.tokens) and not self.tokens[i].quoted:
            zone = read_zone(self.tokens[i].word)
            if zone is not None:
                return zone, i + 1
        return None, i

    def today_window(self, i: int) -> _Window:
        zone, stop = self._zone_after(i + 1)
        tz, today = self._in(zone)
        begin = _utc(today, time(0), tz)
        if begin >= self.now:
            raise _Reject(
                'It is just midnight: "today" holds no time yet.', i, stop, [["yesterday"]]
            )
        self._check(begin, self.now, i, stop)
        return _Window(begin, self.now, _zoned("today", zone), i, stop, Anchor.GROWING)

    def yesterday_window(self, i: int) -> _Window:
        zone, stop = self._zone_after(i + 1)
        tz, today = self._in(zone)
        begin = _utc(today - timedelta(days=1), time(0), tz)
        end = min(_utc(today, time(0), tz), self.now)
        self._check(begin, end, i, stop)
        return _Window(begin, end, _zoned("yesterday", zone), i, stop)

    def on(self, i: int) -> _Window:
        """`on 2026-11-27`; `on today` and `on yesterday` are `today` and `yesterday`."""
        word = self.tokens[i + 1].word if i + 1 < len(self.tokens) else ""
        if word in ("today", "yesterday"):
            found = self.today_window(i + 1) if word == "today" else self.yesterday_window(i + 1)
            found.start = i
            return found
        return self.day(i + 1, i)

    def day(self, j: int, start: int | None = None) -> _Window:
        """A calendar day in its zone (the user's unless one is given), as a fixed window."""
        i = j if start is None else start
        point = _read_point(self.tokens, j)
        if point is None or point[0].at is not None or point[0].day is None:
            stop = point[1] if point else min(j + 1, len(self.tokens))
            since = [_Fix(["since", *self.raws[j:stop]], i, stop)] if point else []
            raise _Reject(
                f'"{_fragment(self.tokens, i, stop)}" isn\'t a day: "on" takes a date, e.g. '
                '"on 2026-11-27".',
                i,
                stop,
                [*since, ["yesterday"], ["today"]],
            )
        spot, stop = point
        assert spot.day is not None
        tz, today = self._in(spot.zone)
        self._check_day(spot.day, today, i, stop)
        begin = _utc(spot.day, time(0), tz)
        if begin >= self.now:
            raise self._in_future(i, stop)
        end = min(_utc(spot.day + timedelta(days=1), time(0), tz), self.now)
        self._check(begin, end, i, stop)
        return _Window(begin, end, _zoned(f"on {spot.text}", spot.zone), i, stop)

    def _not_a_window(
        self, start: int, stop: int, fixes: Sequence[Sequence[str] | _Fix]
    ) -> _Reject:
        return _Reject(
            f'"{_fragment(self.tokens, start, stop)}" isn\'t a window I understand. '
            f"Windows look like {WINDOW_FORMS}.",
            start,
            stop,
            fixes,
        )
