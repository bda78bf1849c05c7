"""The terminal front door: `try` runs one command, `demo` is a channel-like session whose
buttons are pressed by number. Both use the configured API or, with no cloud credentials, an
embedded simulator.

They call the same service and renderer as the Slack listeners, and decode a button's state
with the same `ButtonState`. What they skip, being no Slack request: signature checks, ack(),
the middleware (the Requester comes from --channel and --tz, not users.info), and Slack's own
limits on posting (Share prints the public copy instead of posting it)."""

from __future__ import annotations

import asyncio
import json
from typing import Any, TextIO
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.grammar.state import ButtonState
from bot.grammar.words import QueryError
from bot.ids import ActionId
from bot.render import message_buttons, render_outcome, render_problem, render_text, shared_copy
from bot.report import Problem, is_shareable
from bot.runtime import Runtime
from bot.service import Requester
from bot.settings import Settings, SettingsError

TERMINAL_USER = "UTERMINAL"


def slack_payload(message: dict[str, Any], response_type: str = "ephemeral") -> dict[str, Any]:
    return {"response_type": response_type, **message}


async def run_try(
    settings: Settings, text: str, *, as_json: bool, tz: str | None, channel: str, out: TextIO
) -> int:
    runtime = Runtime(settings, with_slack=False)
    try:
        zone = settings.timezone() if tz is None else _zone(tz)
        requester = Requester(channel_id=channel, user_id=TERMINAL_USER, tz=zone)
        outcome = await runtime.service.command(text, requester)
        message = render_outcome(outcome)
        if as_json:
            print(json.dumps(slack_payload(message), ensure_ascii=False, indent=2), file=out)
        else:
            print(render_text(message), file=out)
        return 1 if isinstance(outcome, Problem) else 0
    finally:
        await runtime.stop()


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise SettingsError(f"--tz {name!r} is not a time zone: use e.g. Europe/Berlin.") from exc


DEMO_FIRST_COMMAND = "prod-orders last 24h"


async def run_demo(
    settings: Settings, *, tz: str | None, channel: str, stdin: TextIO, out: TextIO
) -> int:
    runtime = Runtime(settings, with_slack=False)
    try:
        zone = settings.timezone() if tz is None else _zone(tz)
        requester = Requester(channel_id=channel, user_id=TERMINAL_USER, tz=zone)
        session = DemoSession(runtime, requester, out)
        print(
            f"dms-tasks demo: type a command as in Slack (e.g. {settings.command} prod-orders "
            f"last 1h, {settings.command} help), a button number to press it, or q to quit.\n",
            file=out,
        )
        print(f"> {settings.command} {DEMO_FIRST_COMMAND}", file=out)
        await session.command(DEMO_FIRST_COMMAND)
        while True:
            print("> ", end="", file=out, flush=True)
            line = await asyncio.to_thread(stdin.readline)
            if not line:
                print(file=out)
                return 0
            line = line.strip()
            if line.lower() in {"q", "quit", "exit"}:
                return 0
            if not line:
                continue
            if line.isdigit():
                await session.press(int(line))
            else:
                # The service reads a pasted command name as the slash command's own.
                await session.command(line)
    finally:
        await runtime.stop()


class DemoSession:
    """One channel's worth of state: the message on screen and its buttons."""

    def __init__(self, runtime: Runtime, requester: Requester, out: TextIO) -> None:
        self._runtime = runtime
        self._requester = requester
        self._out = out
        self._message: dict[str, Any] | None = None

    def _show(self, message: dict[str, Any], title: str) -> None:
        self._message = message
        print(f"\n── {title} ──\n{render_text(message)}\n", file=self._out)

    async def command(self, text: str) -> None:
        outcome = await self._runtime.service.command(text, self._requester)
        self._show(render_outcome(outcome), "only visible to you")

    async def press(self, number: int) -> None:
        buttons = message_buttons(self._message) if self._message else []
        if not 1 <= number <= len(buttons):
            print(f"There is no button {number} on the message above.", file=self._out)
            return
        button = buttons[number - 1]
        action = ActionId.parse(button["action_id"])
        assert action is not None, "the renderer only makes buttons of ours"
        if action in (ActionId.WATCH, ActionId.WATCH_STOP):
            # A watch posts a message of its own in Slack and edits it as the task moves on.
            print(
                "Watch works in Slack: it posts a message and edits it until the task ends. "
                "Here, Refresh shows the task now.",
                file=self._out,
            )
            return
        try:
            state = ButtonState.decode(button.get("value", ""))
        except QueryError as exc:
            self._show(render_problem(Problem(summary=exc.message)), "only visible to you")
            return
        outcome = await self._runtime.service.press(action, state, self._requester)
        message = render_outcome(outcome)
        if action is ActionId.SHARE and is_shareable(outcome):
            copy = shared_copy(outcome, self._requester.user_id)
            print(f"\n── posted in the channel ──\n{render_text(copy)}\n", file=self._out)
            return
        self._show(message, "only visible to you (updated in place)")
