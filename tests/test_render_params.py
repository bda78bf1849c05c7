"""One task's params: the changes, the redacted JSON, and secrets that never leave."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.domain.query import TaskQuery
from bot.domain.tasks import Task
from bot.grammar.state import decode_state
from bot.ids import ActionId
from bot.redact import REDACTED
from bot.render import params_lines, render_params, render_report, render_text, shared_copy
from bot.report import ParamsView
from tests.render_builders import (
    INSTANCE,
    NOW,
    SECRET,
    WINDOW,
    ZONES,
    all_text,
    api_tasks,
    assert_valid,
    buttons_by_action,
    make_report,
    make_task,
    params_view,
    secret_fragments,
)


def test_params_view_shows_pairs_hidden_secrets_and_json() -> None:
    task = make_task(
        1,
        status="FAILED",
        minutes_ago=9,
        params={
            "old_retention_policy": "time_base",
            "new_retention_policy": "produce_reject",
            "origin_partitions": 3,
            "new_partitions": 6,
            "sasl_plain_password": SECRET,
            "topic": "orders",
        },
    )
    message = render_params(params_view(task))
    assert_valid(message)
    text = render_text(message)
    title = text.splitlines()[0]
    assert "Change retention policy" in title
    assert "prod-orders" in title and "13:58 CET" in title and "FAILED" in title
    assert "8abfa7b3…" in title
    assert "*Retention policy*: time based → reject production" in text
    assert "*Partitions*: 3 → 6" in text
    assert f"*sasl_plain_password*: {REDACTED} (hidden)" in text
    assert "*Topic*: orders" in text
    # The pretty JSON keeps the API's own words.
    assert '"topic": "orders"' in text and '"new_retention_policy": "produce_reject"' in text
    assert SECRET not in all_text(message)


def test_params_back_and_share_buttons() -> None:
    task = make_task(7, params={"a": 1})
    buttons = buttons_by_action(render_params(params_view(task)))
    back_query, back_task = decode_state(buttons[ActionId.BACK][0]["value"])
    assert back_query.page == 2 and not back_task
    share_query, share_task = decode_state(buttons[ActionId.SHARE][0]["value"])
    assert share_task == task.id and share_query.page == 2


def test_huge_params_are_cut_and_say_how_much() -> None:
    big = {"blob": "y" * 50_000, "token": SECRET}
    message = render_params(params_view(make_task(1, params=big)))
    assert_valid(message)
    text = render_text(message)
    assert "more characters not shown" in text
    assert SECRET not in all_text(message)


def test_non_json_params_are_shown_redacted() -> None:
    raw = f"topic=orders password={SECRET} mode=fast"
    message = render_params(params_view(make_task(1, params=raw)))
    assert_valid(message)
    text = render_text(message)
    assert "topic=orders" in text and "mode=fast" in text
    assert SECRET not in all_text(message)


def test_params_with_backticks_cannot_break_the_code_block() -> None:
    message = render_params(params_view(make_task(1, params={"note": "```<!channel>```"})))
    assert_valid(message)
    code = next(b["text"]["text"] for b in message["blocks"] if b["block_id"].endswith(":json"))
    assert code.startswith("```") and code.endswith("```")
    assert code.count("```") == 2
    assert "<!channel>" not in all_text(message)


def test_params_lines_pairs_keep_order_and_other_keys() -> None:
    lines = params_lines({"a": 1, "old_x": "o", "b": [1, 2], "new_x": "n"})
    assert lines == ["*a*: 1", "*x*: o → n", "*b*: [1, 2]"]


def test_params_lines_show_each_key_once_when_new_comes_first() -> None:
    lines = params_lines({"new_x": "n", "old_x": "o", "origin_y": 1, "new_y": 2})
    assert lines == ["*new_x*: n", "*old_x*: o", "*y*: 1 → 2"]


# ---- secrets never leave ---------------------------------------------------------------------


def test_secrets_never_appear_in_any_rendered_message() -> None:
    params = {
        "password": SECRET,
        "nested": {"kafka": [{"api_key": SECRET}, {"name": "ssl.key.password", "value": SECRET}]},
        "old_sasl_password": SECRET,
        "new_sasl_password": SECRET + "2",
        "jaas": f'PlainLoginModule required username="u" password="{SECRET}";',
    }
    task = make_task(1, params=params)
    for message in (
        render_report(make_report((task,))),
        render_params(params_view(task)),
        shared_copy(params_view(task), "U123"),
    ):
        assert SECRET not in all_text(message)
        assert SECRET not in render_text(message)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(api_tasks(0), st.sampled_from(ZONES))
def test_any_params_render_a_valid_message_without_secrets(task: Task, tz: ZoneInfo) -> None:
    view = ParamsView(
        instance=INSTANCE,
        query=TaskQuery(target="prod-orders", window=WINDOW),
        task=task,
        tz=tz,
        now=NOW,
    )
    message = render_params(view)
    assert_valid(message)
    dumped = all_text(message)
    for secret in secret_fragments((task,)):
        assert secret not in dumped


def test_params_show_the_full_task_id_to_copy() -> None:
    task = make_task(1, params={"a": 1})
    text = render_text(render_params(params_view(task)))
    assert f"task id `{task.id}`" in all_text(render_params(params_view(task)))
    assert task.id in text


def test_config_changes_read_as_lines_and_secret_ones_stay_hidden() -> None:
    params = {
        "kafka_configs": [
            {"name": "log.retention.hours", "origin_value": "72", "new_value": "48"},
            {"name": "auto.create.groups.enable", "value": "false"},
            {"name": "ssl.keystore.password", "origin_value": "old-pw", "new_value": "new-pw"},
        ]
    }
    lines = params_lines(params)
    assert "*log.retention.hours*: 72 → 48" in lines
    assert "*auto.create.groups.enable*: false" in lines
    assert f"*ssl.keystore.password*: {REDACTED} (hidden)" in lines
    assert not any("kafka_configs" in line for line in lines)
    shown = all_text(render_params(params_view(make_task(2, params=params))))
    assert "old-pw" not in shown and "new-pw" not in shown


def test_sasl_mechanism_and_username_show_and_the_password_does_not() -> None:
    params = {
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_username": "orders-app",
        "sasl_password": "pw",
    }
    lines = params_lines(params)
    assert lines == [
        "*SASL mechanism*: SCRAM-SHA-512",
        "*SASL user*: orders-app",
        f"*sasl_password*: {REDACTED} (hidden)",
    ]
