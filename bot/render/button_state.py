"""The value a button carries: the query it stands for (and the task, for Params), encoded."""

from __future__ import annotations

import logging

from bot.domain.query import TaskQuery
from bot.grammar.state import encode_state

log = logging.getLogger(__name__)


def button_state(query: TaskQuery, *, task_id: str | None = None) -> str | None:
    """The encoded state, or None when it cannot be encoded.

    A None value makes `button_element` leave the button out: one button that cannot be sent
    would otherwise make Slack reject the whole message.
    """
    try:
        return encode_state(query, task_id=task_id)
    except (ValueError, TypeError):
        log.warning("could not encode a button state", exc_info=True)
        return None
