"""The same messages for a terminal: plain text, one line per row, buttons numbered in order.

Nothing here builds a message; it reads finished ones, so the terminal shows exactly what Slack
would, and `demo` can press a button by the number shown next to it.
"""

from __future__ import annotations

import re
from typing import Any

from bot.blockkit import iter_elements, strip_code_guards, unescape

# `<target|label>` or `<target>`: links, channel and user mentions, `<!here>`-style specials.
_LINK = re.compile(r"<([^<>|]*)\|([^<>]*)>|<([^<>]*)>")


def _plain_mrkdwn(text: str) -> str:
    def link(match: re.Match[str]) -> str:
        if match.group(1) is not None:
            if match.group(1).startswith("!date^"):
                # A date token: its fallback is what a terminal (or an old client) shows.
                return match.group(2)
            return f"{match.group(2)} ({match.group(1)})"
        target = match.group(3)
        if target.startswith(("#", "@")):
            return target
        if target.startswith("!"):
            return f"@{target[1:]}"
        return target

    text = strip_code_guards(_LINK.sub(link, text))
    lines = [line for line in text.split("\n") if line.strip() != "```"]
    return unescape("\n".join(lines).replace("```", ""))


def message_buttons(message: dict[str, Any]) -> list[dict[str, Any]]:
    """The message's buttons in the order they appear, as numbered by `render_text`."""
    return [e for e in iter_elements(message) if e.get("type") == "button"]


def render_text(message: dict[str, Any]) -> str:
    """The message for a terminal: one line per row, buttons as `[1] Params` in message order."""
    lines: list[str] = []
    number = 0

    def label(element: dict[str, Any]) -> str:
        nonlocal number
        number += 1
        return f"[{number}] {element.get('text', {}).get('text', '')}"

    blocks = message.get("blocks") or []
    if not blocks:
        return _plain_mrkdwn(str(message.get("text", "")))
    for block in blocks:
        kind = block.get("type")
        if kind in ("section", "header"):
            text = _plain_mrkdwn((block.get("text") or {}).get("text", ""))
            fields = [_plain_mrkdwn(f.get("text", "")) for f in block.get("fields") or []]
            body = "\n".join([t for t in [text, *fields] if t.strip()])
            accessory = block.get("accessory")
            if isinstance(accessory, dict) and accessory.get("type") == "button":
                body += f"   {label(accessory)}"
            lines.append(body)
        elif kind == "context":
            lines.append(
                " · ".join(_plain_mrkdwn(e.get("text", "")) for e in block.get("elements", []))
            )
        elif kind == "actions":
            lines.append(
                "  ".join(label(e) for e in block.get("elements", []) if e.get("type") == "button")
            )
        elif kind == "divider":
            lines.append("—" * 20)
    return "\n".join(lines)
