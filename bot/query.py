"""The `/dms-tasks` grammar: command text -> TaskQuery. Pure: no I/O, the clock is passed in.

    /dms-tasks [target] [window] [status=a,b] [name=GLOB] [user=NAME] [limit=N] [page=N] [help]

Words are case-insensitive and may come in any order after the target. Values keep the text as
typed (for display) and match case-insensitively. Quotes group words: `user="Alice Smith"`.

Time decisions:
- Every window is an absolute [begin, end) in UTC, computed once, when the command is read; a
  page turn carries the same instants (see `encode_state`), so page 2 shows what page 1 showed.
- Local times are read in the user's Slack zone through zoneinfo, with fold=0: an ambiguous time
  (02:30 on the night clocks go back) is its first occurrence, and a time the clocks skip (02:30
  on the night they go forward) is read with the offset in force before the jump, so 02:30 on
  2026-03-29 in Berlin is 01:30 UTC, the instant the clocks show as 03:30 CEST.
- Durations ("last 1d") are elapsed time, not calendar time: a day is 24 h even across a DST
  change. "today" and "yesterday" are calendar days, so they can last 23 or 25 h.
- `since 09:00` is the latest 09:00 before now: at 08:00 it means yesterday's. `since yesterday`
  starts at yesterday's midnight. Every window ends now, except `yesterday` and `between`.
- `between A and B`: a bare clock time takes the other end's day, else today's; a day alone as
  the end includes that whole day; an end still in the future is cut to now.
- A window lasts at most 31 days: each answer fetches its whole window (counts cover all of it).
- `now` is cut to whole seconds: the API takes whole seconds, and a button value carries epoch
  seconds, so a window survives the round trip exactly.
"""

from __future__ import annotations

import difflib
import fnmatch
import json
import math
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from bot.blockkit import MAX_BUTTON_VALUE, slack_len, unescape
from bot.dms.models import MAX_PAGE_SIZE, TaskStatus

COMMAND = "/dms-tasks"
DEFAULT_LIMIT = 10
MAX_LIMIT = MAX_PAGE_SIZE
# Pages beyond the last are clamped by the service; this only keeps the number a sane size.
MAX_PAGE = 100_000
DEFAULT_WINDOW = timedelta(hours=24)
DEFAULT_LABEL = "last 24 h"
# Every window is fetched whole (counts cover the whole window), so its length is bounded.
MAX_WINDOW = timedelta(days=31)
MAX_TEXT = 1000
# Dates further back than this are refused outright: it keeps zone arithmetic far from the
# limits of datetime, and no one asks about tasks that old.
MAX_DAYS_BACK = 10 * 365
# Target, glob and user values. With the label and task id bounds below, this keeps any button
# value under Slack's 2000-character limit (see encode_state).
MAX_VALUE = 100
MAX_LABEL = 60
MAX_TASK_ID = 128
STATE_VERSION = 1

WINDOW_FORMS = '"last 90m", "since 09:00", "between 09:00 and 11:30" or "today"'


@dataclass(frozen=True)
class TimeWindow:
    """An absolute window [begin, end) in UTC, plus how the user phrased it."""

    begin: datetime  # aware, UTC
    end: datetime  # aware, UTC
    label: str  # e.g. "last 1 h", "today", "since 09:00"


@dataclass(frozen=True)
class TaskFilters:
    statuses: frozenset[str] = frozenset()  # upper-case API statuses, e.g. {"FAILED"}
    name_glob: str | None = None  # fnmatch-style, case-insensitive, on the API task name
    user: str | None = None  # case-insensitive exact match on user_name

    @property
    def active(self) -> bool:
        return bool(self.statuses or self.name_glob or self.user)

    def matches(self, name: str, user: str, status: str) -> bool:
        """Whether a task passes every filter. A name pattern without `*`, `?` or `[` matches
        as a substring (`name=offset` finds kafkaResetConsumerOffset); with one it is an
        fnmatch glob over the whole name. Both ignore case."""
        if self.statuses and status.upper() not in self.statuses:
            return False
        if self.user is not None and user.casefold() != self.user.casefold():
            return False
        if self.name_glob is not None:
            pattern, subject = self.name_glob.casefold(), name.casefold()
            if any(c in pattern for c in "*?["):
                return fnmatch.fnmatchcase(subject, pattern)
            return pattern in subject
        return True


@dataclass(frozen=True)
class TaskQuery:
    target: str | None  # instance id, alias or name as typed; None -> channel default
    window: TimeWindow
    filters: TaskFilters = field(default_factory=TaskFilters)
    limit: int = DEFAULT_LIMIT
    page: int = 1


@dataclass(frozen=True)
class HelpRequest:
    """`/dms-tasks help`, or a bare `/dms-tasks` where the channel has no default instance."""


class QueryError(ValueError):
    """Text the grammar cannot read. `message` says what was wrong; `example` is the nearest
    valid form. Both are plain text (the renderer escapes them)."""

    def __init__(self, message: str, example: str) -> None:
        super().__init__(message)
        self.message = message
        self.example = example


# ---- vocabulary ------------------------------------------------------------------------------

WINDOW_WORDS = ("last", "since", "between", "today", "yesterday")
HELP_WORDS = frozenset({"help", "?", "-h", "--help"})
_KEY_EXAMPLES = {
    "status": "status=failed",
    "name": "name=*Topic*",
    "user": "user=alice",
    "limit": "limit=20",
    "page": "page=2",
}
KEYS = tuple(_KEY_EXAMPLES)
VOCABULARY = (*WINDOW_WORDS, "help", *(f"{k}=" for k in KEYS))

STATUS_ALIASES: dict[str, str] = {
    "failed": TaskStatus.FAILED,
    "failure": TaskStatus.FAILED,
    "fail": TaskStatus.FAILED,
    "executing": TaskStatus.EXECUTING,
    "running": TaskStatus.EXECUTING,
    "in-progress": TaskStatus.EXECUTING,
    "in_progress": TaskStatus.EXECUTING,
    "success": TaskStatus.SUCCESS,
    "succeeded": TaskStatus.SUCCESS,
    "ok": TaskStatus.SUCCESS,
    "done": TaskStatus.SUCCESS,
    "created": TaskStatus.CREATED,
    "pending": TaskStatus.CREATED,
    "queued": TaskStatus.CREATED,
    "cancelled": TaskStatus.CANCELLED,
    "canceled": TaskStatus.CANCELLED,
    "deleted": TaskStatus.DELETED,
}
KNOWN_STATUSES = frozenset(s.value for s in TaskStatus)

# unit word -> (seconds, label unit)
UNITS: dict[str, tuple[int, str]] = {}
for _words, _seconds, _label in (
    (("s", "sec", "secs", "second", "seconds"), 1, "s"),
    (("m", "min", "mins", "minute", "minutes"), 60, "min"),
    (("h", "hr", "hrs", "hour", "hours"), 3600, "h"),
    (("d", "day", "days"), 86400, "d"),
    (("w", "wk", "wks", "week", "weeks"), 7 * 86400, "w"),
):
    for _word in _words:
        UNITS[_word] = (_seconds, _label)

_AMOUNT = re.compile(r"([0-9]+(?:\.[0-9]+)?)([a-z]+)", re.ASCII)
_DECIMAL = re.compile(r"[0-9]+(?:\.[0-9]+)?", re.ASCII)
_NUMBER = re.compile(r"[0-9]+", re.ASCII)
_CLOCK = re.compile(r"([0-9]{1,2})(?::([0-9]{2}))?(am|pm|a\.m\.|p\.m\.)?", re.ASCII)
_HALVES = ("am", "pm", "a.m.", "p.m.")
_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})", re.ASCII)
_DATE_TIME = re.compile(r"([0-9]{4}-[0-9]{2}-[0-9]{2})t([0-9]{1,2}:[0-9]{2})", re.ASCII)

_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"))

# Slack clients on phones turn straight quotes into curly ones.
_QUOTE_PAIRS = {'"': '"', "'": "'", "“": "”", "‘": "’", "„": "“"}


# ---- tokens ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Token:
    text: str  # quotes removed
    raw: str  # as typed, quotes included
    quoted: bool = False  # the whole word was quoted: never a keyword

    @property
    def word(self) -> str:
        return "" if self.quoted else self.text.lower()


def _tokenize(text: str) -> list[_Token]:
    """Split on whitespace. A quote opens a group only at the start of a word or right after its
    first `=`, so an apostrophe inside a name (O'Brien) stays a letter."""
    tokens: list[_Token] = []
    i, n = 0, len(text)
    while i < n:
        if text[i].isspace():
            i += 1
            continue
        start = i
        parts: list[str] = []
        quoted = False
        while i < n and not text[i].isspace():
            ch = text[i]
            after_key = i > start and text[i - 1] == "=" and "=" not in text[start : i - 1]
            if ch in _QUOTE_PAIRS and (i == start or after_key):
                end = text.find(_QUOTE_PAIRS[ch], i + 1)
                if end < 0:
                    raise _TokenError(f'The quote in "{_snippet(text[start:])}" is never closed.')
                parts.append(text[i + 1 : end])
                quoted = quoted or i == start
                i = end + 1
                continue
            parts.append(ch)
            i += 1
        tokens.append(_Token("".join(parts), text[start:i], quoted))
    return tokens


class _TokenError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _snippet(text: str, limit: int = 40) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _has_bad_chars(text: str, *, allow_control: bool = False) -> bool:
    for ch in text:
        category = unicodedata.category(ch)
        if category == "Cs" or (category == "Cc" and not allow_control):
            return True
    return False


# ---- errors carry a repair, so that the message can show a valid command -------------------


class _Reject(Exception):
    """A bad fragment: tokens [start, stop) and the replacements that would fix it, best first."""

    def __init__(
        self, message: str, start: int, stop: int, fixes: Sequence[Sequence[str]] = ((),)
    ) -> None:
        super().__init__(message)
        self.message = message
        self.start = start
        self.stop = stop
        self.fixes = fixes


def _fragment(tokens: Sequence[_Token], start: int, stop: int) -> str:
    return _snippet(" ".join(t.raw for t in tokens[start:stop]))


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
        return _Window(self.now - timedelta(seconds=round(total)), self.now, label, i, stop)

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
        return _Window(begin, self.now, label, i, stop)

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
        return _Window(begin, self.now, "today", i, i + 1)

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


def _first_is_target(token: _Token) -> bool:
    if token.quoted:
        return True
    word = token.word
    if word in WINDOW_WORDS or word in HELP_WORDS:
        return False
    key, eq, _ = word.partition("=")
    return not (eq and key in KEYS)


def _parse(tokens: Sequence[_Token], now: datetime, tz: ZoneInfo) -> TaskQuery | HelpRequest:
    if any(t.word in HELP_WORDS for t in tokens):
        return HelpRequest()
    target: str | None = None
    i = 0
    if tokens and _first_is_target(tokens[0]):
        target = tokens[0].text
        if not target.strip():
            raise _Reject("The instance name is empty.", 0, 1)
        _check_text(target, target, "for an instance", 0)
        i = 1
    reader = _Reader(tokens, now, tz)
    window_readers = {
        "last": reader.last,
        "since": reader.since,
        "between": reader.between,
        "today": reader.today_window,
        "yesterday": reader.yesterday_window,
    }
    window: _Window | None = None
    statuses: set[str] = set()
    values: dict[str, str] = {}
    numbers: dict[str, int] = {}
    while i < len(tokens):
        token = tokens[i]
        word = token.word
        if word in window_readers:
            found = window_readers[word](i)
            if window is not None:
                raise _Reject(
                    f'"{_fragment(tokens, window.start, window.stop)}" and '
                    f'"{_fragment(tokens, found.start, found.stop)}" are two windows; use one.',
                    found.start,
                    found.stop,
                )
            window = found
            i = found.stop
            continue
        key, eq, value = token.text.partition("=")
        key = key.lower()
        if not eq or token.quoted or key not in KEYS:
            raise _unknown_word(tokens, i, target is not None)
        if key in values or key in numbers:
            raise _Reject(f'"{_snippet(token.raw)}": {key}= is given twice; use one.', i, i + 1)
        if not value.strip():
            raise _Reject(
                f'"{_snippet(token.raw)}" needs a value, e.g. {_KEY_EXAMPLES[key]}.',
                i,
                i + 1,
                [[_KEY_EXAMPLES[key]], []],
            )
        if key == "status":
            statuses |= _statuses(value, token.raw, i)
        elif key in ("limit", "page"):
            numbers[key] = _number(key, value, token.raw, i)
        else:
            values[key] = _check_text(value, token.raw, f"after {key}=", i)
        i += 1
    if window is None:
        window = _Window(now - DEFAULT_WINDOW, now, DEFAULT_LABEL, 0, 0)
    return TaskQuery(
        target=target,
        window=TimeWindow(window.begin, window.end, window.label),
        filters=TaskFilters(
            statuses=frozenset(statuses), name_glob=values.get("name"), user=values.get("user")
        ),
        limit=numbers.get("limit", DEFAULT_LIMIT),
        page=numbers.get("page", 1),
    )


def _check_text(value: str, raw: str, where: str, i: int) -> str:
    """A typed name or filter value: bounded, so that it fits a button value (see encode_state),
    and free of control characters, which Slack cannot show."""
    if len(value) > MAX_VALUE:
        raise _Reject(
            f'"{_snippet(raw)}" is too long {where} (at most {MAX_VALUE} characters).', i, i + 1
        )
    if _has_bad_chars(value):
        raise _Reject(f'"{_snippet(raw)}" contains control characters.', i, i + 1)
    return value


def _statuses(value: str, raw: str, i: int) -> set[str]:
    found: set[str] = set()
    unknown: list[str] = []
    for item in value.split(","):
        name = item.strip().lower()
        if not name:
            continue
        if name in STATUS_ALIASES:
            found.add(str(STATUS_ALIASES[name]))
        elif name.upper() in KNOWN_STATUSES:
            found.add(name.upper())
        else:
            unknown.append(item.strip())
    if unknown:
        valid = ", ".join(s.lower() for s in TaskStatus)
        guess = difflib.get_close_matches(unknown[0].lower(), list(STATUS_ALIASES), n=1)
        hint = f' Did you mean "{guess[0]}"?' if guess else ""
        kept = sorted(s.lower() for s in found) or ["failed"]
        raise _Reject(
            f'"{_snippet(unknown[0])}" in "{_snippet(raw)}" isn\'t a task status.{hint} '
            f"Statuses: {valid}.",
            i,
            i + 1,
            [["status=" + ",".join(kept)]],
        )
    if not found:
        raise _Reject(
            f'"{_snippet(raw)}" names no status, e.g. status=failed.', i, i + 1, [["status=failed"]]
        )
    return found


def _number(key: str, value: str, raw: str, i: int) -> int:
    high = MAX_LIMIT if key == "limit" else MAX_PAGE
    fallback = DEFAULT_LIMIT if key == "limit" else 1
    text = value.strip()
    if not _NUMBER.fullmatch(text) or len(text) > 9:
        raise _Reject(
            f'"{_snippet(raw)}" needs a whole number from 1 to {high}.',
            i,
            i + 1,
            [[f"{key}={fallback}"]],
        )
    number = int(text)
    if not 1 <= number <= high:
        clamped = min(max(number, 1), high)
        raise _Reject(
            f'"{_snippet(raw)}" is out of range: {key} goes from 1 to {high}.',
            i,
            i + 1,
            [[f"{key}={clamped}"]],
        )
    return number


def _unknown_word(tokens: Sequence[_Token], i: int, has_target: bool) -> _Reject:
    token = tokens[i]
    word = token.word
    shown = _snippet(token.raw)
    # "lsat 1h": the typo was taken for the instance, and the next word makes no sense alone.
    if i == 1 and has_target and not tokens[0].quoted:
        guess = difflib.get_close_matches(tokens[0].word, WINDOW_WORDS, n=1, cutoff=0.75)
        if guess:
            return _Reject(
                f'"{_fragment(tokens, 0, 2)}" isn\'t something I understand. '
                f'Did you mean "{guess[0]} {tokens[1].raw}"?',
                0,
                1,
                [[guess[0]]],
            )
    if word in STATUS_ALIASES or word.upper() in KNOWN_STATUSES:
        return _Reject(
            f'I don\'t understand "{shown}". Did you mean "status={word}"?',
            i,
            i + 1,
            [[f"status={word}"], []],
        )
    if _AMOUNT.fullmatch(word) and _read_amount(tokens, i):
        return _Reject(
            f'I don\'t understand "{shown}". Did you mean "last {token.raw}"?',
            i,
            i + 1,
            [["last", token.raw], []],
        )
    key, eq, _ = word.partition("=")
    if eq:
        guess = difflib.get_close_matches(key, KEYS, n=1, cutoff=0.6)
        if guess:
            return _Reject(
                f'I don\'t know "{_snippet(key)}=". Did you mean "{guess[0]}="?',
                i,
                i + 1,
                [[f"{guess[0]}={token.raw.partition('=')[2]}"], []],
            )
        return _Reject(
            f'I don\'t know "{_snippet(key)}=". Filters are status=, name=, user=; '
            "options are limit= and page=.",
            i,
            i + 1,
        )
    guess = difflib.get_close_matches(word, [*VOCABULARY, *STATUS_ALIASES], n=1, cutoff=0.6)
    if guess:
        fix = guess[0] if guess[0] in VOCABULARY else f"status={guess[0]}"
        return _Reject(
            f'I don\'t understand "{shown}". Did you mean "{fix}"?',
            i,
            i + 1,
            [[fix], []],
        )
    return _Reject(
        f'I don\'t understand "{shown}". After the instance come a window ({WINDOW_FORMS}), '
        "filters (status=, name=, user=) and limit=.",
        i,
        i + 1,
    )


def _normalize_now(now: datetime) -> datetime:
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    return now.astimezone(UTC).replace(microsecond=0)


def _attempt(text: str, now: datetime, tz: ZoneInfo) -> TaskQuery | HelpRequest | None:
    try:
        return _parse(_tokenize(text), now, tz)
    except (_Reject, _TokenError):
        return None


def _example(candidates: Sequence[str], now: datetime, tz: ZoneInfo) -> str:
    """The first candidate that parses, so that the example shown always works."""
    for candidate in candidates:
        # A bare command only works where the channel has a default: never offer it.
        if not candidate.strip() or len(candidate) > MAX_TEXT:
            continue
        parsed = _attempt(candidate, now, tz)
        if isinstance(parsed, TaskQuery):
            return f"{COMMAND} {candidate}".rstrip()
    return f"{COMMAND} help"


def _fallbacks(tokens: Sequence[_Token]) -> list[str]:
    out: list[str] = []
    if tokens and _first_is_target(tokens[0]):
        out.append(f"{tokens[0].raw} last 1h")
    out.append("last 1h")
    return out


def parse_command(text: str, *, now: datetime, tz: ZoneInfo) -> TaskQuery | HelpRequest:
    """Read the slash command's text. Raises QueryError naming the bad fragment, with a valid
    command close to what was typed as the example. `now` is aware (naive counts as UTC)."""
    now = _normalize_now(now)
    if len(text) > MAX_TEXT:
        words = text[:200].split()
        first = words[0] if words else ""
        candidates = [f"{first} last 1h"] if 0 < len(first) <= MAX_VALUE else []
        raise QueryError(
            f"That command is {len(text)} characters long; I read at most {MAX_TEXT}.",
            _example([*candidates, "last 1h"], now, tz),
        )
    # Slack sends &, < and > as HTML entities in command text (its text formatting rules), and
    # text copied from chat or docs carries invisible characters that would make a name differ
    # from what the user sees.
    text = unescape(text).translate(_INVISIBLE)
    try:
        tokens = _tokenize(text)
    except _TokenError as exc:
        plain = "".join(c for c in text if c not in _QUOTE_PAIRS and c not in "”’")
        first = plain.split()[:1]
        candidates = [plain, *(f"{w} last 1h" for w in first if len(w) <= MAX_VALUE)]
        raise QueryError(exc.message, _example([*candidates, "last 1h"], now, tz)) from None
    try:
        return _parse(tokens, now, tz)
    except _Reject as bad:
        raws = [t.raw for t in tokens]
        candidates = [" ".join([*raws[: bad.start], *fix, *raws[bad.stop :]]) for fix in bad.fixes]
        rest = [t for k, t in enumerate(tokens) if not bad.start <= k < bad.stop]
        example = _example([*candidates, *_fallbacks(rest), *_fallbacks(tokens)], now, tz)
        raise QueryError(bad.message, example) from None


# ---- button state ----------------------------------------------------------------------------

_STATE_KEYS = frozenset("vtbelsnumpk")
# Epoch seconds of 9999-12-31 23:59:59 UTC: datetime cannot go further.
_MAX_EPOCH = 253_402_300_799


class _BadState(Exception):
    pass


def _state_text(value: Any, what: str, limit: int, *, from_api: bool = False) -> str:
    """Texts people typed must hold something visible and no control characters; a task id is
    the API's, kept as it came."""
    if not isinstance(value, str) or not 1 <= len(value) <= limit:
        raise _BadState(f"the {what} is not a text of 1 to {limit} characters")
    if not from_api and not value.strip():
        raise _BadState(f"the {what} is blank")
    if _has_bad_chars(value, allow_control=from_api):
        raise _BadState(f"the {what} holds characters that cannot be shown")
    return value


def _state_int(value: Any, what: str, low: int, high: int) -> int:
    # bool is an int in Python; a JSON true is not a number here.
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _BadState(f"the {what} is not a whole number from {low} to {high}")
    return value


def _validated(data: Any) -> tuple[TaskQuery, str | None]:
    if not isinstance(data, dict):
        raise _BadState("it is not an object")
    extra = set(data) - _STATE_KEYS
    if extra:
        raise _BadState("it holds unknown fields")
    if data.get("v") != STATE_VERSION or isinstance(data.get("v"), bool):
        raise _BadState("it comes from another version of the bot")
    for required in "bel":
        if required not in data:
            raise _BadState("it has no window")
    begin = _state_int(data["b"], "window start", 0, _MAX_EPOCH)
    end = _state_int(data["e"], "window end", 0, _MAX_EPOCH)
    if end <= begin:
        raise _BadState("its window ends before it begins")
    if end - begin > MAX_WINDOW.total_seconds():
        raise _BadState(f"its window is longer than {MAX_WINDOW.days} days")
    label = _state_text(data["l"], "window label", MAX_LABEL)
    target = None if data.get("t") is None else _state_text(data["t"], "instance", MAX_VALUE)
    raw_statuses = data.get("s", [])
    if not isinstance(raw_statuses, list) or not all(
        isinstance(s, str) and s in KNOWN_STATUSES for s in raw_statuses
    ):
        raise _BadState("its statuses are not task statuses")
    glob = None if data.get("n") is None else _state_text(data["n"], "name filter", MAX_VALUE)
    user = None if data.get("u") is None else _state_text(data["u"], "user filter", MAX_VALUE)
    limit = _state_int(data.get("m", DEFAULT_LIMIT), "page size", 1, MAX_LIMIT)
    page = _state_int(data.get("p", 1), "page", 1, MAX_PAGE)
    task_id = data.get("k")
    if task_id is not None:
        task_id = _state_text(task_id, "task id", MAX_TASK_ID, from_api=True)
    query = TaskQuery(
        target=target,
        window=TimeWindow(
            datetime.fromtimestamp(begin, tz=UTC), datetime.fromtimestamp(end, tz=UTC), label
        ),
        filters=TaskFilters(statuses=frozenset(raw_statuses), name_glob=glob, user=user),
        limit=limit,
        page=page,
    )
    return query, task_id


def _epoch(moment: datetime, what: str) -> int:
    if not isinstance(moment, datetime) or moment.tzinfo is None:
        raise _BadState(f"the {what} is not an aware time")
    if moment.microsecond:
        raise _BadState(f"the {what} is not a whole second")
    return int(moment.timestamp())


def encode_state(query: TaskQuery, *, task_id: str | None = None) -> str:
    """The button value for a listing: compact JSON with short keys (v version, t target, b/e
    window in epoch seconds, l label, s statuses, n name glob, u user, m limit, p page, k task
    id). Defaults are left out. Anything `decode_state` would refuse raises QueryError here, so
    a value we send always comes back readable.

    Size: target, glob and user are at most 100 characters without control characters, so each
    takes at most 200 UTF-16 units in JSON (an escaped quote or an astral character costs 2);
    the label at most 120; a task id of at most 128 characters at most 768 (\\u0000 escapes);
    the rest under 200. That stays well under Slack's 2000."""
    data: dict[str, Any] = {"v": STATE_VERSION}
    try:
        if query.target is not None:
            data["t"] = query.target
        data["b"] = _epoch(query.window.begin, "window start")
        data["e"] = _epoch(query.window.end, "window end")
        data["l"] = query.window.label
        if query.filters.statuses:
            data["s"] = sorted(str(s) for s in query.filters.statuses)
        if query.filters.name_glob is not None:
            data["n"] = query.filters.name_glob
        if query.filters.user is not None:
            data["u"] = query.filters.user
        if query.limit != DEFAULT_LIMIT:
            data["m"] = query.limit
        if query.page != 1:
            data["p"] = query.page
        if task_id is not None:
            data["k"] = task_id
        _validated(data)
    except (_BadState, OverflowError, OSError, ValueError) as exc:
        raise QueryError(
            f"That listing cannot be put in a button: {exc}.", f"{COMMAND} last 1h"
        ) from None
    value = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    # Guaranteed by the bounds above; checked because Slack rejects the whole message otherwise.
    if slack_len(value) > MAX_BUTTON_VALUE:
        raise QueryError("That listing is too large for a button.", f"{COMMAND} last 1h")
    return value


def decode_state(value: str) -> tuple[TaskQuery, str | None]:
    """A button value back into the query and task id. Values come back from the client and may
    be copied or edited, so everything is checked; anything off raises QueryError. Access is not
    decided here: the service re-checks the target for the channel on every click."""
    try:
        if not isinstance(value, str) or not value or slack_len(value) > MAX_BUTTON_VALUE:
            raise _BadState("it is empty or too long")
        try:
            data = json.loads(value)
        except (ValueError, RecursionError):
            raise _BadState("it is not JSON") from None
        return _validated(data)
    except _BadState as exc:
        raise QueryError(
            f"That button's value is damaged or out of date ({exc}). Run the command again.",
            f"{COMMAND} help",
        ) from None


# ---- words for people ------------------------------------------------------------------------


def format_duration(delta: timedelta) -> str:
    """`5 s`, `9 min`, `1 h 10 min`, `2 d 3 h`: two units at most, rounded down."""
    total = int(delta.total_seconds())
    sign = "-" if total < 0 else ""
    total = abs(total)
    if total < 60:
        return f"{sign}{total} s"
    minutes, hours, days = total // 60, total // 3600, total // 86400
    if total < 3600:
        return f"{sign}{minutes} min"
    if total < 86400:
        rest = minutes % 60
        return f"{sign}{hours} h {rest} min" if rest else f"{sign}{hours} h"
    rest = hours % 24
    return f"{sign}{days} d {rest} h" if rest else f"{sign}{days} d"


def format_day(day: date, today: date) -> str:
    """`5 Mar`, with the year only when it is not this year's."""
    text = f"{day.day} {day:%b}"
    return text if day.year == today.year else f"{text} {day.year}"


def _span(begin: datetime, end: datetime, reference: date) -> str:
    """Times of [begin, end) in begin's zone; dates only when the span crosses a day or is not
    on `reference` (today). An end at midnight reads as 24:00 of the day before."""
    begin_name, end_name = begin.tzname() or "", end.tzname() or ""
    end_day, end_clock = end.date(), f"{end:%H:%M}"
    if end.time() == time(0) and end_day > begin.date():
        end_day, end_clock = end_day - timedelta(days=1), "24:00"
    same_zone = begin_name == end_name
    first = f"{begin:%H:%M}" if same_zone else f"{begin:%H:%M} {begin_name}"
    if begin.date() == end_day == reference:
        return f"{first}–{end_clock} {end_name}"
    if begin.date() == end_day:
        return f"{format_day(begin.date(), reference)} {first}–{end_clock} {end_name}"
    return (
        f"{format_day(begin.date(), reference)} {first} – "
        f"{format_day(end_day, reference)} {end_clock} {end_name}"
    )


def describe_window(window: TimeWindow, tz: ZoneInfo, *, now: datetime | None = None) -> str:
    """`last 1 h: 13:07–14:07 CET (12:07–13:07 UTC)`. "Today" is the day of `now`, or of the
    window's end when no clock is given. The UTC part is left out when the zone is UTC-like."""
    reference = now or window.end
    begin, end = window.begin.astimezone(tz), window.end.astimezone(tz)
    local = _span(begin, end, reference.astimezone(tz).date())
    head = f"{window.label}: {local}"
    offsets = {begin.utcoffset(), end.utcoffset()}
    if offsets == {timedelta(0)}:
        return head
    utc = _span(
        window.begin.astimezone(UTC), window.end.astimezone(UTC), reference.astimezone(UTC).date()
    )
    return f"{head} ({utc})"


def refreshed(window: TimeWindow, now: datetime) -> TimeWindow:
    """The window a Refresh shows.

    Page turns keep the absolute window so page 2 matches page 1, but Refresh answers "what is
    happening now": windows the user anchored to the moment of asking (`last …`, `since …`,
    `today`) move their end to now; `last …` keeps its length, the others grow (never past
    MAX_WINDOW). Fixed windows (`between`, `yesterday`) stay as they are.
    """
    now = _normalize_now(now)
    if now <= window.end:
        return window
    if window.label.startswith("last "):
        return TimeWindow(now - (window.end - window.begin), now, window.label)
    if window.label.startswith("since ") or window.label == "today":
        return TimeWindow(max(window.begin, now - MAX_WINDOW), now, window.label)
    return window
