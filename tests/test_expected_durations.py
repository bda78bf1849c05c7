""" "Stuck means something": a running task is judged by the config file's `[expected]` bound for
its name, else by the history of its name's successful runs on that instance, else by the fixed
2 hours; and the words say which. Config parsing, the precedence as pure functions, and the
service against the DMS simulator."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.domain.alerts import Alert, AlertKind, events_for
from bot.domain.durations import (
    NO_EXPECTATIONS,
    DurationRange,
    ExpectedDurations,
    overdue_tasks,
    typical_durations,
)
from bot.domain.tasks import Task
from bot.grammar.durations import parse_duration
from bot.listing import judged_durations
from bot.render.notices import expectation, overdue_words
from bot.render.timewords import format_duration
from bot.report import TaskReport
from bot.runtime import Runtime
from bot.service import Requester
from bot.settings import Settings, SettingsError, with_simulator
from bot.simulator import RunningSimulator, SimulatorConfig, start_simulator

T0 = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
MAX = timedelta(days=31)


def task(**fields: Any) -> Task:
    return Task.model_validate(fields)


def at(minutes: float) -> str:
    return (T0 + timedelta(minutes=minutes)).isoformat()


def config_file(tmp_path: Path, text: str) -> Settings:
    path = tmp_path / "bot.toml"
    path.write_text(text, encoding="utf-8")
    return Settings.model_validate({"DMS_BOT_CONFIG": str(path)})


# ---- the config file -------------------------------------------------------------------------


def test_expected_durations_read_as_the_grammar_reads_last(tmp_path: Path) -> None:
    settings = config_file(
        tmp_path,
        "[expected]\n"
        'extendBroker = "2h"\n'
        'resizeFlavor = "90 minutes"\n'
        'partitionReassign = "1h30m"\n'
        'extendStorage = "1.5h"\n'
        '"Restart instance" = "10m"\n',
    )
    expected = settings.load_config().expected_durations
    assert expected.bounds == {
        "extendBroker": timedelta(hours=2),
        "resizeFlavor": timedelta(minutes=90),
        "partitionReassign": timedelta(minutes=90),
        "extendStorage": timedelta(minutes=90),
        "Restart instance": timedelta(minutes=10),
    }
    # Case-insensitive, by the API's name or the label the rows show.
    assert expected.bound_for("EXTENDBROKER") == timedelta(hours=2)
    assert expected.bound_for("restartInstance", "restart instance") == timedelta(minutes=10)
    assert expected.bound_for("mystery") is None
    assert not Settings.model_validate({}).load_config().expected_durations


@pytest.mark.parametrize(
    ("entry", "key", "says"),
    [
        ('extendBroker = "2 hourz"', "expected.extendBroker", "'2 hourz' is not a duration"),
        ("extendBroker = 120", "expected.extendBroker", "120 (a number without a unit)"),
        ('extendBroker = "0m"', "expected.extendBroker", "not a positive duration"),
        ('extendBroker = "40d"', "expected.extendBroker", "longer than 31 days"),
        ('extendBroker = ""', "expected.extendBroker", "is not a duration"),
        ("extendBroker = true", "expected.extendBroker", "True is not a duration"),
        ('[expected.extendBroker]\nmax = "2h"', "expected.extendBroker", "a table is not"),
        ('extendBroker = "2h"\nEXTENDBROKER = "3h"', "expected.EXTENDBROKER", "the same task"),
        ('"  " = "2h"', "[expected] has an empty task name", "extendBroker"),
    ],
)
def test_a_bad_expected_duration_stops_start_up_naming_the_setting_and_the_key(
    tmp_path: Path, entry: str, key: str, says: str
) -> None:
    text = entry if entry.startswith("[") else f"[expected]\n{entry}\n"
    settings = config_file(tmp_path, text)
    with pytest.raises(SettingsError) as caught:
        settings.load_config()
    message = str(caught.value)
    assert "DMS_BOT_CONFIG" in message and str(tmp_path / "bot.toml") in message
    assert key in message and says in message, message
    if "not a duration" in says:
        assert '"2h", "90m" or "1h30m"' in message


def test_the_duration_parser_refuses_what_it_cannot_read_exactly() -> None:
    assert parse_duration("2h 30m", at_most=MAX) == timedelta(hours=2, minutes=30)
    assert parse_duration("1 day", at_most=MAX) == timedelta(days=1)
    for text in ("2h x", "h2", "30m 1h", "-1h", "99999999999999999999w"):
        with pytest.raises(ValueError):
            parse_duration(text, at_most=MAX)


# ---- precedence: config > history > the fixed bound ------------------------------------------

HISTORY = tuple(
    task(id=f"h{i}", name="extendStorage", status="SUCCESS", created_at=at(0), updated_at=at(m))
    for i, m in enumerate([4, 5, 6, 5])
)


def running(task_id: str, name: str, started_minutes_ago: float, now_minutes: float = 0) -> Task:
    return task(
        id=task_id, name=name, status="EXECUTING", created_at=at(now_minutes - started_minutes_ago)
    )


def judge(tasks: tuple[Task, ...], expected: ExpectedDurations) -> dict[str, DurationRange | None]:
    typical = judged_durations(typical_durations(HISTORY), expected, tasks)
    return overdue_tasks(tasks, typical, T0)


def test_the_config_comes_before_history_and_history_before_the_fixed_bound() -> None:
    tasks = (
        running("storage-40m", "extendStorage", 40),  # history: past 3x 5.25 min
        running("storage-12m", "extendStorage", 12),  # history: still fine (floor 10 min, 3x)
        running("broker-3h", "extendBroker", 190),  # no history: past 2 h
        running("broker-1h", "extendBroker", 60),
    )
    by_history = judge(tasks, NO_EXPECTATIONS)
    assert set(by_history) == {"storage-40m", "broker-3h"}
    usual = by_history["storage-40m"]
    assert usual is not None and not usual.configured and usual.samples == 4
    assert by_history["broker-3h"] is None  # the fixed bound: nothing to compare with
    configured = ExpectedDurations(
        {"extendStorage": timedelta(hours=1), "ExtendBroker": timedelta(minutes=30)}
    )
    by_config = judge(tasks, configured)
    # The config's hour spares the 40-minute expansion that history would flag; its half hour
    # flags an hour-old broker task the fixed two hours would not.
    assert set(by_config) == {"broker-3h", "broker-1h"}
    bound = by_config["broker-1h"]
    assert bound == DurationRange.expected_within(timedelta(minutes=30)) and bound.configured


def test_a_bound_is_met_exactly_at_its_end_and_passed_after() -> None:
    expected = ExpectedDurations({"extendBroker": timedelta(hours=2)})
    assert judge((running("on-time", "extendBroker", 120),), expected) == {}
    assert set(judge((running("late", "extendBroker", 121),), expected)) == {"late"}


def test_a_label_in_the_config_names_the_task_it_labels() -> None:
    expected = ExpectedDurations({"add brokers": timedelta(minutes=20)})
    flagged = judge((running("b", "extendBroker", 30),), expected)
    assert flagged["b"] == DurationRange.expected_within(timedelta(minutes=20))


def test_alerts_judge_stuck_tasks_by_the_config_too() -> None:
    # The alert job hands events_for the judged durations (bot.listing.judged_durations).
    tasks = (running("b", "extendBroker", 45),)
    expected = ExpectedDurations({"extendBroker": timedelta(minutes=30)})
    alert = Alert("k3m9qa", "C1", ("all",), created_at=T0 - timedelta(minutes=40), stuck=True)
    typical = judged_durations({}, expected, tasks)
    [event] = events_for(alert, tasks, typical, T0)
    assert event.kind is AlertKind.STUCK and event.usual is not None and event.usual.configured
    assert events_for(alert, tasks, judged_durations({}, NO_EXPECTATIONS, tasks), T0) == []


def test_the_words_say_what_a_task_was_judged_by() -> None:
    history = DurationRange(timedelta(minutes=4), timedelta(minutes=6), samples=5)
    config = DurationRange.expected_within(timedelta(hours=2))
    assert overdue_words(history) == "⚠ usually 4–6 min"
    assert overdue_words(config) == "⚠ expected within 2 h (config)"
    assert overdue_words(None) == "⚠ running far too long"
    # An alert's sentence: "running 3 h 10 min; usually done in 4–6 min".
    took = format_duration(timedelta(hours=3, minutes=10))
    assert f"running {took}; {expectation(history, 'usually done in {}')}" == (
        "running 3 h 10 min; usually done in 4–6 min"
    )
    assert f"running {took}; {expectation(config, 'usually done in {}')}" == (
        "running 3 h 10 min; expected within 2 h (config)"
    )
    # A renderer that knows nothing of the basis still shows the bound, not a made-up range.
    assert (config.low, config.high, config.samples) == (timedelta(hours=2),) * 2 + (0,)


# ---- through the service, against the simulator ----------------------------------------------

ONCALL = Requester(channel_id="C_ONCALL", user_id="U1", tz=ZoneInfo("Europe/Berlin"))


@pytest.fixture
async def sim() -> AsyncIterator[RunningSimulator]:
    async with start_simulator(SimulatorConfig(bulk_tasks=50)) as running_sim:
        yield running_sim


async def running_report(sim: RunningSimulator, tmp_path: Path, config: str) -> TaskReport:
    """prod-orders' running tasks: a storage expansion started about 3 h ago, whose name has
    five successful runs in the week before (minutes each)."""
    path = tmp_path / "bot.toml"
    path.write_text(config, encoding="utf-8")
    settings = with_simulator(
        Settings.model_validate({"DMS_BOT_CONFIG": str(path), "DMS_RETRY_BUDGET": 0.5}), sim.url
    )
    runtime = Runtime(settings, with_slack=False)
    try:
        report = await runtime.service.command("prod-orders last 6h status=running", ONCALL)
    finally:
        await runtime.stop()
    assert isinstance(report, TaskReport), report
    return report


def storage_task(report: TaskReport) -> Task:
    [found] = [t for t in report.page_tasks if t.name == "extendStorage"]
    return found


async def test_service_without_config_judges_by_history(
    sim: RunningSimulator, tmp_path: Path
) -> None:
    report = await running_report(sim, tmp_path, "")
    storage = storage_task(report)
    usual = report.overdue[storage.id]
    assert usual is not None and not usual.configured and usual.samples >= 3
    assert overdue_words(usual).startswith("⚠ usually ")


async def test_service_flags_past_the_configured_bound_and_says_so(
    sim: RunningSimulator, tmp_path: Path
) -> None:
    report = await running_report(sim, tmp_path, '[expected]\nextendStorage = "2h"\n')
    storage = storage_task(report)
    usual = report.overdue[storage.id]
    assert usual == DurationRange.expected_within(timedelta(hours=2))
    assert storage.created_at is not None
    took = format_duration(report.now - storage.created_at)
    assert took.startswith("3 h")
    sentence = f"running {took}; {expectation(usual, 'usually done in {}')}"
    assert sentence == f"running {took}; expected within 2 h (config)"
    assert overdue_words(usual) == "⚠ expected within 2 h (config)"


async def test_service_spares_a_task_within_its_configured_bound(
    sim: RunningSimulator, tmp_path: Path
) -> None:
    # History alone flags it (test above); the config says four hours are to be expected.
    report = await running_report(sim, tmp_path, '[expected]\n"Expand broker storage" = "4h"\n')
    assert storage_task(report).id not in report.overdue


async def test_service_applies_the_fixed_bound_without_config_or_history(
    sim: RunningSimulator, tmp_path: Path
) -> None:
    now = datetime.now(UTC)
    long = sim.add_task("prod-orders", "mysteryTask", "EXECUTING", created=now - timedelta(hours=3))
    short = sim.add_task("prod-orders", "otherTask", "EXECUTING", created=now - timedelta(hours=1))
    report = await running_report(sim, tmp_path, "")
    assert report.overdue.get(long["id"], "absent") is None  # flagged, by the fixed bound
    assert short["id"] not in report.overdue
    report = await running_report(
        sim, tmp_path, '[expected]\nmysteryTask = "4h"\nothertask = "30m"\n'
    )
    assert long["id"] not in report.overdue
    assert report.overdue[short["id"]] == DurationRange.expected_within(timedelta(minutes=30))
