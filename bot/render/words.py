"""Short pieces of mrkdwn the messages are made of: names, ids, counts, lists, commands.

Everything here takes text that came from a user or the API and escapes it, so that a name like
`<!channel>` can never become a mention.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.blockkit import ELLIPSIS, escape, escape_inline_code, truncate

# How much of a name (instance, task, alias) or a user name one line may take; the whole of it
# is in the data, a line on a laptop screen is not.
NAME_LIMIT = 80
USER_LIMIT = 40


def short_id(value: str) -> str:
    """`4f1c2a3b-...-9d8ce2a1` -> `4f1c…e2a1`: enough to tell instances apart at a glance."""
    return value if len(value) <= 10 else f"{value[:4]}{ELLIPSIS}{value[-4:]}"


def short_task_id(value: str) -> str:
    return value if len(value) <= 10 else f"{value[:8]}{ELLIPSIS}"


def bold(escaped: str) -> str:
    # An asterisk inside would end the bold span early and leave a stray one on screen.
    return f"*{escaped.replace('*', '∗')}*" if escaped.strip() else escaped


def piece(text: str, limit: int) -> str:
    """User- or API-derived text, escaped, on one line, at most `limit` long."""
    return truncate(escape(" ".join(text.split())), limit)


def plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def join_words(items: Sequence[str], conjunction: str = "and") -> str:
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} {conjunction} {items[-1]}"


def command_example(example: str) -> str:
    """A command to type, as inline code: a backtick in it would end the span early."""
    example = " ".join(example.split())
    return f"`{escape_inline_code(truncate(example, 300))}`"
