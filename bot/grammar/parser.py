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
from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.domain.instances import HELP_WORDS, WINDOW_WORDS
from bot.domain.query import (
    DEFAULT_LIMIT,
    Anchor,
    TaskFilters,
    TaskQuery,
    whole_seconds,
)
from bot.domain.tasks import TaskStatus
from bot.grammar.windows import (
    _read_amount,
    _Reader,
    _Window,
)
from bot.grammar.words import (
    _AMOUNT,
    _INVISIBLE,
    _KEY_EXAMPLES,
    _NUMBER,
    _QUOTE_PAIRS,
    DEFAULT_LABEL,
    DEFAULT_WINDOW,
    KEYS,
    KNOWN_STATUSES,
    MAX_LIMIT,
    MAX_PAGE,
    MAX_TEXT,
    MAX_VALUE,
    STATUS_ALIASES,
    VOCABULARY,
    WINDOW_FORMS,
    HelpRequest,
    QueryError,
    _fragment,
    _has_bad_chars,
    _Reject,
    _snippet,
    _Token,
    _TokenError,
    _tokenize,
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
        window = _Window(now - DEFAULT_WINDOW, now, DEFAULT_LABEL, 0, 0, Anchor.SLIDING)
    return TaskQuery(
        target=target,
        window=window.window,
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
            return candidate.strip()
    return "help"


def _fallbacks(tokens: Sequence[_Token]) -> list[str]:
    out: list[str] = []
    if tokens and _first_is_target(tokens[0]):
        out.append(f"{tokens[0].raw} last 1h")
    out.append("last 1h")
    return out


def parse_command(text: str, *, now: datetime, tz: ZoneInfo) -> TaskQuery | HelpRequest:
    """Read the slash command's text. Raises QueryError naming the bad fragment, with a valid
    command close to what was typed as the example. `now` is aware (naive counts as UTC)."""
    now = whole_seconds(now)
    if len(text) > MAX_TEXT:
        words = text[:200].split()
        first = words[0] if words else ""
        candidates = [f"{first} last 1h"] if 0 < len(first) <= MAX_VALUE else []
        raise QueryError(
            f"That command is {len(text)} characters long; I read at most {MAX_TEXT}.",
            _example([*candidates, "last 1h"], now, tz),
        )
    # Text copied from chat or docs carries invisible characters that would make a name differ
    # from what the user sees. (Slack's entities, &amp; &lt; &gt;, are undone at the Slack edge.)
    text = text.translate(_INVISIBLE)
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
