"""The dispatcher and the shared copy: any outcome becomes a valid message."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.render import message_buttons, render_outcome, render_text, shared_copy
from bot.report import HelpView, Problem, Refusal, UnknownInstance
from tests.render_builders import all_text, assert_valid, sketch_report, wild_text


def test_render_outcome_dispatches_on_type() -> None:
    assert "How to ask" in render_text(render_outcome(HelpView(command="/dms-tasks", instances=())))
    assert "can't show" in render_text(render_outcome(Refusal("x")))
    assert "Try:" in render_text(render_outcome(UnknownInstance("x", (), "/dms-tasks help")))
    assert "23 tasks" in render_text(render_outcome(sketch_report()))


def test_shared_copy_drops_buttons_and_credits_the_sharer() -> None:
    copy = shared_copy(sketch_report(), "U0ALICE")
    assert message_buttons(copy) == []
    assert "<@U0ALICE>" in all_text(copy)
    assert_valid(copy)


@settings(max_examples=100, deadline=None)
@given(
    st.one_of(
        st.builds(Refusal, wild_text, st.lists(wild_text, max_size=30).map(tuple)),
        st.builds(Problem, wild_text, wild_text, wild_text, wild_text),
        st.builds(
            UnknownInstance, wild_text, st.lists(wild_text, max_size=10).map(tuple), wild_text
        ),
        st.builds(HelpView, wild_text, st.lists(wild_text, max_size=60).map(tuple)),
    )
)
def test_any_other_outcome_renders_a_valid_message(outcome: Any) -> None:
    message = render_outcome(outcome)
    assert_valid(message)
    assert "<!" not in all_text(message)
