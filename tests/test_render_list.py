"""The task list: what the on-call engineer sees first, and that Slack accepts it for any data."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.blockkit import MAX_POSTED_BLOCKS_TEXT, blocks_text_len, check_posted_message
from bot.domain.durations import DurationRange
from bot.domain.instances import InstanceRef
from bot.domain.query import TaskFilters, TaskQuery, TimeWindow
from bot.domain.tasks import Task
from bot.grammar.state import decode_state
from bot.ids import ActionId, BlockId
from bot.render import message_buttons, render_report, render_text, shared_copy
from bot.report import TaskReport
from tests.render_builders import (
    NOW,
    SKETCH_TASKS,
    STATUSES,
    WINDOW,
    ZONES,
    all_text,
    api_tasks,
    assert_valid,
    buttons_by_action,
    make_report,
    make_task,
    secret_fragments,
    sketch_report,
    wild_text,
)


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
    assert "⏳" in text
    assert "Topic migrate across az" in text
    assert "(paused)" in text
    assert "1 paused" in text


def test_an_undocumented_status_is_in_progress_not_done() -> None:
    rolling = make_task(1, status="ROLLING_BACK", minutes_ago=12, took=240)
    report = make_report((rolling,))
    text = render_text(render_report(report))
    assert "in progress for 12 min" in text
    assert "took" not in text
    [show] = buttons_by_action(render_report(report))[ActionId.SHOW_PROBLEMS]
    query, _ = decode_state(show["value"])
    assert "ROLLING_BACK" in query.filters.statuses


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


# ---- any data at all -------------------------------------------------------------------------


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
    copy = shared_copy(report, "U1")
    assert_valid(copy)
    check_posted_message(copy)
    for secret in secret_fragments(report.page_tasks):
        assert secret not in all_text(copy)


@pytest.mark.parametrize("count", [40, 44, 45, 46, 60, 100])
def test_block_budget_holds_around_the_packing_threshold(count: int) -> None:
    tasks = tuple(make_task(n, params={"a": 1}) for n in range(count))
    message = render_report(make_report(tasks, pages=5, page=3, limit=100))
    assert_valid(message)
    assert len(buttons_by_action(message)[ActionId.PARAMS]) == count


def test_a_shared_copy_of_a_full_page_stays_under_the_posted_size_and_says_what_it_left_out() -> (
    None
):
    long_name = "kafkaResetConsumerOffsetAcrossEveryPartitionOfTopic" * 2
    tasks = tuple(
        make_task(n, name=f"{long_name}{n}", user="u" * 40, params={"a": 1}) for n in range(100)
    )
    report = make_report(tasks, pages=1, page=1, limit=100)
    private = render_report(report)
    assert blocks_text_len(private["blocks"]) > MAX_POSTED_BLOCKS_TEXT  # respond() takes it
    copy = shared_copy(report, "U1")
    check_posted_message(copy)
    assert "more tasks on this page not shown" in all_text(copy)
    assert "<!date^" in all_text(copy)


def test_tasks_running_since_before_the_window_are_marked_and_counted() -> None:
    before = make_task(1, name="extendStorage", status="EXECUTING", minutes_ago=180, took=None)
    inside = make_task(2, minutes_ago=10)
    report = replace(
        make_report((before, inside), counts={"SUCCESS": 1}), earlier_running=(before,)
    )
    text = render_text(render_report(report))
    assert "1 more task started before this window and is still running" in text
    [row] = [line for line in text.splitlines() if ", started before this window" in line]
    assert "⏳" in row and "running for 3 h" in row
    assert buttons_by_action(render_report(report))[ActionId.SHOW_PROBLEMS]


def test_an_answer_short_of_the_apis_count_says_so() -> None:
    tasks = tuple(make_task(n) for n in range(3))
    report = replace(make_report(tasks), reported_total=250)
    text = render_text(render_report(report))
    assert "Showing 3 of 250: the API returned fewer tasks than it counted" in text


def test_a_failed_look_back_is_said_not_hidden() -> None:
    report = replace(make_report((make_task(1),)), earlier_unknown=True)
    text = render_text(render_report(report))
    assert "could not check for tasks still running from before this window" in text
