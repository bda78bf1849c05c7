"""`/dms-tasks alert …`: managing a channel's failure alerts.

    alert add <target>[,<target>…]|all [stuck]
    alert list
    alert remove <id>

Pure, like the rest of the grammar; an error names the bad part and gives a corrected command
(without the command's name, which the service adds). Targets read as in `digest add`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.grammar.digest_commands import targets_of
from bot.grammar.words import QueryError

ALERT_WORDS = frozenset({"alert", "alerts"})
STUCK = "stuck"
_ID = re.compile(r"[a-z0-9]{4,12}", re.ASCII)
USAGE = "alert add prod-orders"


@dataclass(frozen=True)
class AlertAdd:
    targets: tuple[str, ...]
    stuck: bool = False  # also tasks running far too long


@dataclass(frozen=True)
class AlertList:
    pass


@dataclass(frozen=True)
class AlertRemove:
    id: str


AlertCommand = AlertAdd | AlertList | AlertRemove


def is_alert_command(text: str) -> bool:
    words = text.split()
    return bool(words) and words[0].lower() in ALERT_WORDS


def parse_alert_command(text: str) -> AlertCommand:
    """The words after `alert`. Raises QueryError with a corrected command."""
    words = text.split()
    if not words or words[0].lower() not in ALERT_WORDS:
        raise QueryError("That is not an alert command.", USAGE)
    if len(words) == 1:
        # "alerts" alone is a natural way to ask what there is.
        if words[0].lower() == "alerts":
            return AlertList()
        raise QueryError("Say what to do with alerts: add, list or remove.", USAGE)
    verb, args = words[1].lower(), words[2:]
    if verb == "list":
        if args:
            raise QueryError('"alert list" takes nothing after it.', "alert list")
        return AlertList()
    if verb == "remove":
        if len(args) != 1 or not _ID.fullmatch(args[0].lower()):
            raise QueryError(
                "Give the id of the alert to remove, as alert list shows it.", "alert list"
            )
        return AlertRemove(args[0].lower())
    if verb != "add":
        raise QueryError(
            f'"{verb[:20]}" is not something I do with alerts: add, list or remove.', USAGE
        )
    if not args:
        raise QueryError(
            "Name the instances to watch for failures, e.g. prod-orders or all.", USAGE
        )
    targets = targets_of(args[0], USAGE)
    stuck = False
    for word in args[1:]:
        if word.lower() == STUCK:
            stuck = True
        elif word.lower() == "failed":
            continue  # what every alert posts; saying so changes nothing
        else:
            raise QueryError(
                f'I don\'t understand "{word[:30]}" in an alert: after the instances comes only '
                "stuck (to hear of tasks running far too long as well as of failures).",
                f"alert add {','.join(targets)} stuck",
            )
    return AlertAdd(targets=targets, stuck=stuck)
