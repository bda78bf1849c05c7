"""Windows, days, clock times and durations in words for people."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.domain.durations import DurationRange
from bot.domain.query import (
    TimeWindow,
)

# ---- words for people ------------------------------------------------------------------------


def format_duration(delta: timedelta) -> str:
    """`5 s`, `9 min`, `1 h 10 min`, `2 d 3 h`: two units at most, rounded down."""
    total = int(delta.total_seconds())
    sign = "-" if total < 0 else ""
    total = abs(total)
    if total < 60:
        return f"{sign}{total} s"
    minutes, hours, days = total // 60, total // 3600, total // 86400
    if total < 3600:
        return f"{sign}{minutes} min"
    if total < 86400:
        rest = minutes % 60
        return f"{sign}{hours} h {rest} min" if rest else f"{sign}{hours} h"
    rest = hours % 24
    return f"{sign}{days} d {rest} h" if rest else f"{sign}{days} d"


def format_day(day: date, today: date) -> str:
    """`5 Mar`, with the year only when it is not this year's."""
    text = f"{day.day} {day:%b}"
    return text if day.year == today.year else f"{text} {day.year}"


def format_duration_range(usual: DurationRange) -> str:
    """`4–6 min` when both ends share their unit, `50 s–2 min` when they do not."""
    low, high = format_duration(usual.low), format_duration(usual.high)
    if low == high:
        return low
    low_num, _, low_unit = low.rpartition(" ")
    high_num, _, high_unit = high.rpartition(" ")
    if low_unit == high_unit and low_num and high_num and " " not in low_num + high_num:
        return f"{low_num}–{high_num} {low_unit}"
    return f"{low}–{high}"


def zone_name(tz: ZoneInfo, at: datetime) -> str:
    """`CET` or `CEST`, whichever holds at `at`; the zone's key when it has no abbreviation."""
    return at.astimezone(tz).tzname() or str(tz)


def clock_time(moment: datetime, tz: ZoneInfo, now: datetime) -> str:
    """`13:58` today, `5 Mar 13:58` on another day, in the reader's zone."""
    try:
        local = moment.astimezone(tz)
    except OverflowError:
        # A timestamp at the edge of year 1 or 9999 (the API sends what it has) has no local time.
        return f"{moment.date().isoformat()} {moment:%H:%M} UTC"
    today = now.astimezone(tz).date()
    clock = f"{local:%H:%M}"
    return clock if local.date() == today else f"{format_day(local.date(), today)} {clock}"


def date_token(moment: datetime, pattern: str = "{date_short_pretty} {time}") -> str:
    """A Slack date token: each reader's client shows `moment` in their own zone; the text after
    `|` is the fallback (UTC) where a client cannot (notifications, old clients)."""
    utc = moment.astimezone(UTC)
    return f"<!date^{int(utc.timestamp())}^{pattern}|{utc:%Y-%m-%d %H:%M} UTC>"


def moment_text(moment: datetime, tz: ZoneInfo, now: datetime, *, public: bool) -> str:
    """When something happened: `13:58 (9 min ago)` for its reader, a date token for all."""
    if public:
        return date_token(moment)
    return f"{clock_time(moment, tz, now)} ({ago(moment, now)})"


def ago(moment: datetime, now: datetime) -> str:
    delta = now - moment
    if delta < timedelta(minutes=1):
        # Also covers small clock differences between DMS and us (a start "in the future").
        return "just now"
    return f"{format_duration(delta)} ago"


def _span(begin: datetime, end: datetime, reference: date) -> str:
    """Times of [begin, end) in begin's zone; dates only when the span crosses a day or is not
    on `reference` (today). An end at midnight reads as 24:00 of the day before."""
    begin_name, end_name = begin.tzname() or "", end.tzname() or ""
    end_day, end_clock = end.date(), f"{end:%H:%M}"
    if end.time() == time(0) and end_day > begin.date():
        end_day, end_clock = end_day - timedelta(days=1), "24:00"
    same_zone = begin_name == end_name
    first = f"{begin:%H:%M}" if same_zone else f"{begin:%H:%M} {begin_name}"
    if begin.date() == end_day == reference:
        return f"{first}–{end_clock} {end_name}"
    if begin.date() == end_day:
        return f"{format_day(begin.date(), reference)} {first}–{end_clock} {end_name}"
    return (
        f"{format_day(begin.date(), reference)} {first} – "
        f"{format_day(end_day, reference)} {end_clock} {end_name}"
    )


def describe_window(window: TimeWindow, tz: ZoneInfo, *, now: datetime | None = None) -> str:
    """`last 1 h: 13:07–14:07 CET (12:07–13:07 UTC)`. "Today" is the day of `now`, or of the
    window's end when no clock is given. The UTC part is left out when the zone is UTC-like."""
    reference = now or window.end
    begin, end = window.begin.astimezone(tz), window.end.astimezone(tz)
    local = _span(begin, end, reference.astimezone(tz).date())
    head = f"{window.label}: {local}"
    offsets = {begin.utcoffset(), end.utcoffset()}
    if offsets == {timedelta(0)}:
        return head
    utc = _span(
        window.begin.astimezone(UTC), window.end.astimezone(UTC), reference.astimezone(UTC).date()
    )
    return f"{head} ({utc})"
