"""Properties of the grammar and the button state over any input, not only the forms we foresaw."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.blockkit import MAX_BUTTON_VALUE, slack_len
from bot.domain.query import MAX_WINDOW, TaskFilters, TaskQuery
from bot.grammar.parser import parse_command
from bot.grammar.state import decode_state, encode_state
from bot.grammar.words import (
    MAX_LIMIT,
    MAX_TARGETS,
    SHARED_VALUES_BUDGET,
    HelpRequest,
    QueryError,
    shared_values_cost,
)
from bot.render.timewords import describe_window

# Zones with odd offsets, DST at midnight (Santiago), half-hour DST (Lord Howe), and none.
ZONES = [
    ZoneInfo(name)
    for name in (
        "UTC",
        "Europe/Berlin",
        "America/Los_Angeles",
        "Asia/Kolkata",
        "Pacific/Chatham",
        "America/Santiago",
        "Australia/Lord_Howe",
        "America/St_Johns",
        "Asia/Kathmandu",
        "Pacific/Kiritimati",
    )
]
zones = st.sampled_from(ZONES)
nows = st.one_of(
    st.datetimes(datetime(2020, 1, 1), datetime(2035, 12, 31)).map(lambda d: d.replace(tzinfo=UTC)),
    # Around the Berlin and Los Angeles changes of 2026, where local times skip and repeat.
    st.sampled_from(
        [
            datetime(2026, 3, 29, 1, tzinfo=UTC),
            datetime(2026, 10, 25, 1, tzinfo=UTC),
            datetime(2026, 3, 8, 10, tzinfo=UTC),
            datetime(2026, 11, 1, 9, tzinfo=UTC),
        ]
    ).flatmap(lambda d: st.integers(-7200, 7200).map(lambda s: d + timedelta(seconds=s))),
)

WORDS = [
    "last", "since", "between", "and", "to", "today", "yesterday", "help", "hour", "day",
    "week", "minutes", "h", "m", "d", "w", "s", "am", "pm", "noon", "midnight", "1h", "90m",
    "15", "0", "2d", "5w", "32d", "1w", "99999999999h", "9am", "9:30pm", "12am", "13pm",
    "09:00", "23:59", "24:00", "00:00", "02:30", "2026-11-27", "2026-02-30", "2026-03-29",
    "2026-10-25", "2025-12-31", "1999-01-01", "0001-01-01", "9999-12-31", "2026-11-27T09:00",
    "status=failed", "status=failed,executing", "status=ok,bogus", "status=", "STATUS=Running",
    "name=*Topic*", "name=", 'name="reset offset*"', "name='x", "user=alice", 'user="Alice Smith"',
    "user=“Bob B”", "limit=10", "limit=0", "limit=100", "limit=101", "limit=x", "page=2",
    "page=0", "foo=bar", "lsat", "prod-orders", "Prod-Orders", '"', "'", "“", "=", ",", "-",
    # zones, ISO times, compound durations, days, ranges, pasted text, any status, running
    "CET", "cest", "UTC", "Z", "PST", "IST", "Europe/Berlin", "america/los_angeles", "UTC+5:30",
    "2026-11-27T09:00:00Z", "2026-11-27T09:00+01:00", "2026-03-29T02:30:00-05:00", "09:00Z",
    "1h30m", "1d12h", "2h", "30m", "and", "on", "09:00–11:00", "23:00-01:00", "–", "—",
    "*prod-orders*", "_x_", "`x`", "~x~", "prod-orders,", "1h.", "running", "status=rolling_back",
    "status=faild", "status=" + "A" * 40, "user=me", "<!here>", "<@U123>", "<#C123|general>",
    "<https://console.huaweicloud.com/dms/#/kafka/detail/4f1c8a52-1111-4222-8333-123456789abc>",
    "https://console.huaweicloud.com/dms/?instanceId=4F1C8A52-1111-4222-8333-123456789ABC",
    "https://example.com/", "<https://console.huaweicloud.com/|a link>",
    # several instances
    "all", "ALL", "prod-orders,prod-billing", "a,b,c", "x,all", "prod-a,today", "'all'",
    ",".join(f"p{n}" for n in range(21)), ",".join("x" * 99 + str(n) for n in range(7)),
]  # fmt: skip
junk = st.text(max_size=12)
pieces = st.one_of(st.sampled_from(WORDS), junk, st.integers(-5, 10**6).map(str))
grammar_text = st.lists(pieces, max_size=12).map(" ".join)
# Lone surrogates are not valid Unicode but can reach us inside JSON text.
any_text = st.one_of(
    st.text(max_size=300),
    st.text(st.characters(categories=["Cs", "Cc", "Zs", "Lo", "So", "Po"]), max_size=60),
    grammar_text,
)


def parse(text: str, now: datetime, tz: ZoneInfo) -> TaskQuery | HelpRequest | None:
    try:
        return parse_command(text, now=now, tz=tz)
    except QueryError as exc:
        assert isinstance(exc.message, str) and exc.message.strip()
        example = parse_command(exc.example, now=now, tz=tz)
        assert isinstance(example, TaskQuery | HelpRequest)
        return None


def assert_valid_window(parsed: TaskQuery, now: datetime) -> None:
    begin, end = parsed.window.begin, parsed.window.end
    assert begin.utcoffset() == timedelta(0) and end.utcoffset() == timedelta(0)
    assert begin < end <= now
    assert end - begin <= MAX_WINDOW
    assert begin.microsecond == 0 and end.microsecond == 0
    assert 1 <= parsed.limit <= MAX_LIMIT and parsed.page >= 1


@settings(max_examples=500, deadline=None)
@given(text=any_text, now=nows, tz=zones)
def test_any_text_is_a_query_help_or_a_query_error(text: str, now: datetime, tz: ZoneInfo) -> None:
    parsed = parse(text, now, tz)
    if isinstance(parsed, TaskQuery):
        assert_valid_window(parsed, now)
        assert parsed.window.label in describe_window(parsed.window, tz, now=now)


@settings(max_examples=500, deadline=None)
@given(text=grammar_text, now=nows, tz=zones, task_id=st.none() | st.text(min_size=1, max_size=64))
def test_accepted_queries_fit_a_button_and_come_back_equal(
    text: str, now: datetime, tz: ZoneInfo, task_id: str | None
) -> None:
    parsed = parse(text, now, tz)
    if not isinstance(parsed, TaskQuery):
        return
    assert_valid_window(parsed, now)
    value = encode_state(parsed, task_id=task_id)
    assert slack_len(value) <= MAX_BUTTON_VALUE
    assert decode_state(value) == (parsed, task_id)


@settings(max_examples=300, deadline=None)
@given(
    target=st.text(st.characters(exclude_categories=["Cc", "Cs"]), min_size=1, max_size=100),
    glob=st.text(st.characters(exclude_categories=["Cc", "Cs"]), min_size=1, max_size=100),
    user=st.text(st.characters(exclude_categories=["Cc", "Cs"]), min_size=1, max_size=100),
    task_id=st.text(min_size=1, max_size=64),
    now=nows,
    tz=zones,
)
def test_longest_values_still_fit_a_button(
    target: str, glob: str, user: str, task_id: str, now: datetime, tz: ZoneInfo
) -> None:
    # Built the way the parser would, with values it accepts at their longest.
    base = parse_command("last 31d status=created,executing,success,failed", now=now, tz=tz)
    assert isinstance(base, TaskQuery)
    if not (target.strip() and glob.strip() and user.strip()):
        return
    query = TaskQuery(target, base.window, TaskFilters(base.filters.statuses, glob, user), 100, 9)
    value = encode_state(query, task_id=task_id)
    assert slack_len(value) <= MAX_BUTTON_VALUE
    assert decode_state(value) == (query, task_id)


names = st.text(
    st.characters(exclude_categories=["Cc", "Cs"], exclude_characters=","), min_size=1, max_size=100
).filter(lambda t: t.strip() and t.lower() != "all")


@settings(max_examples=300, deadline=None)
@given(
    targets=st.lists(names, min_size=2, max_size=MAX_TARGETS, unique=True),
    glob=st.none() | names,
    user=st.none() | names,
    place=st.integers(0, MAX_TARGETS - 1),
    task_id=st.text(min_size=1, max_size=128),
    now=nows,
)
def test_any_list_of_instances_fits_a_button_or_is_refused(
    targets: list[str],
    glob: str | None,
    user: str | None,
    place: int,
    task_id: str,
    now: datetime,
) -> None:
    base = parse_command("last 31d status=created,executing,success,failed", now=now, tz=ZONES[0])
    assert isinstance(base, TaskQuery)
    filters = TaskFilters(base.filters.statuses, glob, user)
    on = targets[place % len(targets)]
    query = TaskQuery(None, base.window, filters, 100, 9, targets=tuple(targets), on=on)
    if shared_values_cost(query.targets, glob, user) > SHARED_VALUES_BUDGET:
        with pytest.raises(QueryError):
            encode_state(query, task_id=task_id)
        return
    value = encode_state(query, task_id=task_id)
    assert slack_len(value) <= MAX_BUTTON_VALUE
    assert decode_state(value) == (query, task_id)


json_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(10**20), 10**20),
        st.integers(1_700_000_000, 1_800_000_000),
        st.floats(allow_nan=False),
        st.text(max_size=20),
        st.sampled_from(["FAILED", "EXECUTING", "last 1 h", "prod-orders"]),
    ),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=3), inner),
    max_leaves=10,
)
state_like = st.dictionaries(st.sampled_from(list("vtbelsnumpkxgi")), json_values).map(
    lambda d: json.dumps(d, ensure_ascii=False)
)


@settings(max_examples=500, deadline=None)
@given(value=st.one_of(any_text, state_like))
def test_decode_state_of_anything_is_a_valid_query_or_a_query_error(value: str) -> None:
    try:
        query, task_id = decode_state(value)
    except QueryError as exc:
        assert exc.message.strip()
        return
    assert query.window.begin < query.window.end
    assert query.window.end - query.window.begin <= MAX_WINDOW
    assert decode_state(encode_state(query, task_id=task_id)) == (query, task_id)


@settings(max_examples=300, deadline=None)
@given(text=grammar_text, now=nows, tz=zones, name=st.text(), user=st.text(), status=st.text())
def test_filters_of_any_accepted_query_match_any_task_without_error(
    text: str, now: datetime, tz: ZoneInfo, name: str, user: str, status: str
) -> None:
    parsed = parse(text, now, tz)
    if isinstance(parsed, TaskQuery):
        assert isinstance(parsed.filters.matches(name=name, user=user, status=status), bool)
