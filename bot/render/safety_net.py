"""Every message is checked against Block Kit's limits before it leaves the renderer."""

from __future__ import annotations

from typing import Any

from bot.blockkit import checked_message
from bot.ids import BlockId

FALLBACK_BLOCK_ID = BlockId.NOTICE.unique("fallback")


def checked(message: dict[str, Any], about: str) -> dict[str, Any]:
    """`message`, or a notice naming `about` in its place when Slack would reject it (Slack then
    shows the user nothing at all, which is worse than a notice)."""
    return checked_message(message, about, fallback_block_id=FALLBACK_BLOCK_ID)
