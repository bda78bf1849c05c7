"""`/dms-tasks help`: three real examples first, then the grammar, then only the instances this
channel may see."""

from __future__ import annotations

from typing import Any

from bot.blockkit import section_block, slack_message
from bot.domain.digests import ALL_TARGETS
from bot.domain.instances import RESERVED_WORDS
from bot.domain.query import MAX_WINDOW
from bot.grammar.words import DEFAULT_LABEL, MAX_LIMIT, MAX_TARGETS, MAX_VALUE
from bot.ids import BlockId
from bot.render.safety_net import checked
from bot.render.words import NAME_LIMIT, command_example, piece
from bot.report import HelpView

# The examples need an instance; with none known here, they show this placeholder, which any
# instance id replaces (ids work wherever there are no access rules).
EXAMPLE_INSTANCE = "<instance id>"
MAX_LISTED_INSTANCES = 30


def _listable(name: str) -> bool:
    """Whether a name can stand in a comma list as typed: one word, no comma or quote."""
    return (
        0 < len(name) <= MAX_VALUE
        and not any(c.isspace() or c in ",'\"“”‘’`" for c in name)
        and name.lower() not in RESERVED_WORDS
    )


def _several_line(command: str, visible: list[str]) -> str:
    examples = [f"{command} {ALL_TARGETS} last 1h"]
    pair = [i for i in visible if _listable(i)][:2]
    if len(pair) == 2:
        examples.append(f"{command} {','.join(pair)} since 09:00")
    return (
        f"• *several*: `{ALL_TARGETS}` (every instance you can use here) or up to "
        f"{MAX_TARGETS} joined by commas, in one timeline: "
        + " or ".join(command_example(e) for e in examples)
    )


def _default_line(command: str, target: str) -> str:
    """How a channel picks what a bare command means; the example is one the channel can use."""
    typeable = target.lower() == ALL_TARGETS or all(_listable(p) for p in target.split(","))
    example = target if typeable else ALL_TARGETS
    return (
        "• *this channel's default*: "
        + command_example(f"{command} default {example}")
        + " makes a bare command (or a window alone) mean it here, for everyone; "
        + command_example(f"{command} default")
        + " shows it, "
        + command_example(f"{command} default clear")
        + " removes it"
    )


def _beyond_lines(command: str, target: str) -> str:
    """Digests, alerts, Watch and threads, with examples the channel can use."""
    typeable = target.lower() == ALL_TARGETS or all(_listable(p) for p in target.split(","))
    example = target if typeable else ALL_TARGETS
    return "\n".join(
        [
            "*Beyond one answer:*",
            "• *daily digest* in this channel: "
            + command_example(f"{command} digest add {example} at 09:00")
            + ", then "
            + command_example(f"{command} digest list")
            + " or "
            + command_example(f"{command} digest preview {example}"),
            "• *failure alerts* posted here: "
            + command_example(f"{command} alert add {example} stuck")
            + ", "
            + command_example(f"{command} alert list"),
            "• *Watch* on a running task follows it in a message of its own and tells you when "
            "it ends",
            "• *in a thread*: mention the bot with the same text, e.g. "
            + command_example(f"@dms-tasks-bot {example} last 1h"),
        ]
    )


def render_help(help_view: HelpView) -> dict[str, Any]:
    visible = [i for i in help_view.instances if i.strip()]
    if help_view.restricted and not visible:
        # Help tells the truth: no example would work in this channel.
        text = (
            "None of the bot's Kafka instances is available in this channel. Ask an admin to "
            "add this channel to an instance's `channels` in the bot's config, or use the "
            "command in a channel that has one."
        )
        return checked(slack_message(text, [section_block(BlockId.NOTICE, text)]), "help")
    example_instance = help_view.default_instance or (visible[0] if visible else EXAMPLE_INSTANCE)
    target = " ".join(example_instance.split())
    command = help_view.command
    examples = [
        (f"{command} {target} last 1h", "every task of the last hour"),
        (f"{command} {target} today status=failed", "what failed today"),
        (
            f"{command} {target} since 09:00 status=failed,running user=alice",
            "alice's failed and running tasks since 09:00",
        ),
    ]
    example_lines = "\n".join(f"• {command_example(c)}  {d}" for c, d in examples)
    grammar = "\n".join(
        [
            "*How to ask:*  "
            + command_example(f"{command} [instance] [window] [filters] [options]"),
            (
                "• *instance*: one of those below"
                if help_view.restricted
                else "• *instance*: an alias below, an instance name or an instance id"
            )
            + (
                f" (here it defaults to {piece(help_view.default_instance, NAME_LIMIT)})"
                if help_view.default_instance
                else ""
            ),
            _several_line(command, visible),
            "• *window*: `last 90m`, `last 6h`, `last 2d`, `today`, `yesterday`, `since 09:00`, "
            "`since yesterday 18:00`, `between 09:00 and 11:30`, `between 2026-01-05 and "
            f"2026-01-07` (your Slack time zone; at most {MAX_WINDOW.days} days; "
            f"default: {DEFAULT_LABEL})",
            "• *filters*: `status=failed,running` (succeeded, failed, running, queued, cancelled, "
            "deleted), `name=offset` (part of the task name) or `name=*Topic*`, `user=alice`",
            f"• *options*: `limit=25` (tasks per page, up to {MAX_LIMIT}), `page=2`",
            _default_line(command, help_view.default_instance or target),
        ]
    )
    if visible:
        names = [piece(i, NAME_LIMIT) for i in visible[:MAX_LISTED_INSTANCES]]
        if len(visible) > MAX_LISTED_INSTANCES:
            names.append(f"and {len(visible) - MAX_LISTED_INSTANCES} more")
        instances = "*Instances you can use here:* " + ", ".join(names)
    else:
        instances = (
            "*Instances you can use here:* any your credentials can see, by instance id (the "
            "bot could not list their names)."
        )
    blocks: list[dict[str, Any] | None] = [
        section_block(BlockId.HEADER, f"*Kafka background tasks, for example:*\n{example_lines}"),
        section_block(BlockId.NOTICE, grammar),
        section_block(BlockId.NOTICE.unique("beyond"), _beyond_lines(command, target)),
        section_block(BlockId.FOOTER, instances),
    ]
    return checked(slack_message(f"How to use {piece(command, 40)}", blocks), "help")
