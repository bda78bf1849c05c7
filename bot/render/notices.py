"""Answers that are not task data: a refusal, a problem, an instance name nobody knows, a
channel's default; and the words that say why a running task is flagged.

Each is one section that says what happened and what to do next; none of them fails silently.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from bot.blockkit import actions_block, button_element, section_block, slack_message
from bot.domain.digests import ALL_TARGETS
from bot.domain.durations import DurationRange
from bot.ids import ActionId, BlockId
from bot.render.button_state import button_state
from bot.render.safety_net import checked
from bot.render.timewords import date_token, format_duration, format_duration_range
from bot.render.words import NAME_LIMIT, bold, command_example, join_words, piece, plural
from bot.report import Problem, Refusal, UnknownInstance, WhichInstance

if TYPE_CHECKING:
    from bot.channel_defaults import ChannelDefaultView

MAX_LISTED_CHANNELS = 10
MAX_LISTED_COVERED = 10
# Slack user ids: U, or W on Enterprise Grid. Only these become <@...> mentions.
_USER_ID = re.compile(r"[UW][A-Z0-9]{1,30}")

# Slack conversation ids: C (public), G (private / mpim), D (IM). Only these become <#...> links.
# Matched with fullmatch: `$` alone would let a trailing newline into the token.
_CHANNEL_ID = re.compile(r"[CGD][A-Z0-9]{1,30}")


def _channel_link(channel: str) -> str:
    return f"<#{channel}>" if _CHANNEL_ID.fullmatch(channel) else piece(channel, 80)


def render_refusal(refusal: Refusal) -> dict[str, Any]:
    name = piece(refusal.instance_label, NAME_LIMIT)
    text = f"I can't show {name} here."
    channels = [c for c in refusal.allowed_channels if c.strip()]
    if refusal.people_only:
        text += " It is limited to certain people; ask an admin if you need it."
    elif channels:
        links = [_channel_link(c) for c in channels[:MAX_LISTED_CHANNELS]]
        if len(channels) > MAX_LISTED_CHANNELS:
            links.append(plural(len(channels) - MAX_LISTED_CHANNELS, "more channel"))
        text += f" It is available in {join_words(links)}."
    else:
        text += " Ask an admin to grant this channel access in the bot's config."
    return checked(
        slack_message(f"I can't show {name} here.", [section_block(BlockId.NOTICE, text)]), name
    )


def render_problem(problem: Problem) -> dict[str, Any]:
    summary = piece(problem.summary or "Something went wrong.", 1000)
    if problem.reference:
        reference = piece(problem.reference, 300)
        if summary.endswith("."):
            summary = f"{summary[:-1]} ({reference})."
        else:
            summary = f"{summary} ({reference})"
    lines = [summary]
    if problem.hint.strip():
        lines.append(piece(problem.hint, 1000))
    if problem.example.strip():
        lines.append(f"Try: {command_example(problem.example)}")
    return checked(
        slack_message(summary, [section_block(BlockId.NOTICE, "\n".join(lines))]), "problem"
    )


def render_unknown_instance(unknown: UnknownInstance) -> dict[str, Any]:
    typed = piece(unknown.typed, NAME_LIMIT)
    first = f'I don\'t know an instance called "{typed}".'
    lines = [first]
    suggestions = [piece(s, NAME_LIMIT) for s in unknown.suggestions if s.strip()][:5]
    if suggestions:
        lines[0] += f" Did you mean {join_words(suggestions, 'or')}?"
    if unknown.example.strip():
        lines.append(f"Try: {command_example(unknown.example)}")
    return checked(
        slack_message(first, [section_block(BlockId.NOTICE, "\n".join(lines))]), "unknown"
    )


MAX_PICKED_INSTANCES = 20


def render_which_instance(which: WhichInstance) -> dict[str, Any]:
    """ "Which instance?", keeping what was typed: one button per instance this channel may use,
    each running the same window and filters there."""
    window = piece(which.query.window.label, NAME_LIMIT)
    first = f"Which instance? I can show {window} for any of these:"
    buttons = [
        button_element(
            piece(name, 70) or "instance",
            ActionId.PICK_INSTANCE.unique(n),
            button_state(replace(which.query, target=name)),
        )
        for n, name in enumerate(which.instances[:MAX_PICKED_INSTANCES], start=1)
    ]
    if not which.instances:
        text = (
            "Which instance? None has an alias for this channel: put its id first, e.g. "
            + command_example(f"{which.command} <instance id> {which.query.window.label}")
        )
        return checked(slack_message(text, [section_block(BlockId.NOTICE, text)]), "which")
    lines = [first]
    if len(which.instances) > MAX_PICKED_INSTANCES:
        lines.append(
            f"({len(which.instances) - MAX_PICKED_INSTANCES} more: type the name first, e.g. "
            f"{command_example(f'{which.command} {which.instances[-1]} {window}')})"
        )
    blocks = [
        section_block(BlockId.NOTICE, "\n".join(lines)),
        actions_block(BlockId.TASK_ACTIONS, buttons),
    ]
    return checked(slack_message(first, blocks), "which")


# ---- why a running task is flagged -----------------------------------------------------------


def expectation(usual: DurationRange, history: str = "usually {}") -> str:
    """What a flagged task was expected to take: `expected within 2 h (config)` for a bound
    from the config file's [expected], else `history` around its usual range (`usually 4–6
    min`; an alert says `usually done in 4–6 min`)."""
    if usual.configured:
        return f"expected within {format_duration(usual.high)} (config)"
    return history.format(format_duration_range(usual))


def overdue_words(usual: DurationRange | None) -> str:
    """The flag on a row: `⚠ usually 4–6 min`, `⚠ expected within 2 h (config)`, or
    `⚠ running far too long` when nothing better is known."""
    return f"⚠ {expectation(usual)}" if usual is not None else "⚠ running far too long"


# ---- `/dms-tasks default` --------------------------------------------------------------------


def _person(user_id: str) -> str:
    return f"<@{user_id}>" if _USER_ID.fullmatch(user_id) else (piece(user_id, 40) or "someone")


def _targets_words(text: str, covers: tuple[str, ...] = ()) -> str:
    """A default as its instances' names (ids read worse), or `all` with what it covers now."""
    if text.lower() != ALL_TARGETS:
        kept = text.split(",")
        names = covers if len(covers) == len(kept) else tuple(kept)
        return bold(piece(", ".join(names), 300))
    words = f"{bold(ALL_TARGETS)} (every instance this channel may see"
    if covers:
        names = [piece(n, NAME_LIMIT) for n in covers[:MAX_LISTED_COVERED]]
        if len(covers) > MAX_LISTED_COVERED:
            names.append(plural(len(covers) - MAX_LISTED_COVERED, "more"))
        words += ": now " + ", ".join(names)
    return words + ")"


def _now_line(view: ChannelDefaultView) -> str:
    if view.slack is not None:
        what = _targets_words(view.slack.text, view.covers)
        line = (
            f"This channel's default is {what}, set here by {_person(view.slack.set_by)} on "
            f"{date_token(view.slack.set_at)}."
        )
        if view.config and view.config.lower() != view.slack.text.lower():
            line += f" It overrides the config file's {bold(piece(view.config, NAME_LIMIT))}."
        return line
    if view.config:
        return (
            f"This channel's default is {bold(piece(view.config, NAME_LIMIT))}, from the bot's "
            "config file."
        )
    return (
        "This channel has no default instance: a bare "
        f"{command_example(view.command)} shows help, and a window alone asks which instance."
    )


def _how_to_change(view: ChannelDefaultView) -> str:
    command = view.command
    if not view.settable:
        return (
            "A channel sets its own default in Slack with "
            f"{command_example(f'{command} default {view.example}')}."
        )
    verb = "Set another" if view.effective else "Set one"
    line = f"{verb} with {command_example(f'{command} default {view.example}')}"
    if view.slack is not None:
        back = "the config file's" if view.config else "no default"
        line += f", or go back to {back} with {command_example(f'{command} default clear')}"
    return line + "."


def render_channel_default(view: ChannelDefaultView) -> dict[str, Any]:
    """What `default …` did and the channel's default now, with how to change it."""
    command = view.command
    lines: list[str]
    # view.change is a DefaultChange, a StrEnum: compared by value, so that the renderer needs
    # nothing of the use case's module but its shape.
    if view.change == "set" and view.slack is not None:
        first = f"This channel's default is now {_targets_words(view.slack.text, view.covers)}."
        its = "their" if view.slack.text.lower() == ALL_TARGETS or "," in view.slack.text else "its"
        lines = [
            first,
            f"{command_example(f'{command} last 1h')} shows {its} last hour, and "
            f"{command_example(command)} alone {its} last 24 h, for everyone here.",
        ]
        if view.config and view.config.lower() != view.slack.text.lower():
            lines.append(
                f"It takes the place of the config file's {bold(piece(view.config, NAME_LIMIT))}"
                f" until {command_example(f'{command} default clear')}."
            )
    elif view.change == "cleared":
        removed = view.removed.text if view.removed else "default"
        first = f"Removed this channel's default {_targets_words(removed)}."
        lines = [first, _now_line(view), _how_to_change(view)]
    elif view.change == "nothing-to-clear":
        first = "This channel has no default set here to clear."
        lines = [first, _now_line(view), _how_to_change(view)]
    else:
        first = _now_line(view)
        lines = [first, _how_to_change(view)]
    fallback = re.sub(r"[*`]", "", first.split(" (every")[0])
    return checked(
        slack_message(fallback, [section_block(BlockId.NOTICE, "\n".join(lines))]), "default"
    )
