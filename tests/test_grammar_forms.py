"""The forms the grammar reads beyond the basics: zones, ISO times, compound durations, calendar
days, overnight ranges, pasted formatting and console links, any API status, `running`."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.domain.query import Anchor, TaskQuery
from bot.grammar.parser import parse_command
from bot.grammar.state import ButtonState
from bot.grammar.words import (
    RUNNING_NOW_LABEL,
    RUNNING_STATUSES,
    RUNNING_WINDOW,
    HelpRequest,
    QueryError,
)

# 14:07 CET, 05:07 PST, 18:37 IST.
NOW = datetime(2026, 11, 28, 13, 7, tzinfo=UTC)
UTC_Z = ZoneInfo("UTC")
BERLIN = ZoneInfo("Europe/Berlin")
LA = ZoneInfo("America/Los_Angeles")
KOLKATA = ZoneInfo("Asia/Kolkata")
G, S, F = Anchor.GROWING, Anchor.SLIDING, Anchor.FIXED
UUID = "4f1c8a52-1111-4222-8333-123456789abc"
CONSOLE = "https://console.huaweicloud.com/dms/?region=cn-north-4#/queue/manager/"


def utc(month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, second, tzinfo=UTC)


def query(text: str, tz: ZoneInfo = UTC_Z, now: datetime = NOW) -> TaskQuery:
    parsed = parse_command(text, now=now, tz=tz)
    assert isinstance(parsed, TaskQuery), parsed
    # Every accepted form fits a button and comes back equal.
    assert ButtonState.decode(ButtonState.of(parsed).encode()).query == parsed
    return parsed


def error(text: str, tz: ZoneInfo = UTC_Z, now: datetime = NOW) -> QueryError:
    with pytest.raises(QueryError) as caught:
        parse_command(text, now=now, tz=tz)
    example = parse_command(caught.value.example, now=now, tz=tz)
    assert isinstance(example, TaskQuery), caught.value.example
    return caught.value


WINDOWS = [
    # text, zone, begin (UTC), end (UTC), label, anchor
    # ISO timestamps, with or without seconds, Z or an offset
    ("x since 2026-11-27T09:00:00Z", BERLIN, utc(11, 27, 9), NOW, "since 2026-11-27 09:00 UTC", G),
    ("x since 2026-11-27T09:00Z", LA, utc(11, 27, 9), NOW, "since 2026-11-27 09:00 UTC", G),
    (
        "x since 2026-11-27T09:00:00+01:00",
        LA,
        utc(11, 27, 8),
        NOW,
        "since 2026-11-27 09:00 UTC+01:00",
        G,
    ),
    ("x since 2026-11-27T09:00+0530", UTC_Z, utc(11, 27, 3, 30), NOW, None, G),
    ("x since 2026-11-27T09:00:00-05:00", UTC_Z, utc(11, 27, 14), NOW, None, G),
    ("x since 2026-11-27T09:00:30.250Z", UTC_Z, utc(11, 27, 9, 0, 30), NOW, None, G),
    (
        "x since 2026-11-27 09:00:30",
        UTC_Z,
        utc(11, 27, 9, 0, 30),
        NOW,
        "since 2026-11-27 09:00:30",
        G,
    ),
    ("x since 2026-11-27 09:00+01:00", UTC_Z, utc(11, 27, 8), NOW, None, G),
    # a zone after a time: read there, not in the user's zone
    ("x since 09:00 CET", LA, utc(11, 28, 8), NOW, "since 09:00 CET", G),
    ("x since 09:00 cest", UTC_Z, utc(11, 28, 7), NOW, "since 09:00 CEST", G),
    ("x since 09:00 UTC", BERLIN, utc(11, 28, 9), NOW, "since 09:00 UTC", G),
    ("x since 09:00 GMT", BERLIN, utc(11, 28, 9), NOW, "since 09:00 GMT", G),
    ("x since 09:00 Z", BERLIN, utc(11, 28, 9), NOW, "since 09:00 UTC", G),
    ("x since 09:00Z", BERLIN, utc(11, 28, 9), NOW, "since 09:00 UTC", G),
    ("x since 9am EST", UTC_Z, utc(11, 28, 14) - timedelta(days=1), NOW, "since 09:00 EST", G),
    ("x since 09:00 EDT", UTC_Z, utc(11, 28, 13), NOW, None, G),
    ("x since 9am PST", BERLIN, utc(11, 27, 17), NOW, "since 09:00 PST", G),
    ("x since 04:00 PDT", UTC_Z, utc(11, 28, 11), NOW, None, G),
    ("x since 09:00 JST", UTC_Z, utc(11, 28, 0), NOW, "since 09:00 JST", G),
    ("x since 09:00 IST", BERLIN, utc(11, 28, 3, 30), NOW, "since 09:00 IST", G),
    ("x since 09:00 SGT", UTC_Z, utc(11, 28, 1), NOW, None, G),
    ("x since 09:00 HKT", UTC_Z, utc(11, 28, 1), NOW, None, G),
    ("x since 09:00 BST", UTC_Z, utc(11, 28, 8), NOW, None, G),
    ("x since 09:00 Europe/Berlin", LA, utc(11, 28, 8), NOW, "since 09:00 Europe/Berlin", G),
    ("x since 09:00 europe/berlin", LA, utc(11, 28, 8), NOW, "since 09:00 Europe/Berlin", G),
    ("x since 09:00 America/New_York", UTC_Z, utc(11, 28, 14) - timedelta(days=1), NOW, None, G),
    ("x since 09:00 UTC+2", UTC_Z, utc(11, 28, 7), NOW, "since 09:00 UTC+02:00", G),
    ("x since 09:00 gmt-05:00", UTC_Z, utc(11, 27, 14), NOW, "since 09:00 UTC-05:00", G),
    ("x since yesterday 18:00 JST", UTC_Z, utc(11, 27, 9), NOW, "since yesterday 18:00 JST", G),
    ("x since 2026-11-27 SGT", UTC_Z, utc(11, 26, 16), NOW, "since 2026-11-27 SGT", G),
    ("x since 2026-11-27 09:00 CET", LA, utc(11, 27, 8), NOW, "since 2026-11-27 09:00 CET", G),
    # in between, a zone on one end serves both
    (
        "x between 09:00 and 11:00 UTC",
        BERLIN,
        utc(11, 28, 9),
        utc(11, 28, 11),
        "between 09:00 and 11:00 UTC",
        F,
    ),
    ("x between 09:00 CET and 11:00", UTC_Z, utc(11, 28, 8), utc(11, 28, 10), None, F),
    (
        "x between 09:00 UTC and 11:00 CET",
        LA,
        utc(11, 28, 9),
        utc(11, 28, 10),
        "between 09:00 UTC and 11:00 CET",
        F,
    ),
    ("x today UTC", BERLIN, utc(11, 28), NOW, "today UTC", G),
    ("x yesterday CET", UTC_Z, utc(11, 26, 23), utc(11, 27, 23), "yesterday CET", F),
    # compound durations
    ("x last 1h30m", UTC_Z, utc(11, 28, 11, 37), NOW, "last 1 h 30 min", S),
    ("x last 1d12h", UTC_Z, utc(11, 27, 1, 7), NOW, "last 1 d 12 h", S),
    ("x last 2h 30m", BERLIN, utc(11, 28, 10, 37), NOW, "last 2 h 30 min", S),
    ("x last 2 hours 30 minutes", UTC_Z, utc(11, 28, 10, 37), NOW, "last 2 h 30 min", S),
    ("x last 1 hour and 30 minutes", UTC_Z, utc(11, 28, 11, 37), NOW, "last 1 h 30 min", S),
    ("x last 1hour30mins", UTC_Z, utc(11, 28, 11, 37), NOW, "last 1 h 30 min", S),
    ("x last 1w2d", UTC_Z, utc(11, 19, 13, 7), NOW, "last 1 w 2 d", S),
    ("x last 1h30m15s", UTC_Z, utc(11, 28, 11, 36, 45), NOW, "last 1 h 30 min 15 s", S),
    ("x LAST 1H30M", UTC_Z, utc(11, 28, 11, 37), NOW, "last 1 h 30 min", S),
    # a calendar day, with "on" or alone, in the user's zone
    ("x on 2026-11-27", BERLIN, utc(11, 26, 23), utc(11, 27, 23), "on 2026-11-27", F),
    ("x 2026-11-27", BERLIN, utc(11, 26, 23), utc(11, 27, 23), "on 2026-11-27", F),
    ("x 2026-11-27", LA, utc(11, 27, 8), utc(11, 28, 8), "on 2026-11-27", F),
    ("2026-11-27", UTC_Z, utc(11, 27), utc(11, 28), "on 2026-11-27", F),
    ("on 2026-11-27 status=failed", UTC_Z, utc(11, 27), utc(11, 28), "on 2026-11-27", F),
    ("x status=failed 2026-11-27", UTC_Z, utc(11, 27), utc(11, 28), "on 2026-11-27", F),
    ("x 2026-11-27 UTC", BERLIN, utc(11, 27), utc(11, 28), "on 2026-11-27 UTC", F),
    ("x on 2026-11-28", BERLIN, utc(11, 27, 23), NOW, "on 2026-11-28", F),  # so far
    ("x on today", BERLIN, utc(11, 27, 23), NOW, "today", G),
    ("x on yesterday", BERLIN, utc(11, 26, 23), utc(11, 27, 23), "yesterday", F),
    ("x on 2026-10-25", BERLIN, utc(10, 24, 22), utc(10, 25, 23), "on 2026-10-25", F),  # 25 h
    # overnight: both bare clock times, the end earlier: yesterday to today
    (
        "x between 23:00 and 01:00",
        UTC_Z,
        utc(11, 27, 23),
        utc(11, 28, 1),
        "between 23:00 and 01:00",
        F,
    ),
    ("x between 23:00 and 01:00", BERLIN, utc(11, 27, 22), utc(11, 28, 0), None, F),
    ("x between 12:00 and 09:00", UTC_Z, utc(11, 27, 12), utc(11, 28, 9), None, F),
    (
        "x between 10pm and 2am",
        UTC_Z,
        utc(11, 27, 22),
        utc(11, 28, 2),
        "between 22:00 and 02:00",
        F,
    ),
    ("x between 23:00 and 01:00 CET", UTC_Z, utc(11, 27, 22), utc(11, 28, 0), None, F),
    # dashes as typed or pasted
    (
        "x between 09:00–11:00",
        UTC_Z,
        utc(11, 28, 9),
        utc(11, 28, 11),
        "between 09:00 and 11:00",
        F,
    ),
    ("x between 09:00 — 11:00", UTC_Z, utc(11, 28, 9), utc(11, 28, 11), None, F),
    ("x between 09:00-11:00", UTC_Z, utc(11, 28, 9), utc(11, 28, 11), None, F),
    ("x between 9am-11am", UTC_Z, utc(11, 28, 9), utc(11, 28, 11), None, F),
    (
        "x between 2026-11-20–2026-11-27",
        UTC_Z,
        utc(11, 20),
        utc(11, 28),
        "between 2026-11-20 and 2026-11-27",
        F,
    ),
    ("x between 09:00 till 11:00", UTC_Z, utc(11, 28, 9), utc(11, 28, 11), None, F),
]


@pytest.mark.parametrize(("text", "tz", "begin", "end", "label", "anchor"), WINDOWS)
def test_window_forms(
    text: str,
    tz: ZoneInfo,
    begin: datetime,
    end: datetime,
    label: str | None,
    anchor: Anchor,
) -> None:
    window = query(text, tz).window
    assert (window.begin, window.end, window.anchor) == (begin, end, anchor)
    if label is not None:
        assert window.label == label


def test_a_zone_abbreviation_is_its_fixed_offset_all_year() -> None:
    # In July Berlin keeps CEST, but "CET" still says UTC+1.
    july = datetime(2026, 7, 1, 12, tzinfo=UTC)
    assert query("x since 09:00 CET", now=july).window.begin == datetime(2026, 7, 1, 8, tzinfo=UTC)
    berlin = query("x since 09:00 Europe/Berlin", now=july).window.begin
    assert berlin == datetime(2026, 7, 1, 7, tzinfo=UTC)


def test_a_zone_keeps_the_fold_rule() -> None:
    # 02:30 on Berlin's spring-forward night does not exist: read with the offset before it.
    now = utc(3, 29, 20)
    assert query("x since 02:30 Europe/Berlin", now=now).window.begin == utc(3, 29, 1, 30)


TARGETS = [
    ("*prod-orders* last 1h", "prod-orders"),
    ("_prod-orders_ last 1h", "prod-orders"),
    ("`prod-orders` last 1h", "prod-orders"),
    ("~prod-orders~", "prod-orders"),
    ("*_prod-orders_*", "prod-orders"),
    ("`prod-orders last 1h`", "prod-orders"),
    ("```prod-orders last 1h```", "prod-orders"),
    ("*prod-orders*, last 1h", "prod-orders"),
    ("prod–orders last 1h", "prod-orders"),
    ("prod—orders", "prod-orders"),
    ("prod-orders, last 1h.", "prod-orders"),
    ("prod-orders: today!", "prod-orders"),
    ("kafka_eu_1", "kafka_eu_1"),
    (f"{CONSOLE}newKafkaTaskList?instanceId={UUID}", UUID),
    (f"{CONSOLE}newKafkaTaskList?instanceId={UUID.upper()} last 1h", UUID),
    (f"<{CONSOLE}newKafkaTaskList?instanceId={UUID}>", UUID),
    (f"<{CONSOLE}kafka/detail/{UUID}/basic|Kafka console> today", UUID),
    (f"https://console.huaweicloud.com/dms/#/kafka/detail/{UUID}/basic", UUID),
    (f"https://console-intl.huaweicloud.com/dms/?region=ap-southeast-1#/kafka/detail/{UUID}", UUID),
    (f"console.huaweicloud.com/dms/#/kafka/detail/{UUID}", UUID),
    (f"last 1h {CONSOLE}newKafkaTaskList?instanceId={UUID}", UUID),
    (f"{UUID} {CONSOLE}newKafkaTaskList?instanceId={UUID}", UUID),
    ('"*literal*" today', "*literal*"),
]


@pytest.mark.parametrize(("text", "target"), TARGETS)
def test_pasted_targets(text: str, target: str) -> None:
    assert query(text, BERLIN).target == target


def test_pasted_formatting_leaves_globs_alone() -> None:
    parsed = query("*prod-orders* name=*offset* user=_bob_")
    assert (parsed.target, parsed.filters.name_glob, parsed.filters.user) == (
        "prod-orders",
        "*offset*",
        "_bob_",
    )


STATUSES = [
    ("x status=failed", {"FAILED"}),
    ("x status=rolling_back", {"ROLLING_BACK"}),
    ("x status=ROLLING_BACK,failed", {"ROLLING_BACK", "FAILED"}),
    ("x status=rolling-back", {"ROLLING_BACK"}),
    ("x status=creating", {"CREATING"}),
    ("x status=deleting,running", {"DELETING", "EXECUTING"}),
    ("x status=paused status=freezing", {"PAUSED", "FREEZING"}),
    ("x status=step2", {"STEP2"}),
    ("x status=failed.", {"FAILED"}),
    ("x status=" + "a" * 40, {"A" * 40}),
]


@pytest.mark.parametrize(("text", "statuses"), STATUSES)
def test_any_status_word_is_a_status(text: str, statuses: set[str]) -> None:
    assert query(text).filters.statuses == statuses


@pytest.mark.parametrize(
    ("text", "guess"),
    [
        ("x status=faild", "failed"),
        ("x status=runing", "running"),
        ("x status=canceld", "canceled"),
        ("x status=succes", "success"),
        ("x status=executin", "executing"),
    ],
)
def test_a_typo_of_an_alias_is_still_refused(text: str, guess: str) -> None:
    exc = error(text)
    assert f'Did you mean "{guess}"?' in exc.message
    assert exc.example == f"x status={guess}"


def test_a_raw_status_survives_the_button() -> None:
    parsed = query("x status=rolling_back,failed")
    value = ButtonState.of(parsed).encode()
    assert json.loads(value)["s"] == ["FAILED", "ROLLING_BACK"]
    assert ButtonState.decode(value).query.filters.statuses == {"FAILED", "ROLLING_BACK"}


@pytest.mark.parametrize("status", ["ROLLING_BACK", "PAUSED", "S" * 40, "STEP_2"])
def test_button_state_takes_any_api_status(status: str) -> None:
    value = json.dumps({"v": 1, "b": 1795867620, "e": 1795871220, "l": "x", "s": [status]})
    assert ButtonState.decode(value).query.filters.statuses == {status}


RUNNING = [
    ("prod-orders running", "prod-orders"),
    ("prod-orders RUNNING", "prod-orders"),
    ("running", None),
    ("prod-orders running user=me limit=5", "prod-orders"),
    ("prod-orders name=*offset* running", "prod-orders"),
]


@pytest.mark.parametrize(("text", "target"), RUNNING)
def test_running_is_what_runs_now(text: str, target: str | None) -> None:
    parsed = query(text, BERLIN)
    assert parsed.target == target
    assert parsed.filters.statuses == RUNNING_STATUSES == {"CREATED", "EXECUTING"}
    window = parsed.window
    assert (window.label, window.anchor) == (RUNNING_NOW_LABEL, Anchor.SLIDING)
    assert (window.begin, window.end) == (NOW - RUNNING_WINDOW, NOW)
    assert timedelta(days=7) == RUNNING_WINDOW


def test_running_with_a_window_keeps_the_window() -> None:
    parsed = query("prod-orders running last 1h")
    assert parsed.filters.statuses == RUNNING_STATUSES
    assert (parsed.window.label, parsed.window.begin) == ("last 1 h", utc(11, 28, 12, 7))


def test_running_as_a_status_alias_is_only_executing() -> None:
    assert query("x status=running").filters.statuses == {"EXECUTING"}


@pytest.mark.parametrize(
    "text", ["x user=me", "x user=ME", "x running user=me", "x user=me status=failed today"]
)
def test_user_me_is_kept_literally_for_the_service(text: str) -> None:
    parsed = query(text)
    assert parsed.filters.user == text.split("user=")[1].split()[0]
    state = ButtonState.decode(ButtonState.of(parsed).encode())
    assert state.query.filters.user == parsed.filters.user


ERRORS = [
    # text, fragments of the message, example
    ("x status=faild,rolling_back", ['"faild"', '"failed"'], "x status=failed,rolling_back"),
    ("x status=fa%led", ["isn't a task status"], "x status=failed"),
    ("x running status=failed", ['"running"', "status="], "x running"),
    ("x status=failed running", ['"running"'], "x status=failed"),
    ("running prod-orders", ["comes first"], "prod-orders running"),
    ("x last 1h UTC", ['"UTC"', "time zone"], "x last 1h"),
    ("x CET status=failed", ['"CET"', "time zone"], "x status=failed"),
    ("<!channel> prod-orders", ['"<!channel>"', "mention"], "prod-orders"),
    ("<@U123> prod-orders last 1h", ['"<@U123>"', "mention"], "prod-orders last 1h"),
    ("prod-orders <#C123|general> today", ['"<#C123|general>"'], "prod-orders today"),
    ("prod-orders <!subteam^S1|@ops team> today", ["mention"], "prod-orders today"),
    (f"https://example.com/x?instanceId={UUID}", ["isn't a Huawei Cloud console link"], None),
    ("https://console.huaweicloud.com/dms/ today", ["holds no instance id"], "today"),
    (f"prod-orders {CONSOLE}?instanceId={UUID}", ["another instance"], "prod-orders"),
    ("x on 2026-11-29", ["future"], None),
    ("x on banana", ["isn't a day"], None),
    ("x on 2026-11-27 09:00", ["isn't a day"], "x since 2026-11-27 09:00"),
    ("x 09:00", ['"since 09:00"'], "x since 09:00"),
    ("x 09:00-11:00", ['"between 09:00 and 11:00"'], "x between 09:00 and 11:00"),
    ("x 2026-11-27T09:00Z", ["since"], "x since 2026-11-27T09:00Z"),
    ("x 1h30m", ['"last 1h30m"'], "x last 1h30m"),
    ("x last 30m 2h", ['"2h"'], "x last 30m"),
    ("x last 1h30x", ['"last 1h30x"'], "x last 1h30m"),
    ("x last 2 horus", ['"last 2 horus"'], "x last 2 hours"),
    ("x since 2026-11-27T09:00+99:00", ["isn't a window"], None),
    ("x since 09:00 Mars/Olympus", ['"Mars/Olympus"'], "x since 09:00"),
    ("snice yesterday", ['"since yesterday"', "quote"], "since yesterday"),
    ("x between 2026-11-27 23:00 and 01:00", ["before"], None),
]


@pytest.mark.parametrize(("text", "fragments", "example"), ERRORS)
def test_errors_of_the_new_forms(text: str, fragments: list[str], example: str | None) -> None:
    exc = error(text)
    for fragment in fragments:
        assert fragment in exc.message
    if example is not None:
        assert exc.example == example


def test_help_still_wins() -> None:
    assert parse_command("*prod-orders* help", now=NOW, tz=UTC_Z) == HelpRequest()
    assert parse_command("help?", now=NOW, tz=UTC_Z) == HelpRequest()
