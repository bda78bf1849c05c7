"""The values after `key=`: statuses, numbers, and the texts of names and users."""

from __future__ import annotations

import difflib

from bot.domain.query import DEFAULT_LIMIT
from bot.domain.tasks import TaskStatus
from bot.grammar.words import (
    _NUMBER,
    KNOWN_STATUSES,
    MAX_LIMIT,
    MAX_PAGE,
    MAX_STATUS_LEN,
    MAX_STATUSES,
    MAX_VALUE,
    STATUS_ALIASES,
    STATUS_TYPO_RATIO,
    STATUS_WORD,
    _has_bad_chars,
    _Reject,
    _snippet,
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


def _status_of(name: str) -> str | None:
    """An alias's API status, or the word itself as one (`rolling_back` -> ROLLING_BACK)."""
    if name in STATUS_ALIASES:
        return str(STATUS_ALIASES[name])
    upper = name.upper().replace("-", "_")
    return upper if STATUS_WORD.fullmatch(upper) else None


def _statuses(value: str, raw: str, i: int, known: set[str]) -> set[str]:
    """`status=failed,rolling_back`: aliases map to the API's statuses, any other word of
    letters, digits and underscores is taken as a status the API may return, except a word so
    close to an alias that it reads as its typo (`faild`, `runing`)."""
    items = [item.strip().rstrip(";.!?") for item in value.split(",")]
    items = [item for item in items if item]
    found: set[str] = set()
    for n, item in enumerate(items):
        name = item.lower()
        status = name.upper() if name.upper() in KNOWN_STATUSES else None
        if status is None and name not in STATUS_ALIASES:
            guess = difflib.get_close_matches(name, STATUS_ALIASES, n=1, cutoff=STATUS_TYPO_RATIO)
            if guess:
                mended = [*items[:n], guess[0], *items[n + 1 :]]
                raise _Reject(
                    f'"{_snippet(item)}" in "{_snippet(raw)}" isn\'t a task status. '
                    f'Did you mean "{guess[0]}"?',
                    i,
                    i + 1,
                    [["status=" + ",".join(mended)], []],
                )
        status = status or _status_of(name)
        if status is None:
            valid = ", ".join(s.lower() for s in TaskStatus)
            rest = [*items[:n], *items[n + 1 :]]
            raise _Reject(
                f'"{_snippet(item)}" in "{_snippet(raw)}" isn\'t a task status: a status is one '
                f"word of letters, digits and _ (at most {MAX_STATUS_LEN}), e.g. {valid}.",
                i,
                i + 1,
                [["status=" + ",".join(rest)] if rest else [], ["status=failed"]],
            )
        found.add(status)
    if not found:
        raise _Reject(
            f'"{_snippet(raw)}" names no status, e.g. status=failed.', i, i + 1, [["status=failed"]]
        )
    if len(found | known) > MAX_STATUSES:
        raise _Reject(
            f'"{_snippet(raw)}": that is more than {MAX_STATUSES} statuses.', i, i + 1, [[]]
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
