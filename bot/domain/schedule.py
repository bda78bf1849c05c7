"""When a daily digest runs: the calendar arithmetic of `Subscription.at` in `Subscription.tz`.

Every run is computed from a local date, never by adding 24 hours to the previous run, so that
DST shifts and odd zones cannot make a run drift, double or vanish. The clock is always passed in.

DST, decided once for every zone:
- a local time the clocks skip (02:30 on a spring-forward night) runs when the clocks show that
  time pushed forward by the jump (03:30): it is read with the offset in force before the jump;
- a local time that happens twice (02:30 on a fall-back night) runs once, at its first occurrence.
Both are what zoneinfo does for `fold=0`, so a run is `datetime.combine(day, at, tzinfo=zone)`.
A day that the zone skips entirely (Pacific/Apia, 30 December 2011) has no run; every other day has
exactly one (Monday to Friday of the zone only, for `Days.WEEKDAYS`).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.domain.digests import Days, Subscription

_DAY = timedelta(days=1)
# No zone skips more than one day, and WEEKDAYS adds at most a weekend: a search for the run next
# to an instant never needs to look further than this many local days either way.
_SEARCH_DAYS = 8


def _zone(sub: Subscription) -> ZoneInfo:
    try:
        return ZoneInfo(sub.tz)
    except (ZoneInfoNotFoundError, ValueError, OSError, TypeError) as exc:
        # ZoneInfo fails differently for a missing name, a directory ("America"), a path or a
        # non-string; callers need one error that says which subscription and which name.
        raise ValueError(
            f"digest {sub.id}: unknown time zone {sub.tz!r} (expected an IANA name such as "
            "Europe/Berlin)"
        ) from exc


def _require_aware(value: datetime, name: str) -> None:
    # A naive instant would be read as the host's local time, which the domain must never see.
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime, got naive {value.isoformat()}")


def _wall(at: time) -> time:
    # fold=0 picks the first occurrence in an overlap and the pre-jump offset in a gap.
    return at.replace(tzinfo=None, fold=0)


def _instant(zone: ZoneInfo, at: time, day: date) -> datetime:
    return datetime.combine(day, _wall(at), tzinfo=zone).astimezone(UTC)


def _run_on(sub: Subscription, zone: ZoneInfo, day: date) -> datetime | None:
    """The run scheduled for local `day`, or None when `day` has none."""
    if sub.days is Days.WEEKDAYS and day.weekday() >= 5:
        return None
    run = _instant(zone, sub.at, day)
    shown = run.astimezone(zone).date()
    # A gap pushes a run forward; only a skipped whole day pushes it onto the next date, where it
    # lands exactly on that date's own run. Counting it twice would post the same instant twice.
    if shown != day and _instant(zone, sub.at, shown) == run:
        return None
    return run


def _local_day(zone: ZoneInfo, instant: datetime) -> date:
    return instant.astimezone(zone).date()


def due_times(sub: Subscription, after: datetime, until: datetime) -> list[datetime]:
    """Every run strictly after `after` and at or before `until`, in order, as aware UTC."""
    _require_aware(after, "after")
    _require_aware(until, "until")
    zone = _zone(sub)
    if until <= after:
        return []
    # A run shows on its own date or, pushed by a gap, the next; start a day early to catch it.
    day = _local_day(zone, after) - _DAY
    last = _local_day(zone, until)
    runs: list[datetime] = []
    while day <= last:
        run = _run_on(sub, zone, day)
        if run is not None and after < run <= until:
            runs.append(run)
        day += _DAY
    return runs


def next_due(sub: Subscription, after: datetime) -> datetime:
    """The first run strictly after `after`, as aware UTC."""
    _require_aware(after, "after")
    zone = _zone(sub)
    start = _local_day(zone, after) - _DAY
    for offset in range(_SEARCH_DAYS + 2):
        run = _run_on(sub, zone, start + offset * _DAY)
        # Runs grow with their local date, so the first one past `after` is the next.
        if run is not None and run > after:
            return run
    raise RuntimeError(f"digest {sub.id}: no run within {_SEARCH_DAYS} days of {after}")


def previous_due(sub: Subscription, before: datetime) -> datetime:
    """The last run strictly before `before`, as aware UTC: where a scheduled digest's period
    ("the time since its previous scheduled run") begins."""
    _require_aware(before, "before")
    zone = _zone(sub)
    start = _local_day(zone, before) + _DAY
    for offset in range(_SEARCH_DAYS + 2):
        run = _run_on(sub, zone, start - offset * _DAY)
        if run is not None and run < before:
            return run
    raise RuntimeError(f"digest {sub.id}: no run within {_SEARCH_DAYS} days of {before}")


def local_date(sub: Subscription, due: datetime) -> date:
    """The local date a run was scheduled for: with the subscription, the key that makes a run
    claimable exactly once.

    Usually the date the clocks show at `due`; a run pushed past midnight by a gap keeps the date
    it belongs to, so two runs never share a key. An instant that is no run gets the date shown.
    """
    _require_aware(due, "due")
    zone = _zone(sub)
    shown = _local_day(zone, due)
    for day in (shown, shown - _DAY):
        if _run_on(sub, zone, day) == due:
            return day
    return shown


def missed_runs(
    sub: Subscription, last_run: datetime | None, now: datetime, grace: timedelta
) -> tuple[datetime | None, list[datetime]]:
    """The runs missed since `last_run` (or since the subscription was created, when it never
    ran), as (the run to post now, the older runs to record as skipped).

    Only the most recent missed run is posted, and only when it is at most `grace` old: a channel
    should get one late digest after an outage, never a burst of stale ones. Everything else that
    was missed is skipped, oldest first.
    """
    _require_aware(now, "now")
    if grace < timedelta(0):
        raise ValueError(f"grace must not be negative, got {grace}")
    since = last_run if last_run is not None else sub.created_at
    if since is None:
        # With neither a run nor a creation time, any run found could predate the subscription.
        return None, []
    _require_aware(since, "last_run" if last_run is not None else "created_at")
    missed = due_times(sub, since, now)
    if missed and now - missed[-1] <= grace:
        return missed[-1], missed[:-1]
    return None, missed
