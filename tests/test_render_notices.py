"""Refusals, problems and unknown instances: say what happened and what to do next."""

from __future__ import annotations

from bot.render import (
    render_problem,
    render_refusal,
    render_text,
    render_unknown_instance,
    shared_copy,
)
from bot.report import Problem, Refusal, UnknownInstance
from tests.render_builders import all_text, assert_valid, sketch_report


def test_refusal_links_the_allowed_channels() -> None:
    message = render_refusal(Refusal("prod-orders", ("C01KAFKA", "C02ORDERS")))
    text = message["blocks"][0]["text"]["text"]
    assert text == "I can't show prod-orders here. It is available in <#C01KAFKA> and <#C02ORDERS>."
    assert_valid(message)


def test_refusal_without_channels_points_to_an_admin() -> None:
    text = render_text(render_refusal(Refusal("prod-orders")))
    assert "Ask an admin to grant this channel access in the bot's config." in text


def test_refusal_for_people_only_does_not_point_to_this_channel() -> None:
    message = render_refusal(Refusal("audit", ("C01KAFKA",), people_only=True))
    text = message["blocks"][0]["text"]["text"]
    assert "limited to certain people" in text
    assert "<#C01KAFKA>" not in text
    assert_valid(message)


def test_refusal_never_links_a_made_up_channel() -> None:
    dumped = all_text(render_refusal(Refusal("<!channel>", ("not a channel>",))))
    assert "<!channel>" not in dumped
    assert "<#not" not in dumped


def test_ids_with_a_trailing_newline_are_not_turned_into_links() -> None:
    assert "<#C01KAFKA\n>" not in all_text(render_refusal(Refusal("x", ("C01KAFKA\n",))))
    copy = shared_copy(sketch_report(), "U0ALICE\n")
    assert "<@" not in all_text(copy)


def test_problem_shows_summary_reference_hint_and_example() -> None:
    problem = Problem(
        summary="Huawei Cloud rejected the bot's credentials.",
        hint="An admin should check HUAWEICLOUD_SDK_AK / HUAWEICLOUD_SDK_SK.",
        reference="APIGW.0301, request 5c3a",
        example="/dms-tasks prod-orders last 1h",
    )
    message = render_problem(problem)
    assert_valid(message)
    text = render_text(message)
    assert "credentials (APIGW.0301, request 5c3a)." in text
    assert "An admin should check" in text
    assert "Try: `/dms-tasks prod-orders last 1h`" in text


def test_unknown_instance_suggests_and_gives_an_example() -> None:
    message = render_unknown_instance(
        UnknownInstance(
            "prod-ordres", ("prod-orders", "prod-orders-dr"), "/dms-tasks prod-orders last 1h"
        )
    )
    assert_valid(message)
    text = render_text(message)
    assert 'I don\'t know an instance called "prod-ordres".' in text
    assert "Did you mean prod-orders or prod-orders-dr?" in text
    assert "Try: `/dms-tasks prod-orders last 1h`" in text
