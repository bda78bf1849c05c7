"""Several instances at once (`all`, `prod-a,prod-b`): the grammar, the use cases through the
real service, cache and client against the simulator, and the messages with adversarial data.

The simulator has no per-instance fault, so the failing instance is an alias whose instance id
the simulator does not know: its task list answers 404 (DMS.00404022), as a deleted instance
would, while the others answer."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot import timeline as timeline_module
from bot.blockkit import MAX_BUTTON_VALUE, check_posted_message, slack_len
from bot.dms.errors import DmsErrorKind, DmsOperation, DmsUnavailableError
from bot.domain.digests import ALL_TARGETS
from bot.domain.instances import InstanceRef
from bot.domain.query import Anchor, TaskFilters, TaskQuery, TimeWindow
from bot.domain.tasks import Task, parse_api_time
from bot.grammar.parser import parse_command
from bot.grammar.state import ButtonState
from bot.grammar.words import (
    MAX_TARGETS,
    SHARED_VALUES_BUDGET,
    QueryError,
    shared_values_cost,
)
from bot.ids import ActionId
from bot.render import message_buttons, render_help, render_outcome, render_text, shared_copy
from bot.report import (
    HelpView,
    InstancePart,
    NotShown,
    ParamsView,
    Problem,
    Refusal,
    TaskReport,
    TimelineReport,
    TimelineRow,
)
from bot.runtime import Runtime
from bot.service import Requester
from bot.simulator import RunningSimulator, SimulatorConfig, start_simulator
from bot.timeline import MAX_CONCURRENT_READS
from tests.render_builders import NOW as RENDER_NOW
from tests.render_builders import assert_valid, make_task
from tests.test_service import instance_id, make_settings

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime.fromisoformat("2026-11-28T13:07:00+00:00")
ONCALL = Requester(channel_id="C_ONCALL", user_id="U1", tz=BERLIN)
LEAD = Requester(channel_id="C_ONCALL", user_id="U_LEAD", tz=BERLIN)
BILLING = Requester(channel_id="C_BILLING", user_id="U2", tz=BERLIN)
RANDOM = Requester(channel_id="C_RANDOM", user_id="U1", tz=BERLIN)
GHOST_ID = "00000000-0000-4000-8000-00000000dead"


def parse(text: str) -> TaskQuery:
    parsed = parse_command(text, now=NOW, tz=BERLIN)
    assert isinstance(parsed, TaskQuery), text
    return parsed


def example_of(text: str) -> tuple[str, str]:
    with pytest.raises(QueryError) as caught:
        parse_command(text, now=NOW, tz=BERLIN)
    parse(caught.value.example)  # every example parses
    return caught.value.message, caught.value.example


# ---- grammar ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "targets", "target"),
    [
        ("all last 1h", (ALL_TARGETS,), None),
        ("ALL since 09:00 status=failed", (ALL_TARGETS,), None),
        ("prod-orders,all last 1h", (ALL_TARGETS,), None),
        ("prod-a,prod-b since 09:00", ("prod-a", "prod-b"), None),
        ("prod-a,PROD-A,prod-b,", ("prod-a", "prod-b"), None),
        ("prod-a,,prod-b today", ("prod-a", "prod-b"), None),
        ("prod-a,prod-a last 1h", (), "prod-a"),
        # Quoted, it is an instance called "all" (no alias may be called so).
        ("'all' last 1h", (), "all"),
        # A comma followed by a space is punctuation, as ever.
        ("prod-orders, last 1h.", (), "prod-orders"),
    ],
)
def test_the_target_may_be_all_or_a_comma_list(
    text: str, targets: tuple[str, ...], target: str | None
) -> None:
    parsed = parse(text)
    assert (parsed.targets, parsed.target) == (targets, target)
    state = ButtonState.of(parsed)
    assert ButtonState.decode(state.encode()).query == parsed


def test_a_list_with_spaces_is_told_how_to_write_it_and_keeps_the_first() -> None:
    message, example = example_of("prod-a, prod-b last 1h")
    assert '"prod-a,prod-b"' in message
    assert example == "prod-a last 1h"


def test_list_errors_name_the_part_and_give_a_list_that_parses() -> None:
    message, example = example_of("prod-a,today,prod-b")
    assert '"today"' in message and example == "prod-a,prod-b today"
    message, example = example_of("prod-a,status=failed")
    assert example == "prod-a status=failed"
    many = ",".join(f"p{n}" for n in range(MAX_TARGETS + 5))
    message, example = example_of(f"{many} last 1h")
    assert f"at most {MAX_TARGETS}" in message and '"all"' in message
    assert parse(example).targets == tuple(f"p{n}" for n in range(MAX_TARGETS))


def test_a_list_too_long_for_the_buttons_is_refused_with_one_that_fits() -> None:
    names = ",".join(f"{n}" + "x" * 90 for n in range(8))
    message, example = example_of(f"{names} last 1h user=alice")
    assert "too long to carry" in message
    fitting = parse(example)
    assert 1 < len(fitting.targets) < 8 and fitting.filters.user == "alice"


def test_all_in_the_wrong_place_goes_first() -> None:
    assert example_of("last 1h status=failed all")[1] == "all last 1h status=failed"
    message, example = example_of("prod-orders last 1h all")
    assert "goes first" in message and example == "prod-orders last 1h"


def test_help_shows_all_and_a_list_that_parse() -> None:
    message = render_help(HelpView(command="/dms-tasks", instances=("billing", "prod-orders")))
    line = next(x for x in render_text(message).splitlines() if "several" in x)
    examples = [e for e in line.split("`") if e.startswith("/dms-tasks ")]
    assert [parse(e.removeprefix("/dms-tasks ")).targets for e in examples] == [
        (ALL_TARGETS,),
        ("billing", "prod-orders"),
    ]


# ---- the service against the simulator --------------------------------------------------------


@pytest.fixture
async def sim() -> AsyncIterator[RunningSimulator]:
    async with start_simulator(SimulatorConfig(bulk_tasks=400)) as running:
        yield running


def config_for(sim: RunningSimulator, extra: str = "") -> str:
    return f"""
[instances.prod-orders]
instance_id = "{instance_id(sim, "prod-orders")}"
channels = ["C_ONCALL"]
[instances.billing]
instance_id = "{instance_id(sim, "prod-billing")}"
channels = ["C_ONCALL", "C_BILLING"]
[instances.events]
instance_id = "{instance_id(sim, "staging-events")}"
channels = ["C_ONCALL"]
[instances.ghost]
instance_id = "{GHOST_ID}"
channels = ["C_ONCALL"]
[instances.audit]
instance_id = "{instance_id(sim, "bulk-audit")}"
channels = ["C_ONCALL"]
users = ["U_LEAD"]
[instances.dr]
instance_id = "{instance_id(sim, "prod-orders-dr")}"
channels = ["C_BILLING"]
[instances.norule]
instance_id = "{instance_id(sim, "edge-cases")}"
{extra}
"""


@pytest.fixture
async def runtime(sim: RunningSimulator, tmp_path: Path) -> AsyncIterator[Runtime]:
    running = Runtime(make_settings(sim, config_for(sim), tmp_path), with_slack=False)
    yield running
    await running.stop()


@pytest.fixture
async def open_runtime(sim: RunningSimulator, tmp_path: Path) -> AsyncIterator[Runtime]:
    running = Runtime(make_settings(sim, None, tmp_path), with_slack=False)
    yield running
    await running.stop()


SIM_NAMES = {
    "prod-orders": "prod-orders",
    "billing": "prod-billing",
    "events": "staging-events",
    "audit": "bulk-audit",
    "dr": "prod-orders-dr",
    "norule": "edge-cases",
}


def sim_tasks(sim: RunningSimulator, alias: str, report: TaskReport) -> list[dict[str, Any]]:
    inst = sim.instance(SIM_NAMES[alias])
    begin, end = report.query.window.begin, report.query.window.end
    return [t for t in inst.tasks if begin <= parse_api_time(t["created_at"]) < end]


def task_ids_of(sim: RunningSimulator, alias: str) -> set[str]:
    return {t["id"] for t in sim.instance(SIM_NAMES[alias]).tasks}


async def press(
    runtime: Runtime, message: dict[str, Any], prefix: str, requester: Requester = ONCALL
) -> Any:
    button = next(b for b in message_buttons(message) if b["action_id"].startswith(prefix))
    action = ActionId.parse(button["action_id"])
    assert action is not None
    return await runtime.service.press(action, ButtonState.decode(button["value"]), requester)


async def test_all_merges_every_instance_the_channel_may_see_newest_first(
    sim: RunningSimulator, runtime: Runtime
) -> None:
    report = await runtime.service.command("all last 1d limit=50", ONCALL)
    assert isinstance(report, TimelineReport), report
    assert report.everything and report.query.targets == (ALL_TARGETS,)
    # Aliases in config order; audit is limited to certain people, dr and norule elsewhere.
    assert [p.instance.alias for p in report.parts] == ["prod-orders", "billing", "events", "ghost"]
    readable = [p for p in report.parts if not p.unavailable]
    for part in readable:
        assert part.total == len(sim_tasks(sim, part.instance.alias or "", report))
    assert report.window_total == sum(p.total for p in readable)
    # The failing one is named with the reason people get for one instance, and why.
    [ghost] = report.unavailable
    assert ghost.instance.alias == "ghost" and "does not exist" in ghost.unavailable
    assert "DMS.00404022" in ghost.reference
    # Still running from before the window first, then newest first, across instances.
    flags = [r.started_earlier for r in report.rows]
    assert flags == sorted(flags, reverse=True)
    inside = [r.task.created_at for r in report.rows if not r.started_earlier]
    assert inside == sorted(inside, reverse=True)
    newest = sorted(
        (t for p in readable for t in sim_tasks(sim, p.instance.alias or "", report)),
        key=lambda t: parse_api_time(t["created_at"]),
        reverse=True,
    )
    shown = [r.task.id for r in report.rows if not r.started_earlier]
    assert shown == [t["id"] for t in newest[: len(shown)]]
    assert {r.instance.alias for r in report.rows} <= {"prod-orders", "billing", "events"}
    message = render_outcome(report)
    text = render_text(message)
    assert "All 4 instances" in text and "ghost* unavailable: " in text and "DMS.00404022" in text
    hidden = task_ids_of(sim, "audit") | task_ids_of(sim, "dr") | task_ids_of(sim, "norule")
    assert not any(task_id in str(message) for task_id in hidden)


async def test_all_for_someone_an_instance_is_limited_to_includes_it(runtime: Runtime) -> None:
    report = await runtime.service.command("all last 1h", LEAD)
    assert isinstance(report, TimelineReport)
    assert "audit" in [p.instance.alias for p in report.parts]


async def test_a_task_running_since_before_the_window_is_on_its_instance_row(
    runtime: Runtime,
) -> None:
    report = await runtime.service.command("all last 1h", ONCALL)
    assert isinstance(report, TimelineReport)
    earlier = [r for r in report.rows if r.started_earlier]
    storage = next(r for r in earlier if r.task.name == "extendStorage")
    assert storage.instance.alias == "prod-orders" and storage.overdue and storage.usual
    orders = next(p for p in report.parts if p.instance.alias == "prod-orders")
    assert orders.earlier >= 1 and not orders.earlier_unknown
    assert "started before this window" in render_text(render_outcome(report))


async def test_instances_are_read_concurrently_but_at_most_eight_at_once(
    sim: RunningSimulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ghosts = "\n".join(
        f'[instances.ghost{n}]\ninstance_id = "00000000-0000-4000-8000-0000000000{n:02d}"\n'
        'channels = ["C_MANY"]'
        for n in range(8)
    )
    many = config_for(sim, ghosts).replace('channels = ["C_ONCALL"]', 'channels = ["C_MANY"]')
    runtime = Runtime(make_settings(sim, many, tmp_path), with_slack=False)
    cache = runtime.service.cache
    original = cache.window
    active, peak = 0, 0

    async def slow(*args: Any) -> Any:
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        try:
            await asyncio.sleep(0.05)
            return await original(*args)
        finally:
            active -= 1

    monkeypatch.setattr(cache, "window", slow)
    try:
        report = await runtime.service.command("all last 1h", Requester("C_MANY", "U1", BERLIN))
    finally:
        await runtime.stop()
    assert isinstance(report, TimelineReport)
    # prod-orders, events and 9 instances the simulator does not know.
    assert len(report.parts) == 11 and len(report.unavailable) == 9
    assert peak == MAX_CONCURRENT_READS


async def test_listed_targets_that_cannot_be_shown_are_named_without_data(
    sim: RunningSimulator, runtime: Runtime
) -> None:
    report = await runtime.service.command(
        "prod-orders,billing,nope,audit,dr,norule,prod-ordres last 1d", ONCALL
    )
    assert isinstance(report, TimelineReport), report
    assert [p.instance.alias for p in report.parts] == ["prod-orders", "billing"]
    assert {n.label: n.reason for n in report.not_shown} == {
        "nope": "no such instance",
        "prod-ordres": "no such instance; did you mean prod-orders?",
        "audit": "limited to certain people",
        "dr": "not available in this channel",
        "norule": "not available in this channel",
    }
    # The buttons carry what resolved (a refusal is made again on every click), not typos.
    assert report.query.targets == ("prod-orders", "billing", "audit", "dr", "norule")
    message = render_outcome(report)
    assert "Not shown (5): " in render_text(message)
    hidden = task_ids_of(sim, "audit") | task_ids_of(sim, "dr") | task_ids_of(sim, "norule")
    assert not any(task_id in str(message) for task_id in hidden)
    nothing = await runtime.service.command("dr,nope last 1h", ONCALL)
    assert isinstance(nothing, Problem)
    assert nothing.summary.startswith("None of those instances can be shown here: dr (")


async def test_filters_and_pages_walk_the_merged_list_once_from_the_cache(
    sim: RunningSimulator, runtime: Runtime
) -> None:
    report = await runtime.service.command("all last 7d status=failed limit=3", BILLING)
    assert isinstance(report, TimelineReport), report
    expected = {
        (alias, t["id"])
        for alias in ("billing", "dr")
        for t in sim_tasks(sim, alias, report)
        if t["status"] == "FAILED"
    }
    assert report.matched == len(expected) > 3 and report.pages > 1
    calls = sim.stats["list_tasks"]
    seen: list[tuple[str | None, str]] = []
    message = render_outcome(report)
    while True:
        assert isinstance(report, TimelineReport)
        assert all(r.task.status_upper == "FAILED" for r in report.rows)
        assert report.query.window == report.query.window
        seen.extend((r.instance.alias, r.task.id) for r in report.rows)
        if not any(b["action_id"].startswith(ActionId.NEXT) for b in message_buttons(message)):
            break
        report = await press(runtime, message, ActionId.NEXT, BILLING)
        message = render_outcome(report)
    assert len(seen) == len(set(seen)) and set(seen) == expected
    assert sim.stats["list_tasks"] == calls


async def test_params_of_a_task_on_another_instance_and_back(runtime: Runtime) -> None:
    report = await runtime.service.command("all last 1d", ONCALL)
    assert isinstance(report, TimelineReport)
    message = render_outcome(report)
    first = report.rows[0].instance.alias
    params = [b for b in message_buttons(message) if b["action_id"].startswith(ActionId.PARAMS)]
    chosen = next(b for b in params if ButtonState.decode(b["value"]).query.on != first)
    state = ButtonState.decode(chosen["value"])
    row = next(r for r in report.rows if r.task.id == state.task_id)
    view = await runtime.service.press(ActionId.PARAMS, state, ONCALL)
    assert isinstance(view, ParamsView), view
    assert view.instance == row.instance and view.task == row.task
    shown = render_outcome(view)
    back = await press(runtime, shown, ActionId.BACK)
    assert isinstance(back, TimelineReport) and back.rows == report.rows
    shared = await press(runtime, shown, ActionId.SHARE)
    assert isinstance(shared, ParamsView) and shared.instance == row.instance
    check_posted_message(shared_copy(shared, "U1"))


async def test_refresh_show_problems_and_share_keep_every_instance(runtime: Runtime) -> None:
    report = await runtime.service.command("all last 1d", ONCALL)
    assert isinstance(report, TimelineReport)
    message = render_outcome(report)
    fresh = await press(runtime, message, ActionId.REFRESH)
    assert isinstance(fresh, TimelineReport)
    assert fresh.query.window.end >= report.query.window.end
    assert [p.instance for p in fresh.parts] == [p.instance for p in report.parts]
    problems = await press(runtime, message, ActionId.SHOW_PROBLEMS)
    assert isinstance(problems, TimelineReport) and problems.query.filters.statuses
    assert all(r.task.status_upper != "SUCCESS" for r in problems.rows)
    shared = await press(runtime, message, ActionId.SHARE)
    assert isinstance(shared, TimelineReport)
    copy = shared_copy(shared, "U1")
    check_posted_message(copy)
    assert not [b for b in copy["blocks"] if b["type"] == "actions"]
    assert "ghost* unavailable" in render_text(copy)


async def test_every_click_checks_every_instance_again(
    sim: RunningSimulator, runtime: Runtime
) -> None:
    report = await runtime.service.command("all last 1d", ONCALL)
    assert isinstance(report, TimelineReport)
    message = render_outcome(report)
    # The same buttons pressed where nothing may be seen show nothing.
    elsewhere = await press(runtime, message, ActionId.NEXT, RANDOM)
    assert isinstance(elsewhere, Problem) and "No Kafka instance" in elsewhere.summary
    assert isinstance(await press(runtime, message, ActionId.PARAMS, RANDOM), Refusal)
    # In #billing, `all` means what #billing may see.
    there = await press(runtime, message, ActionId.NEXT, BILLING)
    assert isinstance(there, TimelineReport)
    assert [p.instance.alias for p in there.parts] == ["billing", "dr"]
    # Forged values: a list naming what the channel may not see, a task on another instance.
    window = report.query.window
    forged = ButtonState.of(TaskQuery(None, window, targets=("billing", "dr")))
    listed = await runtime.service.press(ActionId.NEXT, forged, ONCALL)
    assert isinstance(listed, TimelineReport)
    assert [p.instance.alias for p in listed.parts] == ["billing"]
    assert [(n.label, n.reason) for n in listed.not_shown] == [
        ("dr", "not available in this channel")
    ]
    dr_task = sim.instance("prod-orders-dr").tasks[0]["id"]
    for query in (
        TaskQuery(None, window, targets=("billing", "dr"), on="dr"),
        TaskQuery(None, window, targets=(ALL_TARGETS,), on="dr"),
        TaskQuery(None, window, targets=(ALL_TARGETS,), on=instance_id(sim, "prod-orders-dr")),
    ):
        state = ButtonState.of(query, task_id=dr_task)
        outcome = await runtime.service.press(ActionId.PARAMS, state, ONCALL)
        assert isinstance(outcome, Refusal), (query, outcome)
    stray = ButtonState.decode(
        ButtonState.of(TaskQuery(None, window, targets=("billing",)), task_id=dr_task)
        .encode()
        .replace('"g":"billing"', '"g":"billing","i":"dr"')
    )
    outcome = await runtime.service.press(ActionId.PARAMS, stray, ONCALL)
    assert isinstance(outcome, Problem) and "which instance" in outcome.summary


async def test_all_without_rules_is_every_instance_of_the_project_by_name(
    sim: RunningSimulator, open_runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    report = await open_runtime.service.command("all last 1d", RANDOM)
    assert isinstance(report, TimelineReport)
    names = [p.instance.name for p in report.parts]
    assert names == sorted(i.name for i in sim.instances)
    # Names typed resolve through the instance list; the buttons carry their ids.
    listed = await open_runtime.service.command("prod-orders,bulk-audit last 1h", RANDOM)
    assert isinstance(listed, TimelineReport)
    assert listed.query.targets == (instance_id(sim, "prod-orders"), instance_id(sim, "bulk-audit"))


async def test_all_says_why_the_projects_instances_could_not_be_listed(
    open_runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def unlisted(*args: Any) -> Any:
        raise DmsUnavailableError(
            kind=DmsErrorKind.SERVER_ERROR, operation=DmsOperation.LIST_INSTANCES, status=500
        )

    monkeypatch.setattr(open_runtime.service.cache, "instances", unlisted)
    outcome = await open_runtime.service.command("all last 1h", RANDOM)
    assert isinstance(outcome, Problem)
    assert "I could not list the project's instances: " in outcome.summary


async def test_a_list_whose_ids_the_buttons_could_not_carry_is_refused(
    open_runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Typed names are short; the ids they stand for take 36 characters each.
    monkeypatch.setattr(timeline_module, "SHARED_VALUES_BUDGET", 100)
    outcome = await open_runtime.service.command(
        "prod-orders,prod-billing,bulk-audit last 1h", RANDOM
    )
    assert isinstance(outcome, Problem) and "too long to carry" in outcome.summary
    assert outcome.example == "/dms-tasks all last 1h"


async def test_one_instance_is_answered_as_before(runtime: Runtime) -> None:
    report = await runtime.service.command("prod-orders last 1d", ONCALL)
    assert type(report) is TaskReport and report.instance is not None
    assert report.query.targets == () and report.query.target == "prod-orders"
    assert "dms_task_params" in str(render_outcome(report))


# ---- the messages, with adversarial data ----------------------------------------------------

HOSTILE = "<!channel> *bold* `code` &amp; 🙂👨‍👩‍👧 \u0301 " + "Ω" * 80


def hostile_instance(n: int, alias: str | None) -> InstanceRef:
    return InstanceRef(
        instance_id=f"4f1c9a70-5b1e-4c7a-9f1d-{n:012d}",
        project_id="proj",
        region="cn-north-4",
        alias=alias,
        name=f"{HOSTILE} {n}",
    )


def hostile_task(n: int, instance: int) -> Task:
    return make_task(
        n % 100,
        name="veryLongUnknownTaskName" * 8 + str(n),
        status=["FAILED", "EXECUTING", "SUCCESS", "ROLLING_BACK_" + "X" * 30, ""][n % 5],
        minutes_ago=n + instance / 10,
        took=None if n % 5 == 1 else 30,
        params={"password": "hunter2", "x": n},
        user=HOSTILE,
    )


def adversarial_report(
    count: int, *, everything: bool, unavailable: int, public: bool = False
) -> TimelineReport:
    if everything:
        # Aliases of 100 characters, or names (the buttons carry the instance's id then).
        aliases = [f"a{n:02d}-" + "x" * 96 if n % 2 else None for n in range(count)]
    else:
        # A typed list's buttons carry it whole: within the grammar's budget.
        aliases = [f"kafka-{n:02d}" for n in range(count)]
    instances = [hostile_instance(n, a) for n, a in enumerate(aliases)]
    carried = tuple(i.alias or i.instance_id for i in instances)
    targets = (ALL_TARGETS,) if everything else carried
    glob, user = '"' * 100, "🙂" * 100
    window = TimeWindow(RENDER_NOW - timedelta(days=31), RENDER_NOW, '"' * 60, Anchor.SLIDING)
    statuses = frozenset(f"S{n}" + "X" * 38 for n in range(8))
    filters = TaskFilters(statuses, glob if everything else None, user if everything else None)
    query = TaskQuery(None, window, filters, limit=100, targets=targets)
    parts = tuple(
        InstancePart(
            inst,
            unavailable=(f"{HOSTILE} reason {n} " * 3 if n < unavailable else ""),
            reference=f"DMS.00500000, request {'f' * 32}" if n < unavailable else "",
            counts={} if n < unavailable else {"SUCCESS": 9999, "FAILED": 99, "WEIRD" * 8: 3},
            matched=99,
            earlier=9,
            earlier_unknown=n % 3 == 0,
            shortfall=n % 4,
        )
        for n, inst in enumerate(instances)
    )
    readable = [i for n, i in enumerate(instances) if n >= unavailable] or instances
    rows = tuple(
        TimelineRow(
            instance=readable[n % len(readable)],
            carried=readable[n % len(readable)].alias or readable[n % len(readable)].instance_id,
            task=hostile_task(n, n % len(readable)),
            started_earlier=n % 7 == 0,
            overdue=n % 5 == 1,
            usual=None,
        )
        for n in range(100)
    )
    return TimelineReport(
        instance=None,
        query=query,
        tz=BERLIN,
        now=RENDER_NOW,
        window_counts={"SUCCESS": 99999, "FAILED": 999, "EXECUTING": 9},
        matched=9999,
        page_tasks=tuple(r.task for r in rows),
        pages=100,
        fetched_at=RENDER_NOW,
        from_cache=True,
        earlier_running=tuple(r.task for r in rows[:9]),
        earlier_unknown=True,
        everything=everything,
        parts=parts,
        rows=rows,
        not_shown=tuple(NotShown(HOSTILE + str(n), HOSTILE * 2) for n in range(MAX_TARGETS)),
        note=HOSTILE * 3,
        public=public,
    )


CASES = [
    pytest.param(50, True, 0, id="all-50-readable"),
    pytest.param(50, True, 45, id="all-50-mostly-unavailable"),
    pytest.param(50, True, 50, id="all-50-unavailable"),
    pytest.param(3, True, 1, id="all-3"),
    pytest.param(MAX_TARGETS, False, 5, id="list-20"),
]


@pytest.mark.parametrize(("count", "everything", "unavailable"), CASES)
def test_a_timeline_of_any_instances_stays_within_slacks_limits(
    count: int, everything: bool, unavailable: int
) -> None:
    report = adversarial_report(count, everything=everything, unavailable=unavailable)
    message = render_outcome(report)
    assert_valid(message)
    assert "hunter2" not in str(message) and "<!channel>" not in str(message)
    for block in message["blocks"]:
        # No section was cut short by the Block Kit builders' last resort.
        text = (block.get("text") or {}).get("text", "")
        assert slack_len(text) < 3000, block["block_id"]
    params = []
    for button in message_buttons(message):
        assert slack_len(button["value"]) <= MAX_BUTTON_VALUE
        if ActionId.parse(button["action_id"]) is ActionId.WATCH:
            from bot.domain.watches import WatchValue

            # A Watch carries the row's own instance and task, not the listing.
            watched = WatchValue.decode(button["value"])
            assert (watched.target, watched.task_id) in {
                (r.carried, r.task.id) for r in report.rows
            }
            continue
        state = ButtonState.decode(button["value"])
        assert state.query.targets == report.query.targets
        if button["action_id"].startswith(ActionId.PARAMS):
            params.append((state.query.on, state.task_id))
    # Every row's Params button carries the task and the instance it is on.
    assert params == [(r.carried, r.task.id) for r in report.rows]
    copy = shared_copy(report, "U1")
    check_posted_message(copy)
    assert "Shared by @U1" in render_text(copy)
    assert "too long to post" not in render_text(copy)


def test_the_worst_button_values_of_a_timeline_fit() -> None:
    """As state.py's size arithmetic says: `all` with everything at its longest, and a typed list
    taking the whole shared budget with the task's place at its largest."""
    window = TimeWindow(
        datetime.fromtimestamp(253_402_300_799 - 31 * 86400, UTC),
        datetime.fromtimestamp(253_402_300_799, UTC),
        '"' * 60,
        Anchor.SLIDING,
    )
    statuses = frozenset(f"S{n}" + "X" * 38 for n in range(8))
    worst_id = "\x00" * 128
    everything = TaskQuery(
        None,
        window,
        TaskFilters(statuses, '"' * 100, "\\" * 100),
        100,
        100_000,
        targets=(ALL_TARGETS,),
        on='"' * 100,
    )
    value = ButtonState.of(everything, task_id=worst_id).encode()
    assert slack_len(value) == 1957
    assert ButtonState.decode(value).query == everything
    # 20 targets joined by commas into 633 characters: 640 with the key's quotes and comma.
    names = tuple(f"{n:02d}" + "x" * (29 if n < 14 else 28) for n in range(MAX_TARGETS))
    fuller = TaskQuery(None, window, TaskFilters(statuses), 100, 100_000, targets=names)
    assert shared_values_cost(names, None, None) == SHARED_VALUES_BUDGET
    value = ButtonState.of(replace(fuller, on=fuller.targets[-1]), task_id=worst_id).encode()
    assert slack_len(value) == 1973 <= MAX_BUTTON_VALUE
    assert ButtonState.decode(value).query.on == fuller.targets[-1]
    over = replace(fuller, targets=(*names[:-1], names[-1] + "x"))
    with pytest.raises(QueryError):
        ButtonState.of(over)


async def test_running_rows_of_a_timeline_have_a_watch_for_their_own_instance(
    runtime: Runtime,
) -> None:
    from bot.domain.watches import WatchValue

    report = await runtime.service.command("all last 1d limit=50", ONCALL)
    assert isinstance(report, TimelineReport), report
    running = {r.task.id: r.carried for r in report.rows if r.task.is_active}
    assert running, "the simulator has running tasks on prod-orders"
    message = render_outcome(report)
    watches = [
        b for b in message_buttons(message) if ActionId.parse(b["action_id"]) is ActionId.WATCH
    ]
    values = [WatchValue.decode(b["value"]) for b in watches]
    assert {v.task_id: v.target for v in values} == running
