"""The renderer: what the on-call engineer sees, and that Slack accepts it for any data."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.blockkit import FALLBACK_TEXT_LIMIT, MAX_BLOCKS, check_message, unescape
from bot.domain.durations import DurationRange
from bot.domain.instances import InstanceRef
from bot.domain.query import TaskFilters, TaskQuery, TimeWindow
from bot.domain.tasks import Task
from bot.grammar.parser import parse_command
from bot.grammar.state import decode_state
from bot.ids import ActionId, BlockId
from bot.redact import REDACTED
from bot.render import (
    message_buttons,
    params_lines,
    render_help,
    render_outcome,
    render_params,
    render_problem,
    render_refusal,
    render_report,
    render_text,
    render_unknown_instance,
    shared_copy,
)
from bot.report import HelpView, ParamsView, Problem, Refusal, TaskReport, UnknownInstance

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 1, 15, 13, 7, tzinfo=UTC)  # 14:07 CET
INSTANCE = InstanceRef(
    instance_id="4f1c9a70-5b1e-4c7a-9f1d-2a6b8c0de2a1",
    project_id="proj",
    region="cn-north-4",
    alias="prod-orders",
)
WINDOW = TimeWindow(begin=NOW - timedelta(hours=1), end=NOW, label="last 1 h")
SECRET = "hunter2-Zq9"


def make_task(
    n: int,
    *,
    name: str = "changeRetentionPolicy",
    status: str = "SUCCESS",
    minutes_ago: float = 10,
    took: float | None = 5,
    params: Any = "",
    user: str = "paas_dms",
) -> Task:
    created = NOW - timedelta(minutes=minutes_ago)
    return Task.model_validate(
        {
            "id": f"8abfa7b372160bfd01721658640640{n:02d}",
            "name": name,
            "user_name": user,
            "user_id": "3df5acbc24a54fadb62a043c9000a307",
            "params": params if isinstance(params, str) else json.dumps(params),
            "status": status,
            "created_at": created.isoformat().replace("+00:00", "Z"),
            "updated_at": (created + timedelta(seconds=took)).isoformat() if took else None,
        }
    )


def make_report(
    tasks: tuple[Task, ...],
    *,
    counts: dict[str, int] | None = None,
    page: int = 1,
    pages: int = 1,
    filters: TaskFilters | None = None,
    matched: int | None = None,
    overdue: dict[str, DurationRange | None] | None = None,
    from_cache: bool = False,
    fetched_at: datetime = NOW,
    limit: int = 10,
) -> TaskReport:
    if counts is None:
        counts = {}
        for task in tasks:
            counts[task.status_upper] = counts.get(task.status_upper, 0) + 1
    query = TaskQuery(
        target="prod-orders",
        window=WINDOW,
        filters=filters or TaskFilters(),
        limit=limit,
        page=page,
    )
    return TaskReport(
        instance=INSTANCE,
        query=query,
        tz=BERLIN,
        now=NOW,
        window_counts=counts,
        matched=len(tasks) if matched is None else matched,
        page_tasks=tasks,
        pages=pages,
        fetched_at=fetched_at,
        from_cache=from_cache,
        overdue=overdue or {},
    )


def all_text(message: dict[str, Any]) -> str:
    return json.dumps(message, ensure_ascii=False)


def buttons_by_action(message: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for button in message_buttons(message):
        found.setdefault(button["action_id"].split(":", 1)[0], []).append(button)
    return found


def assert_valid(message: dict[str, Any]) -> None:
    check_message(message)
    json.dumps(message, ensure_ascii=False).encode("utf-8")  # no lone surrogates
    assert len(message["blocks"]) <= MAX_BLOCKS
    assert 0 < len(message["text"]) <= FALLBACK_TEXT_LIMIT
    assert not any(
        b.get("block_id", "").startswith(BlockId.NOTICE.unique("fallback"))
        for b in message["blocks"]
    ), "the renderer fell back to its error message"


SKETCH_TASKS = (
    make_task(
        1,
        status="FAILED",
        minutes_ago=9,
        took=5,
        params={"old_retention_policy": "time_base", "new_retention_policy": "produce_reject"},
    ),
    make_task(2, name="extendStorage", status="EXECUTING", minutes_ago=27, took=None, user="alice"),
    make_task(3, name="modifyAutoTopic", minutes_ago=36, took=1, params={"old_auto_status": 1}),
)


def sketch_report(**kwargs: Any) -> TaskReport:
    defaults: dict[str, Any] = {
        "counts": {"SUCCESS": 19, "FAILED": 2, "EXECUTING": 1, "CANCELLED": 1},
        "pages": 3,
        "matched": 23,
    }
    defaults.update(kwargs)
    return make_report(SKETCH_TASKS, **defaults)


# ---- the task list ---------------------------------------------------------------------------


def test_header_names_the_instance_short_id_and_window_in_both_zones() -> None:
    message = render_report(sketch_report())
    header = message["blocks"][0]["text"]["text"]
    assert "prod-orders" in header
    assert "4f1c…e2a1" in header
    assert "13:07" in header and "14:07" in header  # UTC and Berlin
    assert "CET" in header and "UTC" in header
    assert_valid(message)


def test_counts_cover_the_whole_window_not_the_page() -> None:
    message = render_report(sketch_report())
    counts = message["blocks"][1]["text"]["text"]
    assert "23 tasks" in counts
    assert "✅ 19 succeeded" in counts
    assert "❌ 2 failed" in counts
    assert "⏳ 1 running" in counts
    assert "🚫 1 cancelled" in counts
    # Counts come before the rows.
    assert message["blocks"][2]["block_id"].startswith(BlockId.TASK)


def test_filtered_reports_say_how_many_match() -> None:
    report = sketch_report(filters=TaskFilters(statuses=frozenset({"FAILED"})), matched=2)
    counts = render_report(report)["blocks"][1]["text"]["text"]
    assert "23 tasks" in counts
    assert "2 match status=failed" in counts


def test_rows_show_emoji_label_user_local_start_and_duration() -> None:
    text = render_text(render_report(sketch_report()))
    lines = text.splitlines()
    failed = next(line for line in lines if "Change retention policy" in line)
    assert failed.startswith("❌")
    assert "paas_dms" in failed
    assert "13:58 (9 min ago)" in failed  # 12:58 UTC in Berlin
    assert "took 5 s" in failed
    running = next(line for line in lines if "Expand broker storage" in line)
    assert running.startswith("⏳")
    assert "running for 27 min" in running
    assert "⚠" not in running
    done = next(line for line in lines if "Modify auto topic creation" in line)
    assert done.startswith("✅")


def test_overdue_running_tasks_are_flagged_with_their_usual_range() -> None:
    usual = DurationRange(low=timedelta(minutes=4), high=timedelta(minutes=6), samples=8)
    report = sketch_report(overdue={SKETCH_TASKS[1].id: usual})
    running = next(
        line for line in render_text(render_report(report)).splitlines() if "Expand" in line
    )
    assert "⚠ usually 4" in running and "6 min" in running


def test_overdue_without_history_says_far_too_long() -> None:
    report = sketch_report(overdue={SKETCH_TASKS[1].id: None})
    assert "⚠ running far too long" in render_text(render_report(report))


def test_times_follow_the_readers_zone() -> None:
    report = make_report((SKETCH_TASKS[0],))
    tokyo = TaskReport(**{**report.__dict__, "tz": ZoneInfo("Asia/Tokyo")})
    text = render_text(render_report(tokyo))
    assert "21:58 (9 min ago)" in text
    assert "JST" in text


def test_first_page_has_next_but_no_prev() -> None:
    buttons = buttons_by_action(render_report(sketch_report(page=1, pages=3)))
    assert ActionId.PREV not in buttons
    assert ActionId.NEXT in buttons
    assert ActionId.REFRESH in buttons
    assert ActionId.SHARE in buttons


def test_last_page_has_prev_but_no_next() -> None:
    buttons = buttons_by_action(render_report(sketch_report(page=3, pages=3)))
    assert ActionId.PREV in buttons
    assert ActionId.NEXT not in buttons


def test_single_page_has_neither_and_no_page_line() -> None:
    message = render_report(make_report(SKETCH_TASKS))
    buttons = buttons_by_action(message)
    assert ActionId.PREV not in buttons and ActionId.NEXT not in buttons
    assert "Page 1 of 1" not in render_text(message)


def test_page_line_shows_position() -> None:
    assert "Page 2 of 3" in render_text(render_report(sketch_report(page=2, pages=3)))


def test_button_values_decode_to_the_expected_pages() -> None:
    message = render_report(sketch_report(page=2, pages=3))
    buttons = buttons_by_action(message)
    prev_query, prev_task = decode_state(buttons[ActionId.PREV][0]["value"])
    next_query, _ = decode_state(buttons[ActionId.NEXT][0]["value"])
    refresh_query, _ = decode_state(buttons[ActionId.REFRESH][0]["value"])
    share_query, share_task = decode_state(buttons[ActionId.SHARE][0]["value"])
    assert (prev_query.page, next_query.page, refresh_query.page, share_query.page) == (1, 3, 2, 2)
    assert not prev_task and not share_task
    assert prev_query.target == "prod-orders"
    assert prev_query.window.begin == WINDOW.begin and prev_query.window.end == WINDOW.end


def test_params_buttons_only_on_rows_with_params_and_carry_the_task_id() -> None:
    empty = make_task(4, params="{}")
    report = make_report((*SKETCH_TASKS, empty))
    message = render_report(report)
    params = buttons_by_action(message)[ActionId.PARAMS]
    task_ids = [decode_state(b["value"])[1] for b in params]
    assert task_ids == [SKETCH_TASKS[0].id, SKETCH_TASKS[2].id]
    rows = [b for b in message["blocks"] if b["block_id"].startswith(BlockId.TASK)]
    assert [("accessory" in b) for b in rows] == [True, False, True, False]


def test_show_failed_and_running_button_when_there_are_problems_and_no_status_filter() -> None:
    buttons = buttons_by_action(render_report(sketch_report()))
    query, _ = decode_state(buttons[ActionId.SHOW_PROBLEMS][0]["value"])
    assert query.filters.statuses == {"FAILED", "EXECUTING"}
    assert query.page == 1
    filtered = sketch_report(filters=TaskFilters(statuses=frozenset({"FAILED"})), matched=2)
    assert ActionId.SHOW_PROBLEMS not in buttons_by_action(render_report(filtered))
    calm = make_report((make_task(1),))
    assert ActionId.SHOW_PROBLEMS not in buttons_by_action(render_report(calm))


def test_action_ids_are_unique_and_from_the_enum() -> None:
    message = render_report(sketch_report(page=2, pages=3))
    ids = [b["action_id"] for b in message_buttons(message)]
    assert len(ids) == len(set(ids))
    assert all(any(ActionId(a.split(":")[0]) == e for e in ActionId) for a in ids)


def test_footer_says_how_fresh_the_data_is() -> None:
    cached = render_text(
        render_report(sketch_report(from_cache=True, fetched_at=NOW - timedelta(seconds=12)))
    )
    assert "fetched 12 s ago (cached)" in cached
    assert "times in CET" in cached
    # The zone may be the default because Slack did not say: the footer does not claim it is theirs.
    assert "your Slack" not in cached
    fresh = render_text(render_report(sketch_report(from_cache=False)))
    assert "fetched just now" in fresh


def test_empty_window_says_so() -> None:
    message = render_report(make_report((), counts={}, matched=0))
    assert "No tasks in this window" in render_text(message)
    assert_valid(message)


def test_no_match_names_the_filter_and_the_total() -> None:
    report = make_report(
        (),
        counts={"SUCCESS": 23},
        matched=0,
        filters=TaskFilters(statuses=frozenset({"FAILED"})),
    )
    text = render_text(render_report(report))
    assert "No tasks match status=failed in this window; 23 tasks in total" in text


def test_top_level_text_summarises() -> None:
    text = render_report(sketch_report())["text"]
    assert "prod-orders" in text and "23 tasks" in text and "2 failed" in text


def test_unknown_status_and_name_render_readably() -> None:
    odd = make_task(1, name="kafkaTopicMigrateAcrossAz", status="PAUSED")
    text = render_text(render_report(make_report((odd,))))
    assert "❔" in text
    assert "Topic migrate across az" in text
    assert "(paused)" in text
    assert "1 paused" in text


def test_hostile_user_names_are_escaped() -> None:
    hostile = (
        make_task(1, user="<!channel> & co"),
        make_task(2, user="<https://evil.example|click>"),
        make_task(3, user="<@U123>"),
    )
    message = render_report(make_report(hostile))
    dumped = all_text(message)
    assert "<!channel>" not in dumped
    assert "<https://evil" not in dumped
    assert "<@U123>" not in dumped
    assert "&lt;!channel&gt;" in dumped
    assert "&amp;" in dumped
    assert_valid(message)


@pytest.mark.parametrize("when", ["0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z"])
def test_timestamps_at_the_edge_of_the_calendar_still_render(when: str) -> None:
    task = Task.model_validate(
        {"id": "t", "name": "x", "status": "FAILED", "created_at": when, "updated_at": when}
    )
    report = make_report((task,))
    for tz in (ZoneInfo("America/New_York"), ZoneInfo("Asia/Tokyo")):
        message = render_report(TaskReport(**{**report.__dict__, "tz": tz}))
        assert_valid(message)
        assert "took 0 s" in render_text(message)


def test_hostile_instance_and_window_labels_are_escaped() -> None:
    instance = InstanceRef(instance_id="x", project_id="p", region="r", alias="<!here>")
    report = make_report((make_task(1),))
    report = TaskReport(**{**report.__dict__, "instance": instance})
    dumped = all_text(render_report(report))
    assert "<!here>" not in dumped


def test_a_page_of_100_long_names_packs_rows_and_keeps_every_params_button() -> None:
    tasks = tuple(make_task(n, name="x" * 200, user="u" * 200, params={"a": n}) for n in range(100))
    message = render_report(make_report(tasks, limit=100))
    assert_valid(message)
    params = buttons_by_action(message)[ActionId.PARAMS]
    assert len(params) == 100
    assert [decode_state(b["value"])[1] for b in params] == [t.id for t in tasks]
    assert "N more" not in render_text(message)
    assert render_text(message).count("Params") >= 100


# ---- params ----------------------------------------------------------------------------------


def params_view(task: Task) -> ParamsView:
    return ParamsView(
        instance=INSTANCE,
        query=TaskQuery(target="prod-orders", window=WINDOW, page=2),
        task=task,
        tz=BERLIN,
        now=NOW,
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
    assert "retention policy*: time_base → produce_reject" in text
    assert "partitions*: 3 → 6" in text
    assert f"sasl_plain_password*: {REDACTED} (hidden)" in text
    assert "topic*: orders" in text
    assert '"topic": "orders"' in text  # the pretty JSON
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
        shared_copy(render_params(params_view(task)), "U123"),
    ):
        assert SECRET not in all_text(message)
        assert SECRET not in render_text(message)


# ---- other outcomes --------------------------------------------------------------------------


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
    copy = shared_copy(render_report(sketch_report()), "U0ALICE\n")
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


def test_help_gives_examples_first_then_grammar_and_only_visible_instances() -> None:
    message = render_help(HelpView(command="/dms-tasks", instances=("billing", "prod-orders")))
    assert_valid(message)
    text = render_text(message)
    first_block = message["blocks"][0]["text"]["text"]
    assert first_block.count("/dms-tasks billing") == 3
    assert text.index("/dms-tasks billing last 1h") < text.index("How to ask")
    assert "Instances you can use here:* billing, prod-orders" in text


def test_help_examples_are_commands_the_grammar_reads() -> None:
    message = render_help(HelpView(command="/dms-tasks", instances=("prod-orders",)))
    examples = re.findall(r"`/dms-tasks ([^`]*)`", message["blocks"][0]["text"]["text"])
    assert len(examples) == 3
    for example in examples:
        query = parse_command(unescape(example), now=NOW, tz=BERLIN)
        assert isinstance(query, TaskQuery)
        assert query.target == "prod-orders"


def test_help_window_forms_are_ones_the_grammar_reads() -> None:
    grammar = render_help(HelpView(command="/dms-tasks", instances=()))["blocks"][1]["text"]["text"]
    line = next(x for x in grammar.splitlines() if "*window*" in x)
    for form in re.findall(r"`([^`]*)`", line):
        assert isinstance(parse_command(f"x {form}", now=NOW, tz=BERLIN), TaskQuery), form


def test_help_without_instances_uses_a_placeholder() -> None:
    text = render_text(render_help(HelpView(command="/dms-tasks", instances=())))
    assert "/dms-tasks prod-orders last 1h" in text


def test_render_outcome_dispatches_on_type() -> None:
    assert "How to ask" in render_text(render_outcome(HelpView(command="/dms-tasks", instances=())))
    assert "can't show" in render_text(render_outcome(Refusal("x")))
    assert "Try:" in render_text(render_outcome(UnknownInstance("x", (), "/dms-tasks help")))
    assert "23 tasks" in render_text(render_outcome(sketch_report()))


def test_shared_copy_drops_buttons_and_credits_the_sharer() -> None:
    copy = shared_copy(render_report(sketch_report()), "U0ALICE")
    assert message_buttons(copy) == []
    assert "<@U0ALICE>" in all_text(copy)
    assert_valid(copy)


# ---- the terminal ----------------------------------------------------------------------------


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


# ---- any data at all -------------------------------------------------------------------------

STATUSES = ["SUCCESS", "FAILED", "EXECUTING", "CREATED", "CANCELLED", "DELETED", "", "weird"]
ZONES = [ZoneInfo(z) for z in ("UTC", "Europe/Berlin", "Asia/Kolkata", "Pacific/Chatham")]
pieces = st.one_of(
    st.characters(codec="utf-8"),
    st.sampled_from(
        [
            "&",
            "<",
            ">",
            "`",
            "```",
            "*",
            "😀",
            "\u0301",
            "\u200d",
            "👨‍👩‍👧",
            "\n",
            "\ud83d",
            "&amp;",
        ]
    ),
)
# Short strings, and long ones around the 200 characters DMS allows for names.
wild_text = st.one_of(
    st.lists(pieces, max_size=30).map("".join),
    st.lists(pieces, min_size=150, max_size=200).map("".join),
)
secret_values = st.text(alphabet="ABCDEFGH", min_size=6, max_size=10).map(lambda s: "Sx9" + s)


@st.composite
def api_params(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from(["empty", "json", "text", "huge"]))
    if kind == "empty":
        return ""
    if kind == "text":
        return draw(wild_text) + f" password={draw(secret_values)}"
    doc = draw(
        st.dictionaries(
            st.one_of(st.sampled_from(["old_x", "new_x", "origin_y", "new_y"]), wild_text),
            st.one_of(wild_text, st.integers(), st.booleans(), st.lists(st.integers())),
            max_size=8,
        )
    )
    doc["sasl_password"] = draw(secret_values)
    doc["nested"] = {"token": draw(secret_values)}
    if kind == "huge":
        doc["blob"] = (draw(wild_text) or "z") * (50_000 // 200)
    return json.dumps(doc, ensure_ascii=draw(st.booleans()))


@st.composite
def api_tasks(draw: st.DrawFn, n: int) -> Task:
    created = NOW - timedelta(seconds=draw(st.integers(min_value=-600, max_value=90 * 86400)))
    body: dict[str, Any] = {
        "id": draw(st.one_of(st.text(alphabet="0123456789abcdef", max_size=40), wild_text))
        + f"-{n}",
        "name": draw(st.one_of(wild_text, st.sampled_from(["modifyAutoTopic", "kafkaXyzAbc"]))),
        "user_name": draw(wild_text),
        "params": draw(api_params()),
        "status": draw(st.one_of(st.sampled_from(STATUSES), wild_text)),
        "created_at": draw(
            st.one_of(
                st.none(),
                st.just(created.isoformat()),
                st.datetimes(timezones=st.just(UTC)).map(lambda d: d.isoformat()),
            )
        ),
        "updated_at": draw(
            st.one_of(
                st.none(),
                st.just((created + timedelta(seconds=draw(st.integers(0, 10**6)))).isoformat()),
            )
        ),
    }
    return Task.model_validate(body)


@st.composite
def reports(draw: st.DrawFn) -> TaskReport:
    # A few drawn tasks repeated (with distinct ids) up to a full page of 100: drawing 100
    # independent tasks makes each example slow without finding anything new.
    distinct = [draw(api_tasks(n)) for n in range(draw(st.integers(min_value=0, max_value=6)))]
    count = draw(st.sampled_from([0, 1, 10, 45, 100])) if distinct else 0
    tasks = tuple(
        distinct[n % len(distinct)].model_copy(
            update={"id": f"{distinct[n % len(distinct)].id}.{n}"}
        )
        for n in range(count)
    )
    pages = draw(st.integers(min_value=1, max_value=10**6))
    page = draw(st.integers(min_value=1, max_value=pages))
    counts = draw(
        st.dictionaries(
            st.one_of(st.sampled_from(STATUSES), wild_text),
            st.integers(min_value=0, max_value=10**9),
            max_size=40,
        )
    )
    filters = TaskFilters(
        statuses=frozenset(draw(st.lists(st.sampled_from(STATUSES[:6]), max_size=3))),
        name_glob=draw(st.one_of(st.none(), wild_text)),
        user=draw(st.one_of(st.none(), wild_text)),
    )
    instance = InstanceRef(
        instance_id=draw(wild_text) or "i",
        project_id="p",
        region="r",
        alias=draw(st.one_of(st.none(), wild_text)),
        name=draw(st.one_of(st.none(), wild_text)),
    )
    window = TimeWindow(begin=NOW - timedelta(days=90), end=NOW, label=draw(wild_text) or "x")
    overdue: dict[str, DurationRange | None] = {}
    for task in tasks:
        if draw(st.booleans()):
            seconds = draw(st.integers(0, 10**6))
            overdue[task.id] = draw(
                st.one_of(
                    st.none(),
                    st.just(
                        DurationRange(timedelta(seconds=seconds), timedelta(seconds=seconds * 2), 3)
                    ),
                )
            )
    return TaskReport(
        instance=instance,
        query=TaskQuery(
            target=draw(wild_text) or None,
            window=window,
            filters=filters,
            limit=100,
            page=page,
        ),
        tz=draw(st.sampled_from(ZONES)),
        now=NOW,
        window_counts=counts,
        matched=draw(st.integers(min_value=0, max_value=10**9)),
        page_tasks=tasks,
        pages=pages,
        fetched_at=NOW - timedelta(seconds=draw(st.integers(0, 10**6))),
        from_cache=draw(st.booleans()),
        overdue=overdue,
    )


def secret_fragments(tasks: tuple[Task, ...]) -> list[str]:
    return [
        word
        for task in tasks
        for word in task.params_raw.replace('"', " ").replace("=", " ").split()
        if word.startswith("Sx9")
    ]


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(reports())
def test_any_report_renders_a_valid_message_without_secrets(report: TaskReport) -> None:
    message = render_report(report)
    assert_valid(message)
    dumped = all_text(message)
    for secret in secret_fragments(report.page_tasks):
        assert secret not in dumped
    shown = sum(1 for b in message_buttons(message) if b["action_id"].startswith(ActionId.PARAMS))
    assert shown <= len(report.page_tasks)
    render_text(message)
    assert_valid(shared_copy(message, "U1"))


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


@pytest.mark.parametrize("count", [40, 44, 45, 46, 60, 100])
def test_block_budget_holds_around_the_packing_threshold(count: int) -> None:
    tasks = tuple(make_task(n, params={"a": 1}) for n in range(count))
    message = render_report(make_report(tasks, pages=5, page=3, limit=100))
    assert_valid(message)
    assert len(buttons_by_action(message)[ActionId.PARAMS]) == count
