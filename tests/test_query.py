"""The `/dms-tasks` grammar: windows in several zones, filters, errors, button state."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.blockkit import MAX_BUTTON_VALUE, slack_len
from bot.domain.query import DEFAULT_LIMIT, TaskFilters, TaskQuery, TimeWindow
from bot.grammar.parser import parse_command
from bot.grammar.state import decode_state, encode_state
from bot.grammar.words import HelpRequest, QueryError
from bot.render.timewords import describe_window, format_duration

# 14:07 CET, 05:07 PST, 18:37 IST, and already 02:52 on the 29th in the Chatham Islands (+13:45).
NOW = datetime(2026, 11, 28, 13, 7, tzinfo=UTC)
UTC_Z = ZoneInfo("UTC")
BERLIN = ZoneInfo("Europe/Berlin")
LA = ZoneInfo("America/Los_Angeles")
KOLKATA = ZoneInfo("Asia/Kolkata")
CHATHAM = ZoneInfo("Pacific/Chatham")


def utc(month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, second, tzinfo=UTC)


def query(text: str, tz: ZoneInfo = UTC_Z, now: datetime = NOW) -> TaskQuery:
    parsed = parse_command(text, now=now, tz=tz)
    assert isinstance(parsed, TaskQuery), parsed
    return parsed


def error(text: str, tz: ZoneInfo = UTC_Z, now: datetime = NOW) -> QueryError:
    with pytest.raises(QueryError) as caught:
        parse_command(text, now=now, tz=tz)
    return caught.value


def assert_example_works(exc: QueryError, tz: ZoneInfo, now: datetime = NOW) -> TaskQuery:
    # Examples are the text after the command: the renderer names the command.
    parsed = parse_command(exc.example, now=now, tz=tz)
    assert isinstance(parsed, TaskQuery), exc.example
    return parsed


# ---- windows ---------------------------------------------------------------------------------

WINDOWS = [
    # text, zone, begin (UTC), end (UTC), label
    ("prod-orders last 1h", UTC_Z, utc(11, 28, 12, 7), NOW, "last 1 h"),
    ("prod-orders last 1 h", BERLIN, utc(11, 28, 12, 7), NOW, "last 1 h"),
    ("prod-orders LAST 1H", KOLKATA, utc(11, 28, 12, 7), NOW, "last 1 h"),
    ("x last 90 minutes", UTC_Z, utc(11, 28, 11, 37), NOW, "last 90 min"),
    ("x last 1.5h", UTC_Z, utc(11, 28, 11, 37), NOW, "last 1.5 h"),
    ("x last 0.1 h", UTC_Z, utc(11, 28, 13, 1), NOW, "last 0.1 h"),
    ("x last 010m", UTC_Z, utc(11, 28, 12, 57), NOW, "last 10 min"),
    ("x\u200b last\ufeff 1h", UTC_Z, utc(11, 28, 12, 7), NOW, "last 1 h"),
    ("x last 15m", LA, utc(11, 28, 12, 52), NOW, "last 15 min"),
    ("x last 30 sec", UTC_Z, utc(11, 28, 13, 6, 30), NOW, "last 30 s"),
    ("x last 2d", CHATHAM, utc(11, 26, 13, 7), NOW, "last 2 d"),
    ("x last 1w", UTC_Z, utc(11, 21, 13, 7), NOW, "last 1 w"),
    ("x last 3 hrs", UTC_Z, utc(11, 28, 10, 7), NOW, "last 3 h"),
    ("x last hour", UTC_Z, utc(11, 28, 12, 7), NOW, "last 1 h"),
    ("x last day", BERLIN, utc(11, 27, 13, 7), NOW, "last 1 d"),
    ("x last 31d", UTC_Z, utc(10, 28, 13, 7), NOW, "last 31 d"),
    ("x", UTC_Z, utc(11, 27, 13, 7), NOW, "last 24 h"),
    ("", CHATHAM, utc(11, 27, 13, 7), NOW, "last 24 h"),
    # since HH:MM: the latest such local time before now
    ("x since 09:00", UTC_Z, utc(11, 28, 9), NOW, "since 09:00"),
    ("x since 09:00", BERLIN, utc(11, 28, 8), NOW, "since 09:00"),
    ("x since 09:00", LA, utc(11, 27, 17), NOW, "since 09:00"),
    ("x since 09:00", KOLKATA, utc(11, 28, 3, 30), NOW, "since 09:00"),
    ("x since 09:00", CHATHAM, utc(11, 27, 19, 15), NOW, "since 09:00"),
    ("x since 02:00", CHATHAM, utc(11, 28, 12, 15), NOW, "since 02:00"),
    ("x since 14:00", UTC_Z, utc(11, 27, 14), NOW, "since 14:00"),
    ("x since 15:00", BERLIN, utc(11, 27, 14), NOW, "since 15:00"),
    ("x since 19:00", KOLKATA, utc(11, 27, 13, 30), NOW, "since 19:00"),
    ("x since 9am", BERLIN, utc(11, 28, 8), NOW, "since 09:00"),
    ("x since 9 AM", BERLIN, utc(11, 28, 8), NOW, "since 09:00"),
    ("x since 9:30pm", UTC_Z, utc(11, 27, 21, 30), NOW, "since 21:30"),
    ("x since 9:30 pm", UTC_Z, utc(11, 27, 21, 30), NOW, "since 21:30"),
    ("x since 12am", UTC_Z, utc(11, 28, 0), NOW, "since 00:00"),
    ("x since 12pm", UTC_Z, utc(11, 28, 12), NOW, "since 12:00"),
    ("x since noon", KOLKATA, utc(11, 28, 6, 30), NOW, "since 12:00"),
    ("x since 7:05", UTC_Z, utc(11, 28, 7, 5), NOW, "since 07:05"),
    # since a day
    ("x since yesterday", UTC_Z, utc(11, 27), NOW, "since yesterday"),
    ("x since yesterday", BERLIN, utc(11, 26, 23), NOW, "since yesterday"),
    ("x since yesterday", CHATHAM, utc(11, 27, 10, 15), NOW, "since yesterday"),
    ("x since yesterday 18:00", BERLIN, utc(11, 27, 17), NOW, "since yesterday 18:00"),
    ("x since today", LA, utc(11, 28, 8), NOW, "today"),
    ("x since 2026-11-27 09:00", UTC_Z, utc(11, 27, 9), NOW, "since 2026-11-27 09:00"),
    ("x since 2026-11-27 09:00", LA, utc(11, 27, 17), NOW, "since 2026-11-27 09:00"),
    ("x since 2026-11-27T09:00", BERLIN, utc(11, 27, 8), NOW, "since 2026-11-27 09:00"),
    ("x since 2026-11-27", KOLKATA, utc(11, 26, 18, 30), NOW, "since 2026-11-27"),
    # between
    (
        "x between 09:00 and 12:00",
        UTC_Z,
        utc(11, 28, 9),
        utc(11, 28, 12),
        "between 09:00 and 12:00",
    ),
    (
        "x between 09:00 and 12:00",
        BERLIN,
        utc(11, 28, 8),
        utc(11, 28, 11),
        "between 09:00 and 12:00",
    ),
    (
        "x between 09:00 and 11:30",
        KOLKATA,
        utc(11, 28, 3, 30),
        utc(11, 28, 6),
        "between 09:00 and 11:30",
    ),
    ("x between 09:00 and 23:00", UTC_Z, utc(11, 28, 9), NOW, "between 09:00 and 23:00"),
    (
        "x between 2026-11-27 09:00 and 2026-11-27 12:00",
        UTC_Z,
        utc(11, 27, 9),
        utc(11, 27, 12),
        "between 2026-11-27 09:00 and 2026-11-27 12:00",
    ),
    (
        "x between 2026-11-27 09:00 and 2026-11-27 12:00",
        LA,
        utc(11, 27, 17),
        utc(11, 27, 20),
        "between 2026-11-27 09:00 and 2026-11-27 12:00",
    ),
    (
        "x between 2026-11-28 09:00 and 2026-11-28 12:00",
        CHATHAM,
        utc(11, 27, 19, 15),
        utc(11, 27, 22, 15),
        "between 2026-11-28 09:00 and 2026-11-28 12:00",
    ),
    (
        "x BETWEEN 2026-11-27 09:00 AND 12:00",
        UTC_Z,
        utc(11, 27, 9),
        utc(11, 27, 12),
        "between 2026-11-27 09:00 and 12:00",
    ),
    (
        "x between 2026-11-20 and 2026-11-27",
        BERLIN,
        utc(11, 19, 23),
        utc(11, 27, 23),
        "between 2026-11-20 and 2026-11-27",
    ),
    (
        "x between 2026-09-01 and 2026-09-30",
        UTC_Z,
        utc(9, 1),
        utc(10, 1),
        "between 2026-09-01 and 2026-09-30",
    ),
    (
        "x between yesterday 22:00 and today 01:00",
        UTC_Z,
        utc(11, 27, 22),
        utc(11, 28, 1),
        "between yesterday 22:00 and today 01:00",
    ),
    (
        "x between 9am and 11:30am",
        UTC_Z,
        utc(11, 28, 9),
        utc(11, 28, 11, 30),
        "between 09:00 and 11:30",
    ),
    # calendar days
    ("x today", UTC_Z, utc(11, 28), NOW, "today"),
    ("x today", BERLIN, utc(11, 27, 23), NOW, "today"),
    ("x Today", LA, utc(11, 28, 8), NOW, "today"),
    ("x today", KOLKATA, utc(11, 27, 18, 30), NOW, "today"),
    ("x today", CHATHAM, utc(11, 28, 10, 15), NOW, "today"),
    ("x yesterday", UTC_Z, utc(11, 27), utc(11, 28), "yesterday"),
    ("x yesterday", BERLIN, utc(11, 26, 23), utc(11, 27, 23), "yesterday"),
    ("x yesterday", LA, utc(11, 27, 8), utc(11, 28, 8), "yesterday"),
    ("x yesterday", KOLKATA, utc(11, 26, 18, 30), utc(11, 27, 18, 30), "yesterday"),
    ("x yesterday", CHATHAM, utc(11, 27, 10, 15), utc(11, 28, 10, 15), "yesterday"),
    # words in any order after the target
    ("x status=failed today", UTC_Z, utc(11, 28), NOW, "today"),
    ("x limit=5 last 2h status=failed", UTC_Z, utc(11, 28, 11, 7), NOW, "last 2 h"),
]


@pytest.mark.parametrize(("text", "tz", "begin", "end", "label"), WINDOWS)
def test_window_maps_to_utc(
    text: str, tz: ZoneInfo, begin: datetime, end: datetime, label: str
) -> None:
    parsed = query(text, tz)
    assert parsed.window.begin == begin
    assert parsed.window.end == end
    assert parsed.window.label == label
    assert parsed.window.begin.utcoffset() == timedelta(0)
    assert parsed.window.end.utcoffset() == timedelta(0)


def test_now_is_cut_to_whole_seconds() -> None:
    now = NOW + timedelta(seconds=12, microseconds=345_678)
    parsed = query("x last 1h", now=now)
    assert parsed.window.end == NOW + timedelta(seconds=12)
    assert parsed.window.begin == NOW + timedelta(seconds=12) - timedelta(hours=1)


def test_since_a_time_at_that_very_second_means_the_day_before() -> None:
    parsed = query("x since 13:07")
    assert parsed.window.begin == utc(11, 27, 13, 7)


# ---- daylight saving time (Europe/Berlin: 2026-03-29 02:00 -> 03:00, 2026-10-25 03:00 -> 02:00)

DST = [
    # text, now, begin, end
    ("x today", utc(3, 29, 20), utc(3, 28, 23), utc(3, 29, 20)),
    ("x yesterday", utc(3, 30, 12), utc(3, 28, 23), utc(3, 29, 22)),  # 23 h
    ("x today", utc(10, 25, 20), utc(10, 24, 22), utc(10, 25, 20)),
    ("x yesterday", utc(10, 26, 12), utc(10, 24, 22), utc(10, 25, 23)),  # 25 h
    # 02:30 does not exist on 29 March: read with the offset before the jump (CET).
    ("x since 02:30", utc(3, 29, 20), utc(3, 29, 1, 30), utc(3, 29, 20)),
    # 02:30 happens twice on 25 October: the first one (CEST).
    ("x since 02:30", utc(10, 25, 20), utc(10, 25, 0, 30), utc(10, 25, 20)),
    ("x between 02:30 and 02:45", utc(10, 25, 20), utc(10, 25, 0, 30), utc(10, 25, 0, 45)),
    ("x between 01:00 and 04:00", utc(3, 29, 20), utc(3, 29, 0), utc(3, 29, 2)),  # 2 h
    ("x between 01:00 and 04:00", utc(10, 25, 20), utc(10, 24, 23), utc(10, 25, 3)),  # 4 h
    ("x since 2026-03-29 02:30", utc(3, 30, 12), utc(3, 29, 1, 30), utc(3, 30, 12)),
    # A duration is elapsed time, even across the change.
    ("x last 1d", utc(3, 29, 20), utc(3, 28, 20), utc(3, 29, 20)),
    ("x last 24h", utc(10, 25, 20), utc(10, 24, 20), utc(10, 25, 20)),
]


@pytest.mark.parametrize(("text", "now", "begin", "end"), DST)
def test_berlin_dst_days(text: str, now: datetime, begin: datetime, end: datetime) -> None:
    parsed = query(text, BERLIN, now)
    assert (parsed.window.begin, parsed.window.end) == (begin, end)


def test_skipped_hour_between_its_edges_holds_no_time() -> None:
    # 02:30 (skipped, read as CET) and 03:30 CEST are the same instant.
    exc = error("x between 02:30 and 03:30", BERLIN, utc(3, 29, 20))
    assert "holds no time" in exc.message
    assert_example_works(exc, BERLIN, utc(3, 29, 20))


def test_los_angeles_dst_day_is_25_hours() -> None:
    # 2026-11-01: 02:00 PDT -> 01:00 PST.
    parsed = query("x yesterday", LA, utc(11, 2, 20))
    assert parsed.window.end - parsed.window.begin == timedelta(hours=25)


# ---- target ----------------------------------------------------------------------------------

TARGETS = [
    ("prod-orders last 1h", "prod-orders"),
    ("Prod-Orders", "Prod-Orders"),
    ("4f1c9a70-5b1e-4c7a-9f1d-2a6b8c0de2a1 today", "4f1c9a70-5b1e-4c7a-9f1d-2a6b8c0de2a1"),
    ("last 1h", None),
    ("LAST 1h", None),
    ("since 09:00", None),
    ("between 09:00 and 10:00", None),
    ("today", None),
    ("yesterday", None),
    ("status=failed", None),
    ("Name=*x*", None),
    ("user=bob", None),
    ("limit=5", None),
    ("page=2", None),
    ("", None),
    ("   ", None),
    ('"my instance" today', "my instance"),
    ('"today" last 1h', "today"),
    ("foo=bar", "foo=bar"),
]


@pytest.mark.parametrize(("text", "target"), TARGETS)
def test_first_word_is_the_target_unless_a_keyword(text: str, target: str | None) -> None:
    assert query(text).target == target


@pytest.mark.parametrize(
    "text", ["help", "HELP", "prod-orders help", "?", "--help", "-h", "x last 1h help"]
)
def test_help(text: str) -> None:
    assert parse_command(text, now=NOW, tz=BERLIN) == HelpRequest()


# ---- filters and options ---------------------------------------------------------------------

FILTERS = [
    ("x status=failed", {"FAILED"}, None, None),
    ("x STATUS=Failed,Executing", {"FAILED", "EXECUTING"}, None, None),
    ("x status=failure,running", {"FAILED", "EXECUTING"}, None, None),
    ("x status=in-progress", {"EXECUTING"}, None, None),
    ("x status=succeeded,ok,done,success", {"SUCCESS"}, None, None),
    ("x status=pending,queued,created", {"CREATED"}, None, None),
    ("x status=canceled status=cancelled", {"CANCELLED"}, None, None),
    ("x status=deleted status=failed", {"DELETED", "FAILED"}, None, None),
    ("x status=FAILED,", {"FAILED"}, None, None),
    ("x name=*Topic*", set(), "*Topic*", None),
    ('x name="reset offset*"', set(), "reset offset*", None),
    ("x name='reset offset*'", set(), "reset offset*", None),
    ("x user=Alice", set(), None, "Alice"),
    ('x user="Alice Smith"', set(), None, "Alice Smith"),
    ("x user=“Alice Smith”", set(), None, "Alice Smith"),
    ("x user=O'Brien", set(), None, "O'Brien"),
    ("x user=a=b", set(), None, "a=b"),
    ("x status=failed name=*offset* user=bob", {"FAILED"}, "*offset*", "bob"),
    # Slack sends &, < and > as entities.
    # Slack's entities are undone at the Slack edge (handlers), so the grammar sees plain text.
    ("x name=R&D user=a<b>", set(), "R&D", "a<b>"),
    ("x name=&lt;", set(), "&lt;", None),
]


@pytest.mark.parametrize(("text", "statuses", "glob", "user"), FILTERS)
def test_filters(text: str, statuses: set[str], glob: str | None, user: str | None) -> None:
    parsed = query(text)
    assert parsed.filters == TaskFilters(frozenset(statuses), glob, user)
    assert parsed.filters.active == bool(statuses or glob or user)


@pytest.mark.parametrize(
    ("text", "limit", "page"),
    [("x", DEFAULT_LIMIT, 1), ("x limit=1", 1, 1), ("x LIMIT=100", 100, 1), ("x page=3", 10, 3)],
)
def test_limit_and_page(text: str, limit: int, page: int) -> None:
    parsed = query(text)
    assert (parsed.limit, parsed.page) == (limit, page)


MATCHES = [
    # filters, (name, user, status), expected
    (TaskFilters(), ("anything", "anyone", "SUCCESS"), True),
    (TaskFilters(statuses=frozenset({"FAILED"})), ("a", "b", "FAILED"), True),
    (TaskFilters(statuses=frozenset({"FAILED"})), ("a", "b", "failed"), True),
    (TaskFilters(statuses=frozenset({"FAILED"})), ("a", "b", "SUCCESS"), False),
    (TaskFilters(name_glob="*Topic*"), ("modifyAutoTopic", "", ""), True),
    (TaskFilters(name_glob="*topic"), ("modifyAutoTopic", "", ""), True),
    (TaskFilters(name_glob="topic*"), ("modifyAutoTopic", "", ""), False),
    (TaskFilters(name_glob="kafka?lient*"), ("kafkaClientQuotaCreate", "", ""), True),
    (TaskFilters(name_glob="[km]*"), ("modifyAutoTopic", "", ""), True),
    # no wildcard: a substring
    (TaskFilters(name_glob="offset"), ("kafkaResetConsumerOffset", "", ""), True),
    (TaskFilters(name_glob="quota"), ("kafkaResetConsumerOffset", "", ""), False),
    (TaskFilters(user="alice"), ("", "Alice", ""), True),
    (TaskFilters(user="alice"), ("", "alice.smith", ""), False),
    (
        TaskFilters(frozenset({"FAILED"}), "*offset*", "bob"),
        ("kafkaResetConsumerOffset", "BOB", "FAILED"),
        True,
    ),
    (
        TaskFilters(frozenset({"FAILED"}), "*offset*", "bob"),
        ("kafkaResetConsumerOffset", "alice", "FAILED"),
        False,
    ),
]


@pytest.mark.parametrize(("filters", "task", "expected"), MATCHES)
def test_filters_match(filters: TaskFilters, task: tuple[str, str, str], expected: bool) -> None:
    name, user, status = task
    assert filters.matches(name=name, user=user, status=status) is expected


# ---- errors ----------------------------------------------------------------------------------

ERRORS = [
    # text, zone, fragments the message must contain
    ("prod-orders last 5x", BERLIN, ['"last 5x"', "isn't a window"]),
    ("prod-orders last", UTC_Z, ['"last"']),
    ("prod-orders last 2", UTC_Z, ['"last 2"']),
    ("prod-orders last 0m", UTC_Z, ['"last 0m"', "empty"]),
    ("prod-orders last 40d", UTC_Z, ['"last 40d"', "31 days", "between"]),
    ("prod-orders last 5w", UTC_Z, ['"last 5w"', "31 days"]),
    ("prod-orders last 99999999999999999999h", UTC_Z, ["31 days"]),
    ("prod-orders lsat 1h", UTC_Z, ['"lsat"', '"last"']),
    ("lsat 1h", UTC_Z, ['"lsat 1h"', '"last 1h"']),
    ("prod-orders yesterdy", UTC_Z, ['"yesterdy"', '"yesterday"']),
    ("prod-orders since", UTC_Z, ['"since"']),
    ("prod-orders since 25:00", UTC_Z, ['"since 25:00"']),
    ("prod-orders since 13pm", UTC_Z, ['"since 13pm"']),
    ("prod-orders since 2026-02-30", UTC_Z, ['"since 2026-02-30"']),
    ("prod-orders since 2026-12-01", UTC_Z, ['"since 2026-12-01"', "future", "13:07 UTC"]),
    ("prod-orders since 2026-11-28 23:00", BERLIN, ["future", "14:07 CET"]),
    ("prod-orders since 2026-10-01", UTC_Z, ['"since 2026-10-01"', "31 days", "between"]),
    ("prod-orders since 1900-01-01", UTC_Z, ['"since 1900-01-01"']),
    ("prod-orders since 0001-01-01", CHATHAM, ['"since 0001-01-01"']),
    ("prod-orders since 9999-12-31", CHATHAM, ['"since 9999-12-31"', "future"]),
    (
        "prod-orders between 2026-11-27 12:00 and 09:00",
        UTC_Z,
        ['"between 2026-11-27 12:00 and 09:00"', "before"],
    ),
    ("prod-orders between 2026-11-27 and 2026-11-20", UTC_Z, ["before"]),
    ("prod-orders between 09:00 and 12:00", LA, ['"between 09:00 and 12:00"', "future"]),
    ("prod-orders between 09:00", UTC_Z, ['"between 09:00"', "end"]),
    ("prod-orders between 09:00 and", UTC_Z, ['"between 09:00 and"']),
    ("prod-orders between 09:00 and banana", UTC_Z, ['"between 09:00 and banana"']),
    ("prod-orders between banana", UTC_Z, ['"between banana"']),
    ("prod-orders between 2026-09-01 and 2026-10-15", UTC_Z, ["31 days"]),
    ("prod-orders today yesterday", UTC_Z, ['"today"', '"yesterday"', "two windows"]),
    ("prod-orders last 1h since 09:00", UTC_Z, ['"last 1h"', '"since 09:00"', "two windows"]),
    ("prod-orders status=fo%o", UTC_Z, ['"fo%o"', "failed", "executing", "cancelled"]),
    ("prod-orders status=" + "a" * 41, UTC_Z, ["isn't a task status", "40"]),
    ("prod-orders status=a,b,c,d,e,f,g,h,i", UTC_Z, ["more than 8 statuses"]),
    ("prod-orders status=failed,runing", UTC_Z, ['"runing"', '"running"']),
    ("prod-orders status=", UTC_Z, ['"status="', "value"]),
    ("prod-orders status=,", UTC_Z, ['"status=,"']),
    ("prod-orders name=", UTC_Z, ['"name="']),
    ("prod-orders limit=0", UTC_Z, ['"limit=0"', "1 to 100"]),
    ("prod-orders limit=101", UTC_Z, ['"limit=101"', "1 to 100"]),
    ("prod-orders limit=abc", UTC_Z, ['"limit=abc"']),
    ("prod-orders limit=-1", UTC_Z, ['"limit=-1"']),
    ("prod-orders page=0", UTC_Z, ['"page=0"']),
    ("prod-orders name=a name=b", UTC_Z, ['"name=b"', "twice"]),
    ("prod-orders user=a USER=b", UTC_Z, ['"USER=b"', "twice"]),
    ("prod-orders limit=5 limit=6", UTC_Z, ['"limit=6"', "twice"]),
    ('prod-orders name="abc', UTC_Z, ["never closed"]),
    ("prod-orders user='bob", UTC_Z, ["never closed"]),
    ("prod-orders name=" + "a" * 101, UTC_Z, ["too long", "100"]),
    ("prod-orders user=" + "b" * 101, UTC_Z, ["too long", "100"]),
    ("p" * 101 + " last 1h", UTC_Z, ["too long", "100"]),
    ("prod-orders user=a\x01b", UTC_Z, ["control characters"]),
    ("prod-orders " + "x" * 1000, UTC_Z, ["1012 characters", "1000"]),
    ("prod-orders failed", UTC_Z, ['"failed"', '"status=failed"']),
    ("prod-orders faild", UTC_Z, ['"faild"', '"status=failed"']),
    ("prod-orders sinse 09:00", UTC_Z, ['"sinse"', '"since"']),
    ("prod-orders 1h", UTC_Z, ['"1h"', '"last 1h"']),
    ("prod-orders stauts=failed", UTC_Z, ['"stauts="', '"status="']),
    ("prod-orders foo=bar", UTC_Z, ['"foo="']),
    ("prod-orders banana", UTC_Z, ['"banana"']),
    ('"" last 1h', UTC_Z, ["empty"]),
]


@pytest.mark.parametrize(("text", "tz", "fragments"), ERRORS)
def test_bad_input_names_the_fragment_and_shows_a_working_example(
    text: str, tz: ZoneInfo, fragments: list[str]
) -> None:
    exc = error(text, tz)
    for fragment in fragments:
        assert fragment in exc.message
    assert "\n" not in exc.message
    assert_example_works(exc, tz)


@pytest.mark.parametrize(
    ("text", "tz", "example"),
    [
        ("prod-orders last 5x", BERLIN, "prod-orders last 5m"),
        ("prod-orders lsat 1h", BERLIN, "prod-orders last 1h"),
        ("lsat 1h status=failed", BERLIN, "last 1h status=failed"),
        ("prod-orders failed today", UTC_Z, "prod-orders status=failed today"),
        ("prod-orders 2h", UTC_Z, "prod-orders last 2h"),
        ("prod-orders status=fo%o,failed", UTC_Z, "prod-orders status=failed"),
        ("prod-orders limit=500", UTC_Z, "prod-orders limit=100"),
        ("prod-orders last 40d", UTC_Z, "prod-orders last 31d"),
        (
            "prod-orders since 2026-10-01 status=failed",
            UTC_Z,
            "prod-orders between 2026-10-01 and 2026-10-30 status=failed",
        ),
        (
            "prod-orders between 2026-11-27 12:00 and 09:00",
            UTC_Z,
            "prod-orders between 2026-11-27 12:00 and 2026-11-28 09:00",
        ),
        (
            "prod-orders between 2026-11-27 and 2026-11-20",
            UTC_Z,
            "prod-orders between 2026-11-20 and 2026-11-27",
        ),
        (
            "prod-orders between 15:00 and 16:00",
            UTC_Z,
            "prod-orders between 2026-11-27 15:00 and 2026-11-27 16:00",
        ),
        ("prod-orders today last 1h", UTC_Z, "prod-orders today"),
        ("prod-orders name=a name=b", UTC_Z, "prod-orders name=a"),
        ('prod-orders user="alice', UTC_Z, "prod-orders user=alice"),
        # Without the quote the words mean something else: close it instead.
        ('prod-orders user="Alice Smith', UTC_Z, 'prod-orders user="Alice Smith"'),
    ],
)
def test_examples_are_close_to_what_was_typed(text: str, tz: ZoneInfo, example: str) -> None:
    assert error(text, tz).example == example


def test_the_sketched_typo_message() -> None:
    exc = error("prod-orders last 5x", BERLIN)
    assert exc.message.startswith('"last 5x" isn\'t a window I understand.')
    for form in ('"last 90m"', '"since 09:00"', '"between 09:00 and 11:30"', '"today"'):
        assert form in exc.message


def test_today_at_midnight_has_no_time_yet() -> None:
    midnight = utc(11, 28)
    exc = error("x today", UTC_Z, midnight)
    assert '"today"' in exc.message
    assert exc.example == "x yesterday"
    assert_example_works(exc, UTC_Z, midnight)


# ---- describing a window ---------------------------------------------------------------------

DESCRIPTIONS = [
    # window, zone, now, text
    (
        TimeWindow(utc(11, 28, 12, 7), NOW, "last 1 h"),
        BERLIN,
        NOW,
        "last 1 h: 13:07–14:07 CET (12:07–13:07 UTC)",
    ),
    (TimeWindow(utc(11, 28, 12, 7), NOW, "last 1 h"), UTC_Z, NOW, "last 1 h: 12:07–13:07 UTC"),
    (
        TimeWindow(utc(11, 26, 23), utc(11, 27, 23), "yesterday"),
        BERLIN,
        NOW,
        "yesterday: 27 Nov 00:00–24:00 CET (26 Nov 23:00 – 27 Nov 23:00 UTC)",
    ),
    (
        TimeWindow(utc(11, 27, 13, 7), NOW, "last 24 h"),
        BERLIN,
        NOW,
        "last 24 h: 27 Nov 14:07 – 28 Nov 14:07 CET (27 Nov 13:07 – 28 Nov 13:07 UTC)",
    ),
    (
        TimeWindow(utc(11, 27, 18, 30), NOW, "today"),
        KOLKATA,
        NOW,
        "today: 00:00–18:37 IST (27 Nov 18:30 – 28 Nov 13:07 UTC)",
    ),
    (
        TimeWindow(utc(11, 28, 12, 7), NOW, "last 1 h"),
        CHATHAM,
        NOW,
        "last 1 h: 01:52–02:52 +1345 (12:07–13:07 UTC)",
    ),
    (
        TimeWindow(utc(11, 20, 9), utc(11, 20, 12), "between 2026-11-20 10:00 and 11:00"),
        BERLIN,
        NOW,
        "between 2026-11-20 10:00 and 11:00: 20 Nov 10:00–13:00 CET (20 Nov 09:00–12:00 UTC)",
    ),
    (
        TimeWindow(utc(10, 25, 0, 30), utc(10, 25, 1, 30), "between 02:30 and 02:30"),
        BERLIN,
        utc(10, 25, 2),
        "between 02:30 and 02:30: 02:30 CEST–02:30 CET (00:30–01:30 UTC)",
    ),
    (
        TimeWindow(
            datetime(2025, 12, 31, 22, tzinfo=UTC), datetime(2025, 12, 31, 23, tzinfo=UTC), "x"
        ),
        UTC_Z,
        utc(1, 2),
        "x: 31 Dec 2025 22:00–23:00 UTC",
    ),
]


@pytest.mark.parametrize(("window", "tz", "now", "text"), DESCRIPTIONS)
def test_describe_window(window: TimeWindow, tz: ZoneInfo, now: datetime, text: str) -> None:
    assert describe_window(window, tz, now=now) == text


def test_describe_window_without_a_clock_takes_the_window_end_as_today() -> None:
    window = TimeWindow(utc(11, 28, 12, 7), NOW, "last 1 h")
    assert describe_window(window, BERLIN) == "last 1 h: 13:07–14:07 CET (12:07–13:07 UTC)"


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (timedelta(0), "0 s"),
        (timedelta(milliseconds=900), "0 s"),
        (timedelta(seconds=5), "5 s"),
        (timedelta(seconds=59), "59 s"),
        (timedelta(seconds=60), "1 min"),
        (timedelta(minutes=9, seconds=59), "9 min"),
        (timedelta(hours=1), "1 h"),
        (timedelta(hours=1, minutes=10, seconds=30), "1 h 10 min"),
        (timedelta(hours=23, minutes=59), "23 h 59 min"),
        (timedelta(days=1), "1 d"),
        (timedelta(days=2, hours=3, minutes=59), "2 d 3 h"),
        (timedelta(days=400), "400 d"),
        (timedelta(seconds=-5), "-5 s"),
    ],
)
def test_format_duration(delta: timedelta, text: str) -> None:
    assert format_duration(delta) == text


# ---- button state ----------------------------------------------------------------------------

ROUND_TRIPS = [
    ("prod-orders last 1h", UTC_Z, None),
    ("prod-orders today status=failed,running limit=25 page=3", BERLIN, None),
    ('prod-orders name="reset offset*" user="Alice Smith"', KOLKATA, "8abfa7b372160bfd0172165864"),
    ("x between 2026-11-27 09:00 and 12:00", LA, "t"),
    ("'instance \"with\" quote' yesterday user=ü名前🙂", CHATHAM, "task-🙂"),
    ("", UTC_Z, None),
]


@pytest.mark.parametrize(("text", "tz", "task_id"), ROUND_TRIPS)
def test_state_round_trip(text: str, tz: ZoneInfo, task_id: str | None) -> None:
    parsed = query(text, tz)
    value = encode_state(parsed, task_id=task_id)
    assert slack_len(value) <= MAX_BUTTON_VALUE
    assert decode_state(value) == (parsed, task_id)


def test_page_two_shows_the_same_window_as_page_one_later() -> None:
    first = query("prod-orders last 1h status=failed limit=5", BERLIN)
    value = encode_state(TaskQuery(first.target, first.window, first.filters, first.limit, 2))
    second, _ = decode_state(value)
    assert second.window == first.window
    assert second.filters == first.filters
    assert (second.limit, second.page) == (5, 2)


def test_state_is_compact_json_with_short_keys() -> None:
    value = encode_state(query("prod-orders last 1h"), task_id="abc")
    assert json.loads(value) == {
        "v": 1,
        "t": "prod-orders",
        "b": int(utc(11, 28, 12, 7).timestamp()),
        "e": int(NOW.timestamp()),
        "l": "last 1 h",
        "a": "sliding",
        "k": "abc",
    }
    assert " " not in value.replace("last 1 h", "")


def test_largest_accepted_query_fits_a_button() -> None:
    target = '"' * 99 + "\\"
    smileys, backslashes = "🙂" * 100, "\\" * 100
    text = (
        f"'{target}' last 31d status=created,executing,success,failed,deleted,cancelled "
        f"name=\"{smileys}\" user='{backslashes}' limit=100 page=100000"
    )
    parsed = query(text)
    assert parsed.target == target
    worst_task_id = "\x00" * 128
    value = encode_state(parsed, task_id=worst_task_id)
    assert slack_len(value) <= MAX_BUTTON_VALUE
    assert decode_state(value) == (parsed, worst_task_id)


def test_largest_query_with_raw_statuses_fits_a_button() -> None:
    # Eight statuses of 40 characters, the most a query holds, with the worst of the rest.
    statuses = ",".join(f"s{n}" + "x" * 38 for n in range(8))
    target = '"' * 99 + "\\"
    smileys, backslashes = "🙂" * 100, "\\" * 100
    text = (
        f"'{target}' between 2026-11-20 09:00:30 Europe/Berlin and 2026-11-27 10:00:30 "
        f"status={statuses} name=\"{smileys}\" user='{backslashes}' limit=100 page=100000"
    )
    parsed = query(text)
    assert len(parsed.filters.statuses) == 8
    value = encode_state(parsed, task_id="\x00" * 128)
    assert slack_len(value) <= MAX_BUTTON_VALUE
    assert decode_state(value) == (parsed, "\x00" * 128)


def test_states_of_several_instances_round_trip() -> None:
    listed = query("prod-a,prod-b since 09:00 status=failed")
    on_b = TaskQuery(None, listed.window, listed.filters, targets=listed.targets, on="prod-b")
    value = encode_state(on_b, task_id="t1")
    assert json.loads(value)["g"] == "prod-a,prod-b" and json.loads(value)["i"] == 1
    assert decode_state(value) == (on_b, "t1")
    everything = TaskQuery(None, listed.window, targets=("all",), on="4f1c8a52-1111")
    value = encode_state(everything, task_id="t2")
    assert json.loads(value)["i"] == "4f1c8a52-1111"
    assert decode_state(value) == (everything, "t2")
    # The worst cases of several instances: tests/test_all_instances.py.


def test_a_task_id_too_long_for_a_button_is_refused_when_encoding() -> None:
    with pytest.raises(QueryError):
        encode_state(query("x"), task_id="a" * 129)


def state(**changes: object) -> str:
    data: dict[str, object] = {
        "v": 1,
        "t": "prod-orders",
        "b": int(utc(11, 28, 12, 7).timestamp()),
        "e": int(NOW.timestamp()),
        "l": "last 1 h",
    }
    data.update(changes)
    return json.dumps({k: v for k, v in data.items() if v is not ...})


TAMPERED = [
    "",
    "not json",
    "{",
    "[]",
    "null",
    "42",
    '"a string"',
    "{}",
    "[" * 1500 + "]" * 1500,
    "x" * 2001,
    state(v=2),
    state(v=True),
    state(v=...),
    state(b=...),
    state(l=...),
    state(b="1795867620"),
    state(b=1795867620.5),
    state(b=True),
    state(b=-1),
    state(e=10**20),
    state(e=int(utc(11, 28, 12, 7).timestamp())),  # end == begin
    state(e=int(utc(11, 28, 12).timestamp())),  # end before begin
    state(b=int(utc(10, 1).timestamp())),  # 58 days
    state(l=""),
    state(l="x" * 61),
    state(l=5),
    state(t=5),
    state(t=""),
    state(t="t" * 101),
    state(t="bad\u0000target"),
    state(t="\ud800"),
    state(s="FAILED"),
    state(s=["FAILED", "BO GUS"]),
    state(s=["FAILED", "X" * 41]),
    state(s=[f"S{n}" for n in range(9)]),
    state(s=["failed"]),
    state(s=[1]),
    state(n=""),
    state(n="n" * 101),
    state(u=["alice"]),
    state(m=0),
    state(m=101),
    state(m="10"),
    state(m=False),
    state(p=0),
    state(p=-3),
    state(p=10**6),
    state(p=1.0),
    state(k=""),
    state(k=12),
    state(k="k" * 129),
    state(x=1),
    # Several instances: a list, or all, never both with one target; the task's instance in it.
    state(g="a,b"),  # and t
    state(t=..., g=""),
    state(t=..., g="a,,b"),
    state(t=..., g=["a", "b"]),
    state(t=..., g=",".join(f"p{n}" for n in range(21))),
    state(t=..., g="a,all"),
    state(t=..., g="ALL"),
    state(t=..., g="a," + "x" * 101),
    state(t=..., g="a,b\u0000"),
    state(t=..., g="a,b", i=2),
    state(t=..., g="a,b", i=-1),
    state(t=..., g="a,b", i=True),
    state(t=..., g="a,b", i=1.0),
    state(t=..., g="a,b", i=""),
    state(t=..., g="all", i=0),
    state(t=..., i="a"),
    state(i="a"),
    '{"v":1,"b":NaN,"e":1795871220,"l":"x"}',
    '{"v":1,"b":1795867620,"e":Infinity,"l":"x"}',
]


@pytest.mark.parametrize("value", TAMPERED)
def test_tampered_or_malformed_state_is_a_query_error(value: str) -> None:
    with pytest.raises(QueryError) as caught:
        decode_state(value)
    assert "button" in caught.value.message
    parsed = parse_command(caught.value.example, now=NOW, tz=UTC_Z)
    assert isinstance(parsed, TaskQuery | HelpRequest)


def test_state_fields_are_optional_where_there_is_a_default() -> None:
    decoded, task_id = decode_state(state(t=None, k=None))
    assert decoded.target is None and task_id is None
    assert decoded.limit == DEFAULT_LIMIT and decoded.page == 1
    assert decoded.filters == TaskFilters()


def test_decoded_target_is_only_a_claim() -> None:
    # A copied value can name any instance; the service re-checks access for the channel, so the
    # grammar hands the target over as typed and does not treat it as authorised.
    decoded, _ = decode_state(state(t="someone-elses-instance"))
    assert decoded.target == "someone-elses-instance"
