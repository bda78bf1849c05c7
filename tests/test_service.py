"""The use cases against the real client, cache and simulator over loopback HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pydantic import SecretStr

from bot.blockkit import check_message
from bot.domain.durations import MIN_SAMPLES, overdue_tasks, typical_durations
from bot.domain.query import Anchor, TimeWindow, refreshed
from bot.domain.tasks import Task
from bot.grammar.state import ButtonState, decode_state, encode_state
from bot.grammar.words import QueryError
from bot.ids import ActionId
from bot.render import message_buttons, render_outcome, render_text
from bot.report import (
    HelpView,
    ParamsView,
    Problem,
    Refusal,
    TaskReport,
    UnknownInstance,
    WhichInstance,
)
from bot.runtime import Runtime
from bot.service import Requester
from bot.settings import Settings, with_simulator
from bot.simulator import (
    DEMO_IAM_DOMAIN,
    DEMO_IAM_PASSWORD,
    DEMO_IAM_USER,
    DEMO_PROJECT_ID,
    DEMO_REGION,
    DEMO_SK,
    Faults,
    RunningSimulator,
    SimulatorConfig,
    start_simulator,
)

UTC_ZONE = ZoneInfo("UTC")
ONCALL = Requester(channel_id="C_ONCALL", user_id="U1", tz=ZoneInfo("Europe/Berlin"))
RANDOM = Requester(channel_id="C_RANDOM", user_id="U1", tz=UTC_ZONE)


def task(**fields: Any) -> Task:
    return Task.model_validate(fields)


def at(minutes: int) -> str:
    return (datetime(2026, 11, 28, 12, 0, tzinfo=UTC) + timedelta(minutes=minutes)).isoformat()


def test_typical_durations_need_three_successes() -> None:
    storage = [
        task(id=str(i), name="extendStorage", status="SUCCESS", created_at=at(0), updated_at=at(m))
        for i, m in enumerate([4, 5, 6, 5])
    ]
    restart = task(id="x", name="restart", status="SUCCESS", created_at=at(0), updated_at=at(1))
    tasks = (*storage, restart)
    ranges = typical_durations(tasks)
    assert set(ranges) == {"extendStorage"}
    assert timedelta(minutes=4) <= ranges["extendStorage"].low <= ranges["extendStorage"].high
    assert ranges["extendStorage"].high <= timedelta(minutes=6)


def test_running_task_is_overdue_only_far_past_its_usual_range() -> None:
    history = tuple(
        task(id=str(i), name="extendStorage", status="SUCCESS", created_at=at(0), updated_at=at(5))
        for i in range(3)
    )
    typical = typical_durations(history)
    running = (
        task(id="slow", name="extendStorage", status="EXECUTING", created_at=at(0)),
        task(id="fresh", name="extendStorage", status="EXECUTING", created_at=at(50)),
        task(id="unknown-long", name="mystery", status="EXECUTING", created_at=at(-180)),
        task(id="unknown-short", name="mystery", status="EXECUTING", created_at=at(30)),
        task(
            id="done", name="extendStorage", status="SUCCESS", created_at=at(-300), updated_at=at(0)
        ),
    )
    now = datetime.fromisoformat(at(60))
    flagged = overdue_tasks(running, typical, now)
    assert set(flagged) == {"slow", "unknown-long"}
    assert flagged["slow"] is not None and flagged["unknown-long"] is None


def test_refresh_moves_windows_anchored_to_now_and_keeps_fixed_ones() -> None:
    begin = datetime(2026, 11, 28, 11, 0, tzinfo=UTC)
    end = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
    later = datetime(2026, 11, 28, 12, 30, 15, 999, tzinfo=UTC)
    moved = refreshed(TimeWindow(begin, end, "last 1 h", Anchor.SLIDING), later)
    assert (moved.begin, moved.end) == (
        begin + timedelta(minutes=30, seconds=15),
        later.replace(microsecond=0),
    )
    grown = refreshed(TimeWindow(begin, end, "since 11:00", Anchor.GROWING), later)
    assert (grown.begin, grown.end) == (begin, later.replace(microsecond=0))
    today = TimeWindow(begin, end, "today", Anchor.GROWING)
    assert refreshed(today, later).end == later.replace(microsecond=0)
    fixed = TimeWindow(begin, end, "between 11:00 and 12:00")
    assert refreshed(fixed, later) == fixed
    assert refreshed(TimeWindow(begin, end, "yesterday"), later).end == end
    # The anchor is a field of the window, not a guess from its label.
    pinned = TimeWindow(begin, end, "last 1 h", Anchor.FIXED)
    assert refreshed(pinned, later) == pinned


@pytest.fixture
async def sim() -> AsyncIterator[RunningSimulator]:
    async with start_simulator(SimulatorConfig(bulk_tasks=400)) as running:
        yield running


def instance_id(sim: RunningSimulator, name: str) -> str:
    return next(i.instance_id for i in sim.instances if i.name == name)


def make_settings(sim: RunningSimulator, config: str | None, tmp_path: Path) -> Settings:
    path = None
    if config is not None:
        path = tmp_path / "bot.toml"
        path.write_text(config, encoding="utf-8")
    base = Settings.model_validate(
        {
            "DMS_BOT_CONFIG": str(path) if path else None,
            "DMS_RETRY_BUDGET": 0.5,
            "DMS_TIMEOUT": 2,
        }
    )
    return with_simulator(base, sim.url)


@pytest.fixture
async def open_runtime(sim: RunningSimulator, tmp_path: Path) -> AsyncIterator[Runtime]:
    runtime = Runtime(make_settings(sim, None, tmp_path), with_slack=False)
    yield runtime
    await runtime.stop()


@pytest.fixture
async def ruled_runtime(sim: RunningSimulator, tmp_path: Path) -> AsyncIterator[Runtime]:
    config = f"""
[instances.prod-orders]
instance_id = "{instance_id(sim, "prod-orders")}"
channels = ["C_ONCALL"]
[instances.billing]
instance_id = "{instance_id(sim, "prod-billing")}"
channels = ["C_ONCALL", "C_BILLING"]
[instances.events]
instance_id = "{instance_id(sim, "staging-events")}"
[instances.audit]
instance_id = "{instance_id(sim, "bulk-audit")}"
channels = ["C_ONCALL"]
users = ["U_LEAD"]
[channels.C_ONCALL]
default_instance = "prod-orders"
[cloud_users]
U_LEAD = "lead.ops"
"""
    runtime = Runtime(make_settings(sim, config, tmp_path), with_slack=False)
    yield runtime
    await runtime.stop()


def window_tasks(sim: RunningSimulator, name: str, report: TaskReport) -> list[dict[str, Any]]:
    inst = next(i for i in sim.instances if i.name == name)
    begin, end = report.query.window.begin, report.query.window.end
    return [
        t
        for t in inst.tasks
        if begin <= datetime.fromisoformat(t["created_at"].replace("Z", "+00:00")) < end
    ]


async def test_name_resolves_and_counts_cover_the_whole_window(
    sim: RunningSimulator, open_runtime: Runtime
) -> None:
    outcome = await open_runtime.service.command("bulk-audit last 2d limit=25", ONCALL)
    assert isinstance(outcome, TaskReport), outcome
    expected = window_tasks(sim, "bulk-audit", outcome)
    assert outcome.window_total == len(expected) > 25
    assert outcome.matched == len(expected)
    assert len(outcome.page_tasks) == 25
    assert outcome.pages == -(-len(expected) // 25)
    assert outcome.instance.name == "bulk-audit"
    assert outcome.query.target == outcome.instance.instance_id


async def test_status_filter_pages_and_counts_on_our_side(
    sim: RunningSimulator, open_runtime: Runtime
) -> None:
    outcome = await open_runtime.service.command("bulk-audit last 7d status=failed limit=5", ONCALL)
    assert isinstance(outcome, TaskReport), outcome
    failed = [t for t in window_tasks(sim, "bulk-audit", outcome) if t["status"] == "FAILED"]
    assert outcome.matched == len(failed) > 5
    assert all(t.status_upper == "FAILED" for t in outcome.page_tasks)
    # The counts still describe the whole window, not just the matches.
    assert outcome.window_total > outcome.matched
    last = encode_state(
        type(outcome.query)(
            outcome.query.target,
            outcome.query.window,
            outcome.query.filters,
            outcome.query.limit,
            outcome.pages,
        )
    )
    final = await open_runtime.service.press(ActionId.NEXT, ButtonState.decode(last), ONCALL)
    assert isinstance(final, TaskReport)
    assert final.page == outcome.pages and final.requested_page is None
    seen = len(final.page_tasks) + (outcome.pages - 1) * 5
    assert seen == len(failed)


async def test_page_turn_reuses_the_window_and_is_served_from_cache(
    sim: RunningSimulator, open_runtime: Runtime
) -> None:
    first = await open_runtime.service.command("prod-orders last 7d limit=5", ONCALL)
    assert isinstance(first, TaskReport) and first.pages > 1
    calls = sim.stats["list_tasks"]
    nxt = encode_state(
        type(first.query)(first.query.target, first.query.window, first.query.filters, 5, 2)
    )
    second = await open_runtime.service.press(ActionId.NEXT, ButtonState.decode(nxt), ONCALL)
    assert isinstance(second, TaskReport)
    assert second.query.window == first.query.window
    assert second.page == 2 and second.from_cache
    assert sim.stats["list_tasks"] == calls
    assert {t.id for t in second.page_tasks}.isdisjoint({t.id for t in first.page_tasks})


async def test_typo_in_name_suggests_the_closest(open_runtime: Runtime) -> None:
    outcome = await open_runtime.service.command("prod-ordres last 1h", ONCALL)
    assert isinstance(outcome, UnknownInstance)
    assert outcome.suggestions[0] == "prod-orders"
    assert outcome.example.startswith("/dms-tasks prod-orders")


async def test_unknown_instance_id_reports_the_api_error(open_runtime: Runtime) -> None:
    outcome = await open_runtime.service.command(
        "00000000-0000-4000-8000-000000000000 last 1h", ONCALL
    )
    assert isinstance(outcome, Problem)
    assert "DMS.00404022" in outcome.reference
    assert "request" in outcome.reference


async def test_bad_text_becomes_a_problem_with_an_example(open_runtime: Runtime) -> None:
    outcome = await open_runtime.service.command("prod-orders last 5x", ONCALL)
    assert isinstance(outcome, Problem)
    assert "5x" in outcome.summary and outcome.example.startswith("/dms-tasks prod-orders")


async def test_api_down_becomes_a_problem(sim: RunningSimulator, open_runtime: Runtime) -> None:
    sim.set_faults(Faults(error_first=1000))
    outcome = await open_runtime.service.command("prod-orders last 1h", ONCALL)
    assert isinstance(outcome, Problem)
    assert "DMS.00500000" in outcome.reference


async def test_params_come_from_the_listing(sim: RunningSimulator, open_runtime: Runtime) -> None:
    report = await open_runtime.service.command("prod-orders last 7d limit=100", ONCALL)
    assert isinstance(report, TaskReport)
    chosen = next(t for t in report.page_tasks if t.has_params)
    state = encode_state(report.query, task_id=chosen.id)
    view = await open_runtime.service.press(ActionId.PARAMS, ButtonState.decode(state), ONCALL)
    assert isinstance(view, ParamsView)
    assert view.task == chosen
    assert decode_state(state)[0] == view.query


async def test_channel_default_and_help_list_only_visible_instances(
    ruled_runtime: Runtime,
) -> None:
    outcome = await ruled_runtime.service.command("last 1h", ONCALL)
    assert isinstance(outcome, TaskReport), outcome
    assert outcome.instance.alias == "prod-orders"
    billing_only = Requester(channel_id="C_BILLING", user_id="U2", tz=UTC_ZONE)
    view = await ruled_runtime.service.command("", billing_only)
    assert isinstance(view, HelpView)
    assert view.instances == ("billing",)
    view = await ruled_runtime.service.command("help", ONCALL)
    assert isinstance(view, HelpView)
    assert view.instances == ("prod-orders", "billing")
    assert view.restricted
    nowhere = await ruled_runtime.service.command("help", RANDOM)
    assert isinstance(nowhere, HelpView) and nowhere.instances == ()


async def test_channel_without_access_is_refused_without_data(
    sim: RunningSimulator, ruled_runtime: Runtime
) -> None:
    calls = sim.stats["list_tasks"]
    outcome = await ruled_runtime.service.command("prod-orders last 1h", RANDOM)
    assert outcome == Refusal("prod-orders", ("C_ONCALL",))
    raw_id = instance_id(sim, "staging-events")
    outcome = await ruled_runtime.service.command(f"{raw_id} last 1h", ONCALL)
    assert isinstance(outcome, Refusal)
    outcome = await ruled_runtime.service.command("staging-events last 1h", ONCALL)
    assert isinstance(outcome, UnknownInstance)
    # Once rules exist, an alias without one is no allowance.
    outcome = await ruled_runtime.service.command("events last 1h", ONCALL)
    assert outcome == Refusal("events", ())
    # The channel is right but the instance is limited to certain people.
    outcome = await ruled_runtime.service.command("audit last 1h", ONCALL)
    assert outcome == Refusal("audit", ("C_ONCALL",), people_only=True)
    assert sim.stats["list_tasks"] == calls
    lead = Requester(channel_id="C_ONCALL", user_id="U_LEAD", tz=UTC_ZONE)
    assert isinstance(await ruled_runtime.service.command("audit last 1h", lead), TaskReport)


async def test_tampered_button_value_cannot_widen_access(
    sim: RunningSimulator, ruled_runtime: Runtime
) -> None:
    billing = Requester(channel_id="C_BILLING", user_id="U2", tz=UTC_ZONE)
    report = await ruled_runtime.service.command("billing last 1d", billing)
    assert isinstance(report, TaskReport), report
    for target in ("prod-orders", instance_id(sim, "prod-orders"), "staging-events"):
        forged = encode_state(
            type(report.query)(target, report.query.window, report.query.filters, 10, 1)
        )
        outcome = await ruled_runtime.service.press(
            ActionId.NEXT, ButtonState.decode(forged), billing
        )
        assert isinstance(outcome, Refusal | UnknownInstance), (target, outcome)
    # A damaged value never reaches the service: the Slack edge decodes it, once.
    with pytest.raises(QueryError, match="damaged or out of date"):
        ButtonState.decode('{"v": 1, "t": [')


def test_runtime_with_secret_settings_has_no_secret_in_repr(
    sim: RunningSimulator, tmp_path: Path
) -> None:
    settings = make_settings(sim, None, tmp_path)
    assert isinstance(settings.sk, SecretStr)
    runtime = Runtime(settings, with_slack=False)
    assert DEMO_SK not in repr(runtime)


async def test_open_help_lists_instance_names_and_ids_resolve_to_names(
    sim: RunningSimulator, open_runtime: Runtime
) -> None:
    view = await open_runtime.service.command("help", RANDOM)
    assert isinstance(view, HelpView)
    assert {"prod-orders", "bulk-audit", "edge-cases"} <= set(view.instances)
    raw = instance_id(sim, "prod-billing")
    report = await open_runtime.service.command(f"{raw.upper()} last 1d", RANDOM)
    assert isinstance(report, TaskReport), report
    assert report.instance.display_name == "prod-billing"
    assert report.query.target == raw


async def test_iam_password_settings_reach_the_api_with_a_token(sim: RunningSimulator) -> None:
    settings = Settings.model_validate(
        {
            "DMS_IAM_USERNAME": DEMO_IAM_USER,
            "DMS_IAM_PASSWORD": DEMO_IAM_PASSWORD,
            "DMS_IAM_DOMAIN": DEMO_IAM_DOMAIN,
            "DMS_IAM_ENDPOINT": sim.url,
            "HUAWEICLOUD_SDK_PROJECT_ID": DEMO_PROJECT_ID,
            "DMS_REGION": DEMO_REGION,
            "DMS_ENDPOINT": sim.url,
        }
    )
    runtime = Runtime(settings, with_slack=False)
    try:
        outcome = await runtime.service.command("prod-orders last 1d", ONCALL)
    finally:
        await runtime.stop()
    assert isinstance(outcome, TaskReport), outcome
    assert sim.stats["rejected_auth"] == 0


async def test_pasted_command_and_visible_labels_are_understood(open_runtime: Runtime) -> None:
    by_label = await open_runtime.service.command(
        '/dms-tasks prod-orders last 7d name="expand broker*"', ONCALL
    )
    by_name = await open_runtime.service.command("prod-orders last 7d name=extendStorage", ONCALL)
    assert isinstance(by_label, TaskReport) and isinstance(by_name, TaskReport)
    assert by_label.matched == by_name.matched > 0


async def test_bad_secret_key_costs_one_signature_for_an_instance_id(
    sim: RunningSimulator, tmp_path: Path
) -> None:
    settings = make_settings(sim, None, tmp_path).model_copy(update={"sk": SecretStr("wrong")})
    runtime = Runtime(settings, with_slack=False)
    try:
        raw = instance_id(sim, "prod-orders")
        outcome = await runtime.service.command(f"{raw} last 1h", ONCALL)
        assert isinstance(outcome, Problem) and "APIGW.0301" in outcome.reference
        assert sim.stats["rejected_auth"] == 1
        # Help does not hide the credential problem behind an empty instance list.
        outcome = await runtime.service.command("help", ONCALL)
        assert isinstance(outcome, Problem) and "APIGW.0301" in outcome.reference
    finally:
        await runtime.stop()


async def test_a_page_past_the_end_shows_the_last_and_says_so(open_runtime: Runtime) -> None:
    report = await open_runtime.service.command("prod-orders last 7d page=999", ONCALL)
    assert isinstance(report, TaskReport)
    assert report.page == report.pages and report.requested_page == 999
    text = render_text(render_outcome(report))
    assert f"Page {report.pages} of {report.pages} (there is no page 999" in text


async def test_running_task_is_compared_with_the_weeks_history(
    sim: RunningSimulator, open_runtime: Runtime
) -> None:
    report = await open_runtime.service.command("prod-orders last 6h status=running", ONCALL)
    assert isinstance(report, TaskReport), report
    [running] = report.page_tasks
    assert running.name == "extendStorage"
    assert "extendStorage" not in typical_durations(report.page_tasks)
    usual = report.overdue[running.id]
    assert usual is not None and usual.samples >= MIN_SAMPLES
    # The history and the window both come from the instance's synced view: a second command
    # moments later asks the cloud nothing.
    calls = sim.stats["list_tasks"]
    again = await open_runtime.service.command("prod-orders last 5h status=running", ONCALL)
    assert isinstance(again, TaskReport) and again.overdue[running.id] == usual
    assert sim.stats["list_tasks"] == calls


async def test_a_window_without_an_instance_asks_which_and_keeps_what_was_typed(
    ruled_runtime: Runtime,
) -> None:
    billing_only = Requester(channel_id="C_BILLING", user_id="U2", tz=UTC_ZONE)
    which = await ruled_runtime.service.command("last 6h status=failed", billing_only)
    assert isinstance(which, WhichInstance), which
    assert which.instances == ("billing",)
    assert which.query.filters.statuses == frozenset({"FAILED"})
    message = render_outcome(which)
    check_message(message)
    [pick] = [b for b in message_buttons(message) if b["action_id"].startswith("dms_pick")]
    assert pick["text"]["text"] == "billing"
    report = await ruled_runtime.service.press(
        ActionId.PICK_INSTANCE, ButtonState.decode(pick["value"]), billing_only
    )
    assert isinstance(report, TaskReport), report
    assert report.instance.alias == "billing"
    assert report.query.filters.statuses == frozenset({"FAILED"})
    assert report.query.window.label == "last 6 h"


async def test_a_bare_command_without_a_default_is_help(ruled_runtime: Runtime) -> None:
    billing_only = Requester(channel_id="C_BILLING", user_id="U2", tz=UTC_ZONE)
    assert isinstance(await ruled_runtime.service.command("  ", billing_only), HelpView)


async def test_user_me_is_the_requesters_cloud_user_name(ruled_runtime: Runtime) -> None:
    lead = Requester(channel_id="C_ONCALL", user_id="U_LEAD", tz=UTC_ZONE)
    report = await ruled_runtime.service.command("prod-orders last 7d user=me", lead)
    assert isinstance(report, TaskReport), report
    # The name, not "me", is what the buttons carry.
    assert report.query.filters.user == "lead.ops"
    unknown = await ruled_runtime.service.command("prod-orders last 7d user=me", ONCALL)
    assert isinstance(unknown, Problem)
    assert "[cloud_users]" in unknown.summary and ONCALL.user_id in unknown.summary
    assert unknown.example.startswith("/dms-tasks ")


async def test_digest_commands_without_a_store_point_to_slack_and_the_cli(
    open_runtime: Runtime,
) -> None:
    outcome = await open_runtime.service.command("digest add prod-orders at 09:00", ONCALL)
    assert isinstance(outcome, Problem)
    assert "managed in Slack" in outcome.summary
    assert "dms-tasks-bot digest list" in outcome.hint
    assert outcome.example == "/dms-tasks help"
