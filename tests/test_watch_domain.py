"""What a watch is, without I/O: backoff, its keys, the JSON it is kept as, the button values
and how they refuse what was edited."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from bot.blockkit import MAX_BUTTON_VALUE, slack_len
from bot.domain.instances import InstanceRef
from bot.domain.tasks import Task
from bot.domain.watches import (
    DamagedValue,
    Ending,
    EndReason,
    Progress,
    StopValue,
    Watch,
    WatchLimits,
    WatchValue,
    next_wait,
    wants_progress,
    watch_id,
)

NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
REF = InstanceRef(instance_id="4f1c-e2a1", project_id="p1", region="r1", alias="prod-orders")


def task(status: str = "EXECUTING", name: str = "extendBroker") -> Task:
    return Task.model_validate(
        {
            "id": "8abf",
            "name": name,
            "status": status,
            "params": '{"old_broker_num":3,"new_broker_num":5}',
            "created_at": "2026-12-02T08:00:00.000Z",
            "updated_at": "2026-12-02T08:30:00Z",
        }
    )


def watch(**changes: object) -> Watch:
    base = Watch(
        id=watch_id("U1", REF, "8abf"),
        user_id="U1",
        asked_in="C1",
        target="prod-orders",
        instance=REF,
        task_id="8abf",
        started_at=NOW,
    )
    return Watch(**{**base.__dict__, **changes})  # type: ignore[arg-type]


def test_backoff_grows_by_half_to_five_minutes_and_starts_over_on_a_change() -> None:
    limits = WatchLimits()
    waits, current = [], 0.0
    for _ in range(12):
        current = limits.next_interval(current, changed=False)
        waits.append(current)
    assert waits[:4] == [15.0, 22.5, 33.75, 50.625] and waits[-1] == 300.0
    assert limits.next_interval(300.0, changed=True) == 10.0


def test_a_look_that_saw_a_change_comes_back_soon_and_one_that_failed_later() -> None:
    limits = WatchLimits()
    first = watch().seen(task(), Progress(10), NOW, limits)
    assert first.interval_s == 10.0 and first.next_check_at == NOW + timedelta(seconds=10)
    same = first.seen(task(), Progress(10), NOW + timedelta(seconds=10), limits)
    assert same.interval_s == 15.0
    moved = same.seen(task(), Progress(20), NOW + timedelta(seconds=25), limits)
    assert moved.interval_s == 10.0
    failed = moved.failed("timed out", NOW + timedelta(seconds=35), limits)
    assert failed.error == "timed out" and failed.interval_s == 15.0
    recovered = failed.seen(task(), Progress(20), NOW + timedelta(seconds=50), limits)
    assert recovered.error is None and recovered.interval_s == 10.0


def test_limits_refuse_nonsense() -> None:
    with pytest.raises(ValueError):
        WatchLimits(min_interval_s=0)
    with pytest.raises(ValueError):
        WatchLimits(per_user=0)


def test_the_id_is_the_same_for_one_person_and_task_and_differs_otherwise() -> None:
    assert watch_id("U1", REF, "8abf") == watch_id("U1", REF, "8abf")
    assert watch_id("U2", REF, "8abf") != watch_id("U1", REF, "8abf")
    other = REF.model_copy(update={"instance_id": "9999"})
    assert watch_id("U1", other, "8abf") != watch_id("U1", REF, "8abf")
    assert set(watch_id("U1", REF, "x")) <= set("abcdefghijklmnopqrstuvwxyz234567")


def test_keys_carry_the_generation_so_a_later_watch_is_not_silenced() -> None:
    first = watch()
    later = watch(started_at=NOW + timedelta(hours=25))
    assert first.lease_key == later.lease_key == f"watch:{first.id}:poll"
    assert first.reply_key != later.reply_key and first.stop_key != later.stop_key


def test_a_watch_survives_the_trip_through_json() -> None:
    full = watch(
        channel_id="D1",
        message_ts="1764662400.000100",
        thread_ts="1764662300.000001",
        in_dm=True,
        task=task(),
        progress=Progress(42, 300, "rebalance"),
        checked_at=NOW,
        next_check_at=NOW + timedelta(seconds=15),
        interval_s=15.0,
        error="timed out",
        ending=Ending(EndReason.STOPPED, NOW, "U1"),
    )
    again = Watch.from_json(json.loads(json.dumps(full.to_json())))
    assert again == full
    assert Watch.from_json(json.loads(json.dumps(watch().to_json()))) == watch()


@pytest.mark.parametrize(
    "damage",
    [
        lambda d: {**d, "v": 2},
        lambda d: {k: v for k, v in d.items() if k != "instance"},
        lambda d: {**d, "started_at": "2026-12-02T09:00:00"},  # no zone
        lambda d: {**d, "ending": {"reason": "exploded", "at": NOW.isoformat()}},
        lambda d: [d],
    ],
)
def test_a_damaged_record_is_refused_in_words(damage: object) -> None:
    with pytest.raises(ValueError, match="does not read back"):
        Watch.from_json(damage(watch().to_json()))  # type: ignore[operator]


def test_naive_times_are_never_stored() -> None:
    with pytest.raises(ValueError):
        watch(started_at=datetime(2026, 12, 2, 9, 0)).to_json()


def test_due_and_the_wait_until_the_next_look() -> None:
    w = watch(next_check_at=NOW + timedelta(seconds=30))
    assert not w.due(NOW) and w.due(NOW + timedelta(seconds=30))
    assert watch(ending=Ending(EndReason.EXPIRED, NOW)).due(NOW)
    assert next_wait([w], NOW, 15.0) == 15.0
    assert next_wait([w], NOW + timedelta(seconds=20), 15.0) == 10.0
    assert next_wait([w], NOW + timedelta(seconds=40), 15.0) == 0.0
    assert next_wait([], NOW, 15.0) == 15.0


def test_progress_is_asked_only_of_running_scale_tasks() -> None:
    assert wants_progress(task())
    assert not wants_progress(task("CREATED"))
    assert not wants_progress(task(name="kafkaConfigModify"))


def test_button_values_round_trip_and_the_worst_case_fits_a_button() -> None:
    worst = WatchValue("\U0001f600" * 50, "\x7f" * 0 + "\u2028" * 128)
    assert slack_len(worst.encode()) < MAX_BUTTON_VALUE
    assert WatchValue.decode(worst.encode()) == worst
    stop = StopValue("abcd2345", 1796217111)
    assert StopValue.decode(stop.encode()) == stop


@pytest.mark.parametrize(
    "value",
    [
        "",
        "not json",
        "[1]",
        '{"v":1,"t":"prod-orders"}',
        '{"v":2,"t":"prod-orders","k":"x"}',
        '{"v":true,"t":"prod-orders","k":"x"}',
        '{"v":1,"t":"  ","k":"x"}',
        '{"v":1,"t":"prod\\u0000orders","k":"x"}',
        '{"v":1,"t":"' + "x" * 101 + '","k":"x"}',
        '{"v":1,"t":"prod-orders","k":"x","admin":true}',
        '{"v":1,"t":"prod-orders","k":5}',
        "x" * 2001,
    ],
)
def test_a_watch_value_that_was_edited_is_refused(value: str) -> None:
    with pytest.raises(DamagedValue):
        WatchValue.decode(value)


@pytest.mark.parametrize(
    "value",
    ['{"v":1,"w":"ABC","g":1}', '{"v":1,"w":"abc","g":-1}', '{"v":1,"w":"abc","g":true}'],
)
def test_a_stop_value_that_was_edited_is_refused(value: str) -> None:
    with pytest.raises(DamagedValue):
        StopValue.decode(value)
