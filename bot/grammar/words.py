"""The grammar's vocabulary and tokens: what words mean, how text splits into them, and the
errors that carry a repair so a message can show a valid command."""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from bot.domain.instances import WINDOW_WORDS
from bot.domain.tasks import TaskStatus

COMMAND = "/dms-tasks"
# The most rows one page of an answer shows.
MAX_LIMIT = 100
# Pages beyond the last are clamped by the service; this only keeps the number a sane size.
MAX_PAGE = 100_000
DEFAULT_WINDOW = timedelta(hours=24)
DEFAULT_LABEL = "last 24 h"
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
# `/dms-tasks prod-a,prod-b …`: at most this many instances in one list (`all` covers more).
MAX_TARGETS = 20
# Every button of an answer about several instances carries their list (state.py), and name=
# and user= beside it: together they may take this many UTF-16 units of the button's JSON, a
# little more than one target, name= and user= take at their longest (3 x 207), since such a
# button carries no single target. state.py holds the arithmetic.
SHARED_VALUES_BUDGET = 640

WINDOW_FORMS = '"last 90m", "since 09:00", "between 09:00 and 11:30" or "today"'


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


def json_units(text: str) -> int:
    """How many UTF-16 units `text` takes as a JSON string in a button value (quotes and
    escapes included; written as the button state writes it, without ASCII escapes)."""
    encoded = json.dumps(text, ensure_ascii=False)
    return len(encoded.encode("utf-16-le", "surrogatepass")) // 2


def shared_values_cost(targets: tuple[str, ...], name: str | None, user: str | None) -> int:
    """What a list of targets, name= and user= take of a button value together, each as
    `"k":value,` (the targets joined by commas into one string)."""
    cost = 5 + json_units(",".join(targets)) if targets else 0
    return cost + sum(5 + json_units(v) for v in (name, user) if v is not None)


# ---- vocabulary ------------------------------------------------------------------------------

_KEY_EXAMPLES = {
    "status": "status=failed",
    "name": "name=*Topic*",
    "user": "user=alice",
    "limit": "limit=20",
    "page": "page=2",
}
KEYS = tuple(_KEY_EXAMPLES)
# `on 2026-11-27` is the grammar's own window word: it is a window only before a day, so it is
# not reserved for aliases (bot.domain.instances.WINDOW_WORDS).
ON = "on"
# `/dms-tasks prod-orders running`: what is running now, whatever its start. The window is the
# last RUNNING_WINDOW under this label, by which the service can tell such a query.
RUNNING = "running"
RUNNING_NOW_LABEL = "running now"
RUNNING_WINDOW = timedelta(days=7)
RUNNING_STATUSES = frozenset({TaskStatus.CREATED.value, TaskStatus.EXECUTING.value})
VOCABULARY = (*WINDOW_WORDS, ON, RUNNING, "help", *(f"{k}=" for k in KEYS))

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
# The API returns statuses beyond the documented six (ROLLING_BACK, ...): any word of letters,
# digits and underscores is taken as one, upper-cased, unless it is a typo of a known alias.
MAX_STATUS_LEN = 40
MAX_STATUSES = 8
STATUS_WORD = re.compile(rf"[A-Z0-9_]{{1,{MAX_STATUS_LEN}}}", re.ASCII)
# How close to an alias a word must be to read as its typo ("faild", "runing").
STATUS_TYPO_RATIO = 0.8

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

_DECIMAL = re.compile(r"[0-9]+(?:\.[0-9]+)?", re.ASCII)
_NUMBER = re.compile(r"[0-9]+", re.ASCII)
# 09:00, 09:00:30, 9am, 9:30pm; seconds and a fraction of one as in ISO 8601.
_CLOCK = re.compile(
    r"([0-9]{1,2})(?::([0-9]{2})(?::([0-9]{2})(?:[.,][0-9]+)?)?)?(am|pm|a\.m\.|p\.m\.)?",
    re.ASCII,
)
_HALVES = ("am", "pm", "a.m.", "p.m.")
_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})", re.ASCII)
# ISO 8601 as pasted from logs: 2026-12-01T09:00, ...T09:00:00Z, ...T09:00:00.123+01:00.
_DATE_TIME = re.compile(
    r"([0-9]{4}-[0-9]{2}-[0-9]{2})t([0-9]{1,2}:[0-9]{2}(?::[0-9]{2}(?:[.,][0-9]+)?)?)"
    r"(z|[+-][0-9]{2}(?::?[0-9]{2})?)?",
    re.ASCII,
)
# `between 09:00–11:00` typed as one word (the dash is already a hyphen, see pasted.py).
_CLOCKISH = r"[0-9]{1,2}(?::[0-9]{2}){1,2}(?:am|pm)?|[0-9]{1,2}(?:am|pm)"
_DAYISH = r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
_RANGE = re.compile(rf"({_CLOCKISH})-({_CLOCKISH})|({_DAYISH})-({_DAYISH})", re.ASCII | re.I)
BETWEEN_SEPARATORS = ("and", "to", "-", "until", "till")

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
    first `=`, so an apostrophe inside a name (O'Brien) stays a letter. Punctuation typed after
    a word ("prod-orders, last 1h.") is not part of it, and `09:00-11:00` is three words."""
    tokens: list[_Token] = []
    i, n = 0, len(text)
    while i < n:
        if text[i].isspace():
            i += 1
            continue
        start = i
        parts: list[str] = []
        quoted = False
        tail = 0  # where the unquoted end of the word starts, in "".join(parts)
        while i < n and not text[i].isspace():
            ch = text[i]
            after_key = i > start and text[i - 1] == "=" and "=" not in text[start : i - 1]
            if ch in _QUOTE_PAIRS and (i == start or after_key):
                end = text.find(_QUOTE_PAIRS[ch], i + 1)
                if end < 0:
                    raise _TokenError(
                        f'The quote in "{_snippet(text[start:])}" is never closed.',
                        _QUOTE_PAIRS[ch],
                    )
                parts.append(text[i + 1 : end])
                tail = len("".join(parts))
                quoted = quoted or i == start
                i = end + 1
                continue
            parts.append(ch)
            i += 1
        word = "".join(parts)
        key, eq, _ = word.partition("=")
        if word != "?":  # help
            word = word[:tail] + _strip_tail(word[tail:], key.lower() if eq and not tail else "")
        if not word and not quoted:
            continue  # a stray "," or "." on its own
        tokens.extend(_split_range(_Token(word, text[start:i], quoted)))
    return tokens


def _strip_tail(text: str, key: str) -> str:
    """Drop punctuation typed after a word: "prod-orders," "1h." "user=alice?". An unquoted
    name= value keeps a final "?" (a glob's wildcard) and ";" (as in "&lt;")."""
    chars = ",:.!" if key == "name" else ",;:.!?"
    while text and text[-1] in chars:
        if text.lower().endswith(_HALVES[2:]):
            break
        text = text[:-1]
    return text


def _split_range(token: _Token) -> list[_Token]:
    m = None if token.quoted or "=" in token.text else _RANGE.fullmatch(token.text)
    if m is None:
        return [token]
    first, second = (m[1], m[2]) if m[1] else (m[3], m[4])
    return [_Token(first, first), _Token("-", "-"), _Token(second, second)]


class _TokenError(Exception):
    def __init__(self, message: str, closer: str) -> None:
        super().__init__(message)
        self.message = message
        self.closer = closer  # the quote that would close it


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


@dataclass(frozen=True)
class _Fix:
    """A repair of tokens [start, stop), when it is not the span the error names."""

    words: Sequence[str]
    start: int
    stop: int


class _Reject(Exception):
    """A bad fragment: tokens [start, stop) and the replacements that would fix it, best first.
    A fix is words replacing [start, stop), or a _Fix that says which tokens it replaces."""

    def __init__(
        self,
        message: str,
        start: int,
        stop: int,
        fixes: Sequence[Sequence[str] | _Fix] = ((),),
    ) -> None:
        super().__init__(message)
        self.message = message
        self.start = start
        self.stop = stop
        self.fixes = fixes


def _fragment(tokens: Sequence[_Token], start: int, stop: int) -> str:
    return _snippet(" ".join(t.raw for t in tokens[start:stop]))
