"""The `/dms-tasks` grammar: command text -> TaskQuery. Pure: no I/O, the clock is passed in.

    /dms-tasks [target] [window] [running] [status=a,b] [name=GLOB] [user=NAME] [limit=N]
               [page=N] [help]

The target is one instance, `all` (every instance the channel may see), or several joined by
commas without spaces (`prod-a,prod-b`, as in `digest add`): at most MAX_TARGETS, and with
name= and user= within what a button carries (SHARED_VALUES_BUDGET). A comma followed by a
space is punctuation ("prod-orders, last 1h"), so a filler word or a typo after it is never
taken for a second instance; "prod-a, prod-b" is told how to write the list.

Words are case-insensitive and may come in any order after the target. Values keep the text as
typed (for display) and match case-insensitively. Quotes group words: `user="Alice Smith"`.
What people paste is read as meant (pasted.py): *bold*, _italic_, `code` and ~strike~ marks,
dashes for hyphens, punctuation after a word, Slack's <url|label>; a Huawei Cloud console link
as the target names its instance id. Slack mentions are refused: they name no instance.

The target is the first word unless it is a window word, a date, `running`, help or a filter.
`running` is what runs now, whatever its start: status=created,executing over the last 7 days,
labelled RUNNING_NOW_LABEL (the service knows the label); with a window, that window. A status
is any word of letters, digits and _ (the API has more than the documented six), except one
so close to an alias that it reads as its typo (`faild`), which is refused with the alias.

Time decisions:
- Every window is an absolute [begin, end) in UTC, computed once, when the command is read; a
  page turn carries the same instants (see `encode_state`), so page 2 shows what page 1 showed.
- Local times are read in the user's Slack zone through zoneinfo, with fold=0: an ambiguous time
  (02:30 on the night clocks go back) is its first occurrence, and a time the clocks skip (02:30
  on the night they go forward) is read with the offset in force before the jump, so 02:30 on
  2026-03-29 in Berlin is 01:30 UTC, the instant the clocks show as 03:30 CEST.
- A zone after a time or day reads it in that zone instead (`since 09:00 CET`, `Europe/Berlin`,
  `UTC+2`; ISO times `2026-12-01T09:00:00Z`, `...+01:00`); "today" there is that zone's today.
  Abbreviations are fixed offsets (zones.py). In `between`, a zone on one end serves both.
- Durations ("last 1d", "last 1h30m", "last 2h 30m") are elapsed time, not calendar time: a day
  is 24 h even across a DST change. "today", "yesterday" and "on 2026-11-27" (or the date
  alone) are calendar days, so they can last 23 or 25 h.
- `since 09:00` is the latest 09:00 before now: at 08:00 it means yesterday's. `since yesterday`
  starts at yesterday's midnight. Every window ends now, except `yesterday`, `on` and `between`.
- `between A and B`: a bare clock time takes the other end's day, else today's; two bare clock
  times with the end earlier (`between 23:00 and 01:00`) span last night, yesterday to today;
  a day alone as the end includes that whole day; an end still in the future is cut to now.
- A window lasts at most 31 days: each answer fetches its whole window (counts cover all of it).
- `now` is cut to whole seconds: the API takes whole seconds, and a button value carries epoch
  seconds, so a window survives the round trip exactly. A typed time's fraction of a second
  is dropped for the same reason.

An error's example parses and keeps what was typed: the instance, filters and the window's
meaning (suggest.py).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.domain.digests import ALL_TARGETS
from bot.domain.instances import HELP_WORDS, WINDOW_WORDS
from bot.domain.query import (
    DEFAULT_LIMIT,
    Anchor,
    TaskFilters,
    TaskQuery,
    whole_seconds,
)
from bot.grammar.filters import _check_text, _number, _statuses
from bot.grammar.pasted import is_mention, prepare, read_link
from bot.grammar.points import _read_date, _read_day
from bot.grammar.suggest import Outcome, _repairs, _unknown_word, fallbacks, find_example
from bot.grammar.windows import _Reader, _Window
from bot.grammar.words import (
    _KEY_EXAMPLES,
    _QUOTE_PAIRS,
    DEFAULT_LABEL,
    DEFAULT_WINDOW,
    KEYS,
    MAX_TARGETS,
    MAX_TEXT,
    MAX_VALUE,
    ON,
    RUNNING,
    RUNNING_NOW_LABEL,
    RUNNING_STATUSES,
    RUNNING_WINDOW,
    SHARED_VALUES_BUDGET,
    HelpRequest,
    QueryError,
    _fragment,
    _Reject,
    _snippet,
    _Token,
    _TokenError,
    _tokenize,
    shared_values_cost,
)


def _first_is_target(tokens: Sequence[_Token]) -> bool:
    token = tokens[0]
    if token.quoted:
        return True
    word = token.word
    # "running" is reserved (no alias may be it): `/dms-tasks running` is the channel's default.
    if word in WINDOW_WORDS or word in HELP_WORDS or word == RUNNING or is_mention(token.text):
        return False
    # A date is a window (instance names start with a letter), and so is "on" before a day.
    if _read_date(word) or (word == ON and len(tokens) > 1 and _read_day(tokens[1].word)):
        return False
    # "stauts=failed" is a misspelt filter, not an instance: names hold no "=".
    key, eq, _ = word.partition("=")
    return not (eq and difflib.get_close_matches(key, KEYS, n=1, cutoff=0.75))


def _target(token: _Token, i: int) -> str:
    link = None if token.quoted else read_link(token.text)
    if link is None:
        target = token.text
        if not target.strip():
            raise _Reject("The instance name is empty.", i, i + 1)
        return _check_text(target, target, "for an instance", i)
    if link.instance_id is None:
        raise _Reject(f'The link "{_snippet(token.raw)}" {link.problem}.', i, i + 1, [[]])
    return link.instance_id


def _is_list(token: _Token) -> bool:
    """`all`, or instances joined by commas (a console link keeps its commas)."""
    if token.quoted:
        return False
    return token.word == ALL_TARGETS or ("," in token.text and read_link(token.text) is None)


def _targets(token: _Token, i: int) -> tuple[str, ...]:
    """The instances of `prod-a,prod-b` (or `all`), each read as a target is, duplicates left
    out; ("all",) when `all` is among them."""
    parts = [p for p in token.text.split(",") if p]
    found: dict[str, str] = {}
    for k, part in enumerate(parts):
        word = part.lower()
        others = ",".join(parts[:k] + parts[k + 1 :])
        if (
            word in WINDOW_WORDS
            or word in HELP_WORDS
            or word == RUNNING
            or "=" in part
            or _read_date(word)
            or is_mention(part)
        ):
            raise _Reject(
                f'"{_snippet(part)}" in "{_snippet(token.raw)}" is not an instance; a space goes '
                "between the instances and what follows them.",
                i,
                i + 1,
                [[others, part], [others]] if others else [[part]],
            )
        target = _target(_Token(part, part), i)
        found.setdefault(target.lower(), target)
    if ALL_TARGETS in found:
        return (ALL_TARGETS,)
    targets = tuple(found.values())
    if len(targets) > MAX_TARGETS:
        raise _Reject(
            f"That lists {len(targets)} instances; I read at most {MAX_TARGETS} at once. "
            f'"{ALL_TARGETS}" covers every instance this channel may see.',
            i,
            i + 1,
            [[",".join(targets[:MAX_TARGETS])], [ALL_TARGETS]],
        )
    return targets


def _check_list_room(
    tokens: Sequence[_Token], targets: tuple[str, ...], name: str | None, user: str | None
) -> None:
    """Every button of the answer carries the list with name= and user= (state.py)."""
    if shared_values_cost(targets, name, user) <= SHARED_VALUES_BUDGET:
        return
    fitting = list(targets)
    while len(fitting) > 1 and shared_values_cost(tuple(fitting), name, user) > (
        SHARED_VALUES_BUDGET
    ):
        fitting.pop()
    fixes = [[",".join(fitting)]] if len(fitting) > 1 else []
    raise _Reject(
        f"Those {len(targets)} instances, with name= and user=, are too long to carry in the "
        f"answer's buttons. List fewer, or use {ALL_TARGETS} for every instance here.",
        0,
        1,
        [*fixes, [ALL_TARGETS]],
    )


def _parse(tokens: Sequence[_Token], now: datetime, tz: ZoneInfo) -> TaskQuery | HelpRequest:
    if any(t.word in HELP_WORDS for t in tokens):
        return HelpRequest()
    target: str | None = None
    targets: tuple[str, ...] = ()
    i = 0
    if tokens and _first_is_target(tokens):
        if _is_list(tokens[0]):
            targets = _targets(tokens[0], 0)
            if len(targets) == 1 and targets[0] != ALL_TARGETS:
                target, targets = targets[0], ()
        else:
            target = _target(tokens[0], 0)
        _check_misspelt_window(tokens, now, tz)
        i = 1
    reader = _Reader(tokens, now, tz)
    window_readers = {
        "last": reader.last,
        "since": reader.since,
        "between": reader.between,
        "today": reader.today_window,
        "yesterday": reader.yesterday_window,
        ON: reader.on,
    }
    window: _Window | None = None
    statuses: set[str] = set()
    running: int | None = None  # where "running" was typed
    values: dict[str, str] = {}
    numbers: dict[str, int] = {}
    while i < len(tokens):
        token = tokens[i]
        word = token.word
        if word in window_readers or _read_date(word):
            found = window_readers[word](i) if word in window_readers else reader.day(i)
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
        if word == RUNNING:
            if statuses:
                raise _running_and_status(tokens, i)
            running = i
            i += 1
            continue
        if not token.quoted and read_link(token.text) is not None:
            found_target = _target(token, i)
            if targets:
                raise _Reject(
                    f'"{_snippet(token.raw)}" names an instance after the list of them; put it '
                    "in the list.",
                    i,
                    i + 1,
                    [[]],
                )
            if target is not None and found_target != target:
                raise _Reject(
                    f'"{_snippet(token.raw)}" names another instance than "{_snippet(target)}"; '
                    "name one.",
                    i,
                    i + 1,
                    [[]],
                )
            target = found_target
            i += 1
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
            if running is not None:
                raise _running_and_status(tokens, i)
            statuses |= _statuses(value, token.raw, i, statuses)
        elif key in ("limit", "page"):
            numbers[key] = _number(key, value, token.raw, i)
        else:
            values[key] = _check_text(value, token.raw, f"after {key}=", i)
        i += 1
    if running is not None:
        statuses = set(RUNNING_STATUSES)
        if window is None:
            begin = now - RUNNING_WINDOW
            window = _Window(begin, now, RUNNING_NOW_LABEL, running, running + 1, Anchor.SLIDING)
    if window is None:
        window = _Window(now - DEFAULT_WINDOW, now, DEFAULT_LABEL, 0, 0, Anchor.SLIDING)
    if targets and targets != (ALL_TARGETS,):
        _check_list_room(tokens, targets, values.get("name"), values.get("user"))
    return TaskQuery(
        target=target,
        window=window.window,
        filters=TaskFilters(
            statuses=frozenset(statuses), name_glob=values.get("name"), user=values.get("user")
        ),
        limit=numbers.get("limit", DEFAULT_LIMIT),
        page=numbers.get("page", 1),
        targets=targets,
    )


def _check_misspelt_window(tokens: Sequence[_Token], now: datetime, tz: ZoneInfo) -> None:
    """`snice yesterday` is "since yesterday" misspelt, not the instance "snice" over yesterday:
    a first word close to "since", "between" or "last" whose next words read as what that
    keyword takes. Quoted, it is an instance."""
    first = tokens[0]
    if first.quoted or len(tokens) < 2 or "=" in first.word:
        return
    guess = difflib.get_close_matches(first.word, ("since", "between", "last"), n=1, cutoff=0.75)
    if not guess:
        return
    mended = [_Token(guess[0], guess[0]), *tokens[1:]]
    reader = _Reader(mended, now, tz)
    try:
        found = getattr(reader, guess[0])(0)
    except _Reject:
        return
    typed = _fragment(tokens, 0, found.stop)
    meant = _fragment(mended, 0, found.stop)
    message = f'"{typed}" isn\'t something I understand. Did you mean "{meant}"?'
    if tokens[1].word in ("today", "yesterday") or _read_date(tokens[1].word):
        # As it stands it reads as an instance and a window: say how to keep that reading.
        message += f" (If \"{first.raw}\" is an instance, quote it: '{first.raw}'.)"
    raise _Reject(message, 0, 1, [[guess[0]], [f"'{first.raw}'"]])


def _running_and_status(tokens: Sequence[_Token], i: int) -> _Reject:
    return _Reject(
        f'"running" picks the running tasks (status=created,executing), and "status=" picks '
        f'statuses too; use one ("{_snippet(tokens[i].raw)}" is the second).',
        i,
        i + 1,
        [[]],
    )


def _outcome(now: datetime, tz: ZoneInfo) -> Callable[[str], Outcome]:
    def outcome(text: str) -> Outcome:
        try:
            tokens = _tokenize(prepare(text))
        except _TokenError:
            return None
        try:
            return _parse(tokens, now, tz)
        except _Reject as bad:
            return tokens, bad

    return outcome


def parse_command(text: str, *, now: datetime, tz: ZoneInfo) -> TaskQuery | HelpRequest:
    """Read the slash command's text. Raises QueryError naming the bad fragment, with a valid
    command close to what was typed as the example. `now` is aware (naive counts as UTC)."""
    now = whole_seconds(now)
    outcome = _outcome(now, tz)
    if len(text) > MAX_TEXT:
        words = text[:200].split()
        first = words[0] if words else ""
        candidates = [f"{first} last 1h"] if 0 < len(first) <= MAX_VALUE else []
        raise QueryError(
            f"That command is {len(text)} characters long; I read at most {MAX_TEXT}.",
            find_example(candidates, ["last 1h"], outcome),
        )
    text = prepare(text)
    try:
        tokens = _tokenize(text)
    except _TokenError as exc:
        plain = "".join(c for c in text if c not in _QUOTE_PAIRS and c not in "”’")
        first = [f"{w} last 1h" for w in plain.split()[:1] if len(w) <= MAX_VALUE]
        example = find_example(
            [plain, text + exc.closer], [*first, "last 1h"], outcome, as_is_first=True
        )
        raise QueryError(exc.message, example) from None
    try:
        return _parse(tokens, now, tz)
    except _Reject as bad:
        target = tokens[0].raw if tokens and _first_is_target(tokens) else None
        example = find_example(_repairs(tokens, bad), fallbacks(target), outcome)
        raise QueryError(bad.message, example) from None
