"""Durations written on their own, as in the config file's `[expected]` section: `2h`, `90m`,
`1h30m`, `1.5h`, `2 hours 30 minutes`, read exactly as `last …` reads its amount (elapsed time,
units largest first). Pure, like the rest of the grammar."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from bot.grammar.points import _read_amount
from bot.grammar.words import _TokenError, _tokenize

FORMS = '"2h", "90m" or "1h30m"'


def parse_duration(text: str, *, at_most: timedelta) -> timedelta:
    """`text` as a positive duration of at most `at_most`, to the whole second.

    Raises ValueError with a message that says what is wrong and how to write it (without the
    text, which the caller names with its place)."""
    try:
        tokens = _tokenize(text.strip().lower())
    except _TokenError:
        raise ValueError(f"is not a duration: write it as {FORMS}") from None
    amount = _read_amount(tokens, 0) if tokens else None
    if amount is None or amount.stop != len(tokens):
        raise ValueError(f"is not a duration: write it as {FORMS}")
    seconds = amount.seconds
    # Compared as Decimal first: "99999999999w" must not overflow timedelta.
    if seconds > Decimal(int(at_most.total_seconds())):
        raise ValueError(f"is longer than {_days(at_most)}")
    whole = round(seconds)
    if whole < 1:
        raise ValueError("is not a positive duration: give at least 1s")
    return timedelta(seconds=whole)


def _days(delta: timedelta) -> str:
    if delta.seconds == 0 and delta.days:
        return f"{delta.days} days"
    return f"{int(delta.total_seconds())} seconds"
