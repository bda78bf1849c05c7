"""What to say about a word the grammar cannot place, and the example an error shows.

The example must parse and keep what the user meant: their instance, filters and window. It is
found by repairing the text one error at a time (each error names its best repairs, removing
the bad words last) until a repaired text parses.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Sequence

from bot.domain.digests import ALL_TARGETS
from bot.domain.instances import WINDOW_WORDS
from bot.domain.query import TaskQuery
from bot.grammar.pasted import is_mention, read_link
from bot.grammar.points import _read_amount, _read_point
from bot.grammar.words import (
    _QUOTE_PAIRS,
    KEYS,
    KNOWN_STATUSES,
    MAX_TEXT,
    RUNNING,
    STATUS_ALIASES,
    VOCABULARY,
    WINDOW_FORMS,
    HelpRequest,
    _Fix,
    _fragment,
    _Reject,
    _snippet,
    _Token,
)
from bot.grammar.zones import read_zone

# What a repaired text turns out to be: a query, help, another error, or unreadable.
Outcome = TaskQuery | HelpRequest | tuple[list[_Token], _Reject] | None
# How many texts one search may try: a few milliseconds.
_BUDGET = 150
_DEPTH = 12
_QUOTES = {*_QUOTE_PAIRS, *_QUOTE_PAIRS.values()}


def _unknown_word(tokens: Sequence[_Token], i: int, has_target: bool) -> _Reject:
    token = tokens[i]
    word = token.word
    shown = _snippet(token.raw)
    raws = [t.raw for t in tokens]
    if is_mention(token.text):
        return _Reject(
            f'"{shown}" is a Slack mention; the command takes an instance, a window and '
            "filters, not mentions.",
            i,
            i + 1,
            [[]],
        )
    if word == ALL_TARGETS:
        return _misplaced_all(tokens, i, has_target)
    # "lsat 1h": the typo was taken for the instance, and the next word makes no sense alone.
    if i == 1 and has_target and not tokens[0].quoted:
        guess = difflib.get_close_matches(tokens[0].word, WINDOW_WORDS, n=1, cutoff=0.75)
        if guess:
            return _Reject(
                f'"{_fragment(tokens, 0, 2)}" isn\'t something I understand. '
                f'Did you mean "{guess[0]} {tokens[1].raw}"?',
                0,
                1,
                [[guess[0]], []],
            )
    if read_zone(word) is not None:
        return _Reject(
            f'"{shown}" is a time zone; it goes right after a time, e.g. "since 09:00 {shown}".',
            i,
            i + 1,
            [[]],
        )
    if word in STATUS_ALIASES or word.upper() in KNOWN_STATUSES:
        return _Reject(
            f'I don\'t understand "{shown}". Did you mean "status={word}"?',
            i,
            i + 1,
            [[f"status={word}"], []],
        )
    amount = _read_amount(tokens, i)
    if amount is not None:
        words = raws[i : amount.stop]
        return _Reject(
            f'I don\'t understand "{_fragment(tokens, i, amount.stop)}". Did you mean '
            f'"last {" ".join(words)}"?',
            i,
            amount.stop,
            [["last", *words], []],
        )
    point = _read_point(tokens, i)
    if point is not None:
        words = raws[i : point[1]]
        fix = ["since", *words]
        if point[1] + 1 < len(tokens) and tokens[point[1]].word == "-":
            end = _read_point(tokens, point[1] + 1)
            if end is not None:
                fix = ["between", *words, "and", *raws[point[1] + 1 : end[1]]]
                point = (point[0], end[1])
        return _Reject(
            f'I don\'t understand "{_fragment(tokens, i, point[1])}". Did you mean '
            f'"{" ".join(fix)}"?',
            i,
            point[1],
            [fix, []],
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
    # Stricter than for keys: a stray "please" must not turn into "last".
    guess = difflib.get_close_matches(word, [*VOCABULARY, *STATUS_ALIASES], n=1, cutoff=0.7)
    if guess:
        fix = guess[0] if guess[0] in VOCABULARY else f"status={guess[0]}"
        return _Reject(
            f'I don\'t understand "{shown}". Did you mean "{fix}"?',
            i,
            i + 1,
            [[fix], []],
        )
    # "running prod-orders": the instance comes first.
    if i == 1 and tokens[0].word == RUNNING and not has_target:
        return _Reject(
            f'I don\'t understand "{_fragment(tokens, 0, 2)}". The instance comes first: '
            f'"{tokens[1].raw} running".',
            0,
            2,
            [[tokens[1].raw, RUNNING], []],
        )
    if i == 1 and has_target and tokens[0].raw.endswith(",") and not tokens[0].quoted:
        # "prod-a, prod-b": a list is one word. The example drops the word all the same: after
        # "prod-orders," it is as often a filler ("prod-orders, please") as an instance.
        joined = f"{tokens[0].text},{token.text}"
        return _Reject(
            f'I don\'t understand "{shown}". To ask about several instances, join them with '
            f'commas and no spaces: "{_snippet(joined, 80)}".',
            i,
            i + 1,
        )
    return _Reject(
        f'I don\'t understand "{shown}". After the instance come a window ({WINDOW_FORMS}), '
        "filters (status=, name=, user=) and limit=.",
        i,
        i + 1,
    )


def _misplaced_all(tokens: Sequence[_Token], i: int, has_target: bool) -> _Reject:
    """`all` after other words: it goes first, in the instance's place."""
    if has_target:
        return _Reject(
            f'"{_snippet(tokens[i].raw)}" goes first, in place of the instance: '
            f'"{ALL_TARGETS} …" covers every instance this channel may see.',
            i,
            i + 1,
            [[]],
        )
    before = [t.raw for t in tokens[:i]]
    return _Reject(
        f'"{_snippet(tokens[i].raw)}" goes first: "{ALL_TARGETS} {_fragment(tokens, 0, i)}" '
        "covers every instance this channel may see.",
        i,
        i + 1,
        [_Fix([ALL_TARGETS, *before], 0, i + 1), []],
    )


def _repairs(tokens: Sequence[_Token], bad: _Reject) -> list[str]:
    """The texts `bad`'s repairs make, best first, ending with the bad words left out."""
    raws = [_shown(t, k) for k, t in enumerate(tokens)]
    out: list[str] = []
    for fix in [*bad.fixes, []]:
        start, stop, words = bad.start, bad.stop, fix
        if not isinstance(fix, list | tuple):
            start, stop, words = fix.start, fix.stop, fix.words
        text = " ".join([*raws[:start], *words, *raws[stop:]])
        if text not in out:
            out.append(text)
    return out


def _shown(token: _Token, k: int) -> str:
    """A word as an example shows it: as typed, less stray punctuation, and a console link in
    the instance's place as the instance id it holds."""
    if any(q in token.raw for q in _QUOTES):
        return token.raw
    link = read_link(token.text) if k == 0 else None
    return link.instance_id if link and link.instance_id else token.text


def find_example(
    candidates: Sequence[str],
    fallbacks: Sequence[str],
    outcome: Callable[[str], Outcome],
    *,
    as_is_first: bool = False,
) -> str:
    """The first candidate that parses once repaired (candidates are tried in order, each with
    its repairs), else the first fallback that parses; "help" if none does. `as_is_first`
    tries every candidate as it is before repairing any. A bare command only works where the
    channel has a default, so it is never offered."""
    budget = [_BUDGET]
    seen: set[str] = set()

    def usable(text: str) -> bool:
        return bool(text.strip()) and len(text) <= MAX_TEXT

    def attempt(text: str) -> Outcome:
        budget[0] -= 1
        return outcome(text)

    def repaired(text: str, depth: int) -> str | None:
        found = attempt(text)
        if isinstance(found, TaskQuery):
            return text
        if not isinstance(found, tuple) or depth == 0 or budget[0] <= 0:
            return None
        children = [c for c in _repairs(*found) if usable(c) and c not in seen]
        seen.update(children)
        for child in children:
            if budget[0] <= 0:
                return None
            result = repaired(child, depth - 1)
            if result is not None:
                return result
        return None

    for text in candidates if as_is_first else ():
        if usable(text) and isinstance(attempt(text), TaskQuery):
            return text.strip()
    for text in candidates:
        if usable(text) and (result := repaired(text, _DEPTH)) is not None:
            return result.strip()
    for text in fallbacks:
        if usable(text) and isinstance(outcome(text), TaskQuery):
            return text.strip()
    return "help"


def fallbacks(target: str | None) -> list[str]:
    """The instance alone, else the default window spelt out: what a bare command means."""
    return [target, "last 24h"] if target else ["last 24h"]
