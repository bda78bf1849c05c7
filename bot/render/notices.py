"""Answers that are not task data: a refusal, a problem, an instance name nobody knows.

Each is one section that says what happened and what to do next; none of them fails silently.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from bot.blockkit import actions_block, button_element, section_block, slack_message
from bot.ids import ActionId, BlockId
from bot.render.button_state import button_state
from bot.render.safety_net import checked
from bot.render.words import NAME_LIMIT, command_example, join_words, piece, plural
from bot.report import Problem, Refusal, UnknownInstance, WhichInstance

MAX_LISTED_CHANNELS = 10

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
