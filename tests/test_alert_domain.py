"""What an alert fires for, decided from the alert and the tasks alone: failures and tasks gone
overdue after it was added, never history; and the window each round reads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.domain.alerts import (
    Alert,
    AlertEvent,
    AlertKind,
    claim_key,
    events_for,
    marker_keep,
    next_round_in,
    recent_window,
)
from bot.domain.durations import OVERDUE_WITHOUT_HISTORY, typical_durations
from bot.domain.tasks import Task

ADDED = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)


def task(
    n: int, status: str, created: datetime, ended: datetime | None = None, name: str = "x"
) -> Task:
    return Task.model_validate(
        {
            "id": f"t{n:03d}",
            "name": name,
            "status": status,
            "created_at": created.isoformat(),
            "updated_at": ended.isoformat() if ended else None,
        }
    )


def alert(stuck: bool = False) -> Alert:
    return Alert("k3m9qa", "C1", ("prod-orders",), created_at=ADDED, stuck=stuck)


def fired(tasks: tuple[Task, ...], now: datetime, *, stuck: bool = False) -> list[tuple[str, str]]:
    events = events_for(alert(stuck), tasks, typical_durations(tasks), now)
    return [(e.task.id, e.kind.value) for e in events]


def test_only_failures_that_ended_after_the_alert_was_added_fire() -> None:
    tasks = (
        task(1, "FAILED", ADDED - 60 * MIN, ADDED - 50 * MIN),  # history
        task(2, "FAILED", ADDED - 60 * MIN, ADDED + MIN),  # was running, failed after
        task(3, "FAILED", ADDED + 2 * MIN, ADDED + 3 * MIN),  # new
        task(4, "FAILED", ADDED - 2 * MIN, ADDED),  # at the very instant: after, not before
        task(5, "SUCCESS", ADDED + MIN, ADDED + 2 * MIN),
        task(6, "CANCELLED", ADDED + MIN, ADDED + 2 * MIN),
        task(7, "failed", ADDED + 4 * MIN, ADDED + 5 * MIN),  # the API's case varies
    )
    assert fired(tasks, ADDED + 10 * MIN) == [
        ("t002", "failed"),
        ("t004", "failed"),
        ("t003", "failed"),
        ("t007", "failed"),
    ]


def test_a_failure_without_an_end_time_fires_only_when_it_started_after_the_alert() -> None:
    tasks = (task(1, "FAILED", ADDED - MIN), task(2, "FAILED", ADDED + MIN))
    assert fired(tasks, ADDED + 10 * MIN) == [("t002", "failed")]


def test_a_task_without_an_id_never_fires() -> None:
    nameless = Task.model_validate(
        {"status": "FAILED", "created_at": (ADDED + MIN).isoformat(), "updated_at": None}
    )
    assert events_for(alert(), (nameless,), {}, ADDED + 10 * MIN) == []


def test_stuck_fires_for_a_task_that_went_overdue_after_the_alert_was_added() -> None:
    day_before = ADDED - timedelta(days=1)
    history = tuple(
        task(
            10 + n,
            "SUCCESS",
            day_before + n * 60 * MIN,
            day_before + (n * 60 + 1) * MIN,
            "extendStorage",
        )
        for n in range(4)
    )
    # Each took a minute, so the overdue bound is the 10-minute floor for extendStorage.
    tasks = (
        *history,
        task(1, "EXECUTING", ADDED - 30 * MIN, name="extendStorage"),  # stuck already: history
        task(2, "EXECUTING", ADDED - 5 * MIN, name="extendStorage"),  # goes overdue at +5 min
        task(3, "EXECUTING", ADDED - 60 * MIN, name="newKind"),  # no history: 2 h, at +60 min
        task(4, "CREATED", ADDED - 300 * MIN, name="newKind"),  # queued is not running
    )
    assert fired(tasks, ADDED + 4 * MIN, stuck=True) == []
    assert fired(tasks, ADDED + 6 * MIN, stuck=True) == [("t002", "stuck")]
    later = events_for(alert(True), tasks, typical_durations(tasks), ADDED + 61 * MIN)
    assert [(e.task.id, e.kind) for e in later] == [
        ("t003", AlertKind.STUCK),
        ("t002", AlertKind.STUCK),
    ]
    no_history, known = later
    assert no_history.usual is None and known.usual is not None
    assert 121 * MIN > OVERDUE_WITHOUT_HISTORY > 120 * MIN - MIN
    # Without `stuck`, only failures.
    assert fired(tasks, ADDED + 61 * MIN) == []


def test_a_stuck_task_that_then_fails_fires_twice_under_two_keys() -> None:
    running = task(1, "EXECUTING", ADDED - 119 * MIN, name="newKind")
    assert fired((running,), ADDED + 2 * MIN, stuck=True) == [("t001", "stuck")]
    failed = task(1, "FAILED", ADDED - 119 * MIN, ADDED + 3 * MIN, name="newKind")
    assert fired((failed,), ADDED + 4 * MIN, stuck=True) == [("t001", "failed")]
    keys = {
        AlertEvent(AlertKind.STUCK, running).key("k3m9qa"),
        AlertEvent(AlertKind.FAILED, failed).key("k3m9qa"),
    }
    assert keys == {"alert:k3m9qa:t001:stuck", "alert:k3m9qa:t001:failed"}
    assert claim_key("k3m9qa", "t001", AlertKind.FAILED) == "alert:k3m9qa:t001:failed"


@pytest.mark.parametrize(
    ("now", "interval", "end"),
    [
        (datetime(2026, 11, 27, 9, 0, 0, tzinfo=UTC), 60, datetime(2026, 11, 27, 9, 1, tzinfo=UTC)),
        (
            datetime(2026, 11, 27, 9, 0, 59, 999999, tzinfo=UTC),
            60,
            datetime(2026, 11, 27, 9, 1, tzinfo=UTC),
        ),
        (
            datetime(2026, 11, 27, 9, 0, 7, tzinfo=UTC),
            5,
            datetime(2026, 11, 27, 9, 0, 10, tzinfo=UTC),
        ),
        (
            datetime(2026, 11, 27, 23, 59, 30, tzinfo=UTC),
            90,
            datetime(2026, 11, 28, 0, 0, tzinfo=UTC),
        ),
    ],
)
def test_the_window_is_the_same_for_every_round_of_one_interval(
    now: datetime, interval: float, end: datetime
) -> None:
    begin, got_end = recent_window(now, interval, 7)
    assert got_end == end and got_end > now
    assert begin == datetime(2026, 11, 20, tzinfo=UTC)
    # Every instant of the interval gives the same window; the next interval moves only its end.
    start = datetime.fromtimestamp(end.timestamp() - interval, UTC)
    for moment in (start, start + (now - start) / 2, end - timedelta(microseconds=1)):
        if moment.date() == now.date():
            assert recent_window(moment, interval, 7) == (begin, end)
    assert next_round_in(now, interval) == pytest.approx((end - now).total_seconds(), abs=1e-4)


def test_a_window_in_another_zone_is_the_same_window() -> None:
    utc = datetime(2026, 11, 27, 9, 0, 7, tzinfo=UTC)
    berlin = utc.astimezone(datetime.now().astimezone().tzinfo)
    assert recent_window(utc, 60, 3) == recent_window(berlin, 60, 3)


def test_done_markers_outlive_the_window() -> None:
    begin, end = recent_window(ADDED, 60, 7)
    assert marker_keep(7) > end - begin
