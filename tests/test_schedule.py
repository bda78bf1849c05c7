"""The calendar of daily digests: ordinary days, both DST directions in several zones, zones with
odd shifts or none, weekdays judged in the digest's own zone, and what an outage missed."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone
from itertools import pairwise
from zoneinfo import ZoneInfo, available_timezones

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from bot.domain.digests import Days, Subscription
from bot.domain.schedule import due_times, local_date, missed_runs, next_due, previous_due


def sub(
    at: str = "09:00",
    tz: str = "Europe/Berlin",
    days: Days = Days.DAILY,
    created_at: datetime | None = None,
) -> Subscription:
    return Subscription(
        id="d7k2q9",
        channel_id="C1",
        targets=("all",),
        at=time.fromisoformat(at),
        tz=tz,
        days=days,
        created_at=created_at,
    )


def utc(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, s, tzinfo=UTC)


# 09:00 in Berlin on Wednesday 10 June 2026 (CEST, +02:00) is 07:00 UTC.
@pytest.mark.parametrize(
    ("after", "expected"),
    [
        (utc(2026, 6, 10, 6, 59, 59), utc(2026, 6, 10, 7)),  # just before
        (utc(2026, 6, 10, 7), utc(2026, 6, 11, 7)),  # exactly at: strictly after
        (utc(2026, 6, 10, 7, 0, 1), utc(2026, 6, 11, 7)),  # just after
        (utc(2026, 6, 9, 22, 30), utc(2026, 6, 10, 7)),  # already 10 June in Berlin
        # Any aware input: 08:59 at +02:00 is 06:59 UTC.
        (datetime(2026, 6, 10, 8, 59, tzinfo=timezone(timedelta(hours=2))), utc(2026, 6, 10, 7)),
    ],
)
def test_next_run_on_an_ordinary_day(after: datetime, expected: datetime) -> None:
    run = next_due(sub(), after)
    assert run == expected
    assert run.tzinfo is UTC


# Each night gets exactly one run. In a gap the time is read with the offset before the jump;
# in an overlap it runs at its first occurrence.
@pytest.mark.parametrize(
    ("tz", "at", "night", "expected", "shown"),
    [
        # Berlin springs forward 02:00 CET -> 03:00 CEST on 29 March 2026.
        ("Europe/Berlin", "02:30", date(2026, 3, 29), utc(2026, 3, 29, 1, 30), "03:30"),
        ("Europe/Berlin", "09:00", date(2026, 3, 29), utc(2026, 3, 29, 7), "09:00"),
        # and falls back 03:00 CEST -> 02:00 CET on 25 October 2026.
        ("Europe/Berlin", "02:30", date(2026, 10, 25), utc(2026, 10, 25, 0, 30), "02:30"),
        ("Europe/Berlin", "09:00", date(2026, 10, 25), utc(2026, 10, 25, 8), "09:00"),
        # New York springs forward 02:00 EST -> 03:00 EDT on 8 March 2026.
        ("America/New_York", "02:30", date(2026, 3, 8), utc(2026, 3, 8, 7, 30), "03:30"),
        ("America/New_York", "09:00", date(2026, 3, 8), utc(2026, 3, 8, 13), "09:00"),
        # and falls back 02:00 EDT -> 01:00 EST on 1 November 2026: 01:30 happens twice,
        # 02:30 only once (after the overlap).
        ("America/New_York", "01:30", date(2026, 11, 1), utc(2026, 11, 1, 5, 30), "01:30"),
        ("America/New_York", "02:30", date(2026, 11, 1), utc(2026, 11, 1, 7, 30), "02:30"),
        ("America/New_York", "09:00", date(2026, 11, 1), utc(2026, 11, 1, 14), "09:00"),
        # Lord Howe shifts by 30 minutes: 02:00 -> 02:30 (+11:00) on 4 October 2026,
        # 02:00 -> 01:30 (+10:30) on 5 April 2026.
        ("Australia/Lord_Howe", "02:15", date(2026, 10, 4), utc(2026, 10, 3, 15, 45), "02:45"),
        ("Australia/Lord_Howe", "09:00", date(2026, 10, 4), utc(2026, 10, 3, 22), "09:00"),
        ("Australia/Lord_Howe", "01:45", date(2026, 4, 5), utc(2026, 4, 4, 14, 45), "01:45"),
        ("Australia/Lord_Howe", "09:00", date(2026, 4, 5), utc(2026, 4, 4, 22, 30), "09:00"),
        # Kolkata: +05:30 all year.
        ("Asia/Kolkata", "09:00", date(2026, 3, 29), utc(2026, 3, 29, 3, 30), "09:00"),
        ("Asia/Kolkata", "00:15", date(2026, 3, 29), utc(2026, 3, 28, 18, 45), "00:15"),
    ],
)
def test_one_run_on_dst_nights_and_odd_zones(
    tz: str, at: str, night: date, expected: datetime, shown: str
) -> None:
    subscription = sub(at, tz)
    zone = ZoneInfo(tz)
    # The whole local day of `night` (23, 24 or 25 hours long), from a minute before it starts.
    start = datetime.combine(night, time(0), tzinfo=zone).astimezone(UTC)
    end = datetime.combine(night + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)
    runs = due_times(subscription, start - timedelta(minutes=1), end)
    assert runs == [expected]
    assert expected.astimezone(zone).strftime("%H:%M") == shown
    assert local_date(subscription, expected) == night
    assert next_due(subscription, expected - timedelta(seconds=1)) == expected
    assert previous_due(subscription, expected + timedelta(seconds=1)) == expected


def test_a_day_the_zone_skips_has_no_run_and_the_next_has_one() -> None:
    # Samoa jumped from 29 December 2011 (-10:00) straight to 31 December (+14:00).
    subscription = sub("09:00", "Pacific/Apia")
    runs = due_times(subscription, utc(2011, 12, 28), utc(2012, 1, 1))
    assert runs == [
        utc(2011, 12, 28, 19),
        utc(2011, 12, 29, 19),
        utc(2011, 12, 30, 19),  # 31 December, 09:00 +14:00
        utc(2011, 12, 31, 19),
    ]
    assert [local_date(subscription, run) for run in runs] == [
        date(2011, 12, 28),
        date(2011, 12, 29),
        date(2011, 12, 31),
        date(2012, 1, 1),
    ]


@pytest.mark.parametrize(
    ("tz", "at", "after", "expected"),
    [
        # Berlin 09:00 = 07:00 UTC in June; Friday 12 June 2026.
        ("Europe/Berlin", "09:00", utc(2026, 6, 12, 7), utc(2026, 6, 15, 7)),  # Fri -> Mon
        ("Europe/Berlin", "09:00", utc(2026, 6, 13, 6), utc(2026, 6, 15, 7)),  # Sat skipped
        ("Europe/Berlin", "09:00", utc(2026, 6, 14, 12), utc(2026, 6, 15, 7)),  # Sun skipped
        ("Europe/Berlin", "09:00", utc(2026, 6, 11, 12), utc(2026, 6, 12, 7)),  # Thu -> Fri
        # Tokyo (+09:00), 01:00: Monday's run is on Sunday in UTC, and it runs.
        ("Asia/Tokyo", "01:00", utc(2026, 6, 13), utc(2026, 6, 14, 16)),
        # Saturday 01:00 in Tokyo is Friday 16:00 UTC, and it does not run.
        ("Asia/Tokyo", "01:00", utc(2026, 6, 12, 15), utc(2026, 6, 14, 16)),
        # Friday 01:00 in Tokyo is Thursday in UTC, and it runs.
        ("Asia/Tokyo", "01:00", utc(2026, 6, 11, 15), utc(2026, 6, 11, 16)),
        # Los Angeles (-07:00), 20:00: Friday's run is on Saturday in UTC, and it runs.
        ("America/Los_Angeles", "20:00", utc(2026, 6, 13), utc(2026, 6, 13, 3)),
        ("America/Los_Angeles", "20:00", utc(2026, 6, 13, 3), utc(2026, 6, 16, 3)),
    ],
)
def test_weekdays_are_judged_in_the_digests_zone(
    tz: str, at: str, after: datetime, expected: datetime
) -> None:
    subscription = sub(at, tz, Days.WEEKDAYS)
    assert next_due(subscription, after) == expected
    assert local_date(subscription, expected).weekday() < 5


@pytest.mark.parametrize(
    ("days", "before", "expected"),
    [
        (Days.WEEKDAYS, utc(2026, 6, 15, 7), utc(2026, 6, 12, 7)),  # Monday's run -> Friday's
        (Days.WEEKDAYS, utc(2026, 6, 14, 12), utc(2026, 6, 12, 7)),  # Sunday -> Friday
        (Days.WEEKDAYS, utc(2026, 6, 15, 7, 0, 1), utc(2026, 6, 15, 7)),
        (Days.DAILY, utc(2026, 6, 15, 7), utc(2026, 6, 14, 7)),
    ],
)
def test_previous_run(days: Days, before: datetime, expected: datetime) -> None:
    assert previous_due(sub(days=days), before) == expected


@pytest.mark.parametrize(
    ("tz", "at", "due", "expected"),
    [
        # +14:00: 00:30 on 15 June is 10:30 UTC on 14 June.
        ("Pacific/Kiritimati", "00:30", utc(2026, 6, 14, 10, 30), date(2026, 6, 15)),
        # -10:00: 23:30 on 15 June is 09:30 UTC on 16 June.
        ("Pacific/Honolulu", "23:30", utc(2026, 6, 16, 9, 30), date(2026, 6, 15)),
        ("Asia/Kolkata", "00:15", utc(2026, 3, 28, 18, 45), date(2026, 3, 29)),
    ],
)
def test_local_date_of_a_run_near_midnight(tz: str, at: str, due: datetime, expected: date) -> None:
    subscription = sub(at, tz)
    assert next_due(subscription, due - timedelta(minutes=1)) == due
    assert local_date(subscription, due) == expected


GRACE = timedelta(hours=2)


# Daily 09:00 in Berlin, 07:00 UTC in June.
@pytest.mark.parametrize(
    ("last_run", "created_at", "now", "post", "skip"),
    [
        # Down 30 minutes past the run: post it.
        (utc(2026, 6, 9, 7), None, utc(2026, 6, 10, 7, 30), utc(2026, 6, 10, 7), []),
        # Exactly the grace late: still posted.
        (utc(2026, 6, 9, 7), None, utc(2026, 6, 10, 9), utc(2026, 6, 10, 7), []),
        # Down 3 hours past it: skip it.
        (utc(2026, 6, 9, 7), None, utc(2026, 6, 10, 10), None, [utc(2026, 6, 10, 7)]),
        # Down 3 days: post the latest, skip the two before.
        (
            utc(2026, 6, 7, 7),
            None,
            utc(2026, 6, 10, 8),
            utc(2026, 6, 10, 7),
            [utc(2026, 6, 8, 7), utc(2026, 6, 9, 7)],
        ),
        # Down 3 days and the latest is past the grace too: skip all three.
        (
            utc(2026, 6, 7, 7),
            None,
            utc(2026, 6, 10, 12),
            None,
            [utc(2026, 6, 8, 7), utc(2026, 6, 9, 7), utc(2026, 6, 10, 7)],
        ),
        # Nothing missed since the last run.
        (utc(2026, 6, 10, 7), None, utc(2026, 6, 10, 20), None, []),
        # Never ran, created after today's run: nothing missed.
        (None, utc(2026, 6, 10, 8), utc(2026, 6, 10, 9), None, []),
        # Never ran, created before today's run: that run was missed.
        (None, utc(2026, 6, 10, 6), utc(2026, 6, 10, 7, 10), utc(2026, 6, 10, 7), []),
        # The last run wins over the creation time.
        (utc(2026, 6, 10, 7), utc(2026, 6, 1), utc(2026, 6, 10, 8), None, []),
        # Nothing known about the subscription's age: nothing can be said to be missed.
        (None, None, utc(2026, 6, 10, 8), None, []),
    ],
)
def test_missed_runs(
    last_run: datetime | None,
    created_at: datetime | None,
    now: datetime,
    post: datetime | None,
    skip: list[datetime],
) -> None:
    assert missed_runs(sub(created_at=created_at), last_run, now, GRACE) == (post, skip)


def test_missed_runs_over_a_weekend_for_weekdays() -> None:
    # Friday's run, then down until Monday 09:30 in Berlin.
    subscription = sub(days=Days.WEEKDAYS)
    assert missed_runs(subscription, utc(2026, 6, 12, 7), utc(2026, 6, 15, 7, 30), GRACE) == (
        utc(2026, 6, 15, 7),
        [],
    )


@pytest.mark.parametrize("tz", ["Mars/Olympus", "", "America", "../etc/passwd", "Europe/Berlin "])
def test_an_unknown_zone_is_a_clear_value_error(tz: str) -> None:
    subscription = sub(tz=tz)
    now = utc(2026, 6, 10)
    calls = [
        lambda: next_due(subscription, now),
        lambda: previous_due(subscription, now),
        lambda: due_times(subscription, now, now + timedelta(days=1)),
        lambda: local_date(subscription, now),
        lambda: missed_runs(subscription, now, now + timedelta(days=1), GRACE),
    ]
    for call in calls:
        with pytest.raises(ValueError, match="unknown time zone"):
            call()


def test_naive_instants_and_negative_grace_are_refused() -> None:
    naive = datetime(2026, 6, 10, 7)
    aware = utc(2026, 6, 10, 7)
    calls = [
        lambda: next_due(sub(), naive),
        lambda: previous_due(sub(), naive),
        lambda: due_times(sub(), naive, aware),
        lambda: due_times(sub(), aware, naive),
        lambda: local_date(sub(), naive),
        lambda: missed_runs(sub(), None, naive, GRACE),
        lambda: missed_runs(sub(), naive, aware, GRACE),
        lambda: missed_runs(sub(created_at=naive), None, aware, GRACE),
    ]
    for call in calls:
        with pytest.raises(ValueError, match="aware"):
            call()
    with pytest.raises(ValueError, match="grace"):
        missed_runs(sub(), aware, aware, -GRACE)


def test_an_empty_or_reversed_window_has_no_runs() -> None:
    assert due_times(sub(), utc(2026, 6, 10, 7), utc(2026, 6, 10, 7)) == []
    assert due_times(sub(), utc(2026, 6, 11), utc(2026, 6, 10)) == []


ZONES = sorted(available_timezones())
WINDOW = timedelta(days=40)


def _gap_shift(zone: ZoneInfo, day: date, at: time) -> timedelta:
    """How far the clocks jump over `at` on `day`: zero unless `at` does not exist that day."""
    wall = datetime.combine(day, at, tzinfo=zone)
    if wall.astimezone(UTC).astimezone(zone).replace(tzinfo=None) == wall.replace(tzinfo=None):
        return timedelta(0)
    offsets = [wall.replace(fold=fold).utcoffset() for fold in (0, 1)]
    assert offsets[0] is not None and offsets[1] is not None
    return offsets[1] - offsets[0]


def _never_shown(zone: ZoneInfo, day: date, start: datetime, end: datetime) -> bool:
    instant = start
    while instant < end:
        if instant.astimezone(zone).date() == day:
            return False
        instant += timedelta(minutes=15)
    return True


@settings(max_examples=300, deadline=None)
@given(
    tz=st.sampled_from(ZONES),
    at=st.builds(time, st.integers(0, 23), st.integers(0, 59)),
    days=st.sampled_from(list(Days)),
    start=st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2037, 12, 31)).map(
        lambda d: d.replace(tzinfo=UTC)
    ),
    probe=st.floats(0, 1),
)
@example(tz="Pacific/Apia", at=time(9), days=Days.DAILY, start=utc(2011, 12, 1), probe=0.7)
@example(tz="Pacific/Apia", at=time(0), days=Days.WEEKDAYS, start=utc(2011, 12, 1), probe=0.7)
@example(tz="Europe/Berlin", at=time(2, 30), days=Days.DAILY, start=utc(2026, 3, 1), probe=0.7)
@example(tz="Antarctica/Casey", at=time(23, 30), days=Days.DAILY, start=utc(2010, 2, 20), probe=0)
def test_one_run_per_local_day(
    tz: str, at: time, days: Days, start: datetime, probe: float
) -> None:
    subscription = sub(at.isoformat("minutes"), tz, days)
    zone = ZoneInfo(tz)
    end = start + WINDOW
    runs = due_times(subscription, start, end)
    dates = [local_date(subscription, run) for run in runs]

    assert all(start < run <= end and run.tzinfo is UTC for run in runs)
    assert all(a < b for a, b in pairwise(runs))
    assert all(a < b for a, b in pairwise(dates))  # one run per day at most
    if days is Days.WEEKDAYS:
        assert all(d.weekday() < 5 for d in dates)
    # No day between two runs lacks one, unless it is a weekend or the clocks never show it.
    for (r1, d1), (r2, d2) in pairwise(zip(runs, dates, strict=True)):
        day = d1 + timedelta(days=1)
        while day < d2:
            weekend = days is Days.WEEKDAYS and day.weekday() >= 5
            assert weekend or _never_shown(zone, day, r1, r2), (d1, day, d2)
            day += timedelta(days=1)
    # Nor at the edges of the window.
    assert runs, "40 days always hold a run"
    assert next_due(subscription, start) == runs[0]
    assert previous_due(subscription, runs[0]) <= start
    assert next_due(subscription, runs[-1]) > end
    # Each run shows `at`, or `at` pushed forward by the gap it falls in.
    for run, day in zip(runs, dates, strict=True):
        shown = run.astimezone(zone).replace(tzinfo=None)
        assert shown == datetime.combine(day, at) + _gap_shift(zone, day, at)

    # previous_due and next_due agree on any instant inside the window.
    x = start + probe * WINDOW
    before = previous_due(subscription, x)
    after = next_due(subscription, before)
    assert before < x <= after
    assert due_times(subscription, before, after) == [after]
    assert previous_due(subscription, after) == before
    if x in runs:
        assert after == x
