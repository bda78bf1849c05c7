"""The terminal rendering: plain text, buttons numbered in message order."""

from __future__ import annotations

from bot.render import message_buttons, render_report, render_text
from tests.render_builders import make_report, make_task, sketch_report


def test_render_text_numbers_buttons_in_message_order() -> None:
    message = render_report(sketch_report(page=2, pages=3))
    text = render_text(message)
    buttons = message_buttons(message)
    for number, button in enumerate(buttons, start=1):
        assert f"[{number}] {button['text']['text']}" in text
    positions = [text.index(f"[{n}]") for n in range(1, len(buttons) + 1)]
    assert positions == sorted(positions)


def test_render_text_unescapes_mrkdwn() -> None:
    hostile = make_task(1, user="a & b <c>")
    assert "a & b <c>" in render_text(render_report(make_report((hostile,))))
