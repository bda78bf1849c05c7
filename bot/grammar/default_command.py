"""`/dms-tasks default …`: the channel's default target, set from Slack.

    default                              what it is here, and where it comes from
    default <target>[,<target>…] | all   set it
    default clear | none                 remove the one set in Slack (the config file's stays)

Pure, like the rest of the grammar; an error names the bad part and gives a corrected command
(without the command's name, which the service adds). Targets read as in `digest add`: one
word, `all`, or instances joined by commas without spaces.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.domain.instances import HELP_WORDS, WINDOW_WORDS
from bot.grammar.digest_commands import targets_of
from bot.grammar.words import MAX_TARGETS, RUNNING, QueryError

DEFAULT_WORD = "default"
CLEAR_WORDS = frozenset({"clear", "none"})
USAGE = "default prod-orders"


@dataclass(frozen=True)
class DefaultShow:
    pass


@dataclass(frozen=True)
class DefaultSet:
    targets: tuple[str, ...]  # ("all",), or instances as typed


@dataclass(frozen=True)
class DefaultClear:
    pass


DefaultCommand = DefaultShow | DefaultSet | DefaultClear


def is_default_command(text: str) -> bool:
    words = text.split()
    return bool(words) and words[0].lower() == DEFAULT_WORD


def parse_default_command(text: str) -> DefaultCommand:
    """The words from `default` on. Raises QueryError with a corrected command."""
    words = text.split()
    if not words or words[0].lower() != DEFAULT_WORD:
        raise QueryError("That is not a default command.", USAGE)
    args = words[1:]
    if not args:
        return DefaultShow()
    first = args[0].lower()
    if first in HELP_WORDS and len(args) == 1:
        return DefaultShow()  # what it is here says how to change it
    if first in CLEAR_WORDS:
        if len(args) > 1:
            raise QueryError(f'"default {first}" takes nothing after it.', f"default {first}")
        return DefaultClear()
    if first in WINDOW_WORDS or first in HELP_WORDS or first == RUNNING or "=" in first:
        # "default last 1h": a question about the default, asked with the instance left out.
        rest = " ".join(w for w in args if w.lower() not in HELP_WORDS) or "last 1h"
        raise QueryError(
            "default sets which instance this channel means when none is named; to ask about "
            "that instance, leave the instance out.",
            rest,
        )
    targets = targets_of(args[0], USAGE)
    if len(args) > 1:
        raise QueryError(
            f'A default is only its instances; "{args[1][:30]}" cannot follow them (windows '
            "and filters are given with each command).",
            f"default {','.join(targets)}",
        )
    if len(targets) > MAX_TARGETS:
        raise QueryError(
            f"That lists {len(targets)} instances; a default holds at most {MAX_TARGETS}. "
            '"all" covers every instance this channel may see.',
            "default all",
        )
    return DefaultSet(targets)
