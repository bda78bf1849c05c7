"""Suggestions keep what the user meant. Sloppy texts are built from a known meaning (instance,
window, filters) and then spoilt the way people spoil them: typos of keywords, extra words,
wrong units, stray punctuation, pasted Slack mentions, zone names, mixed case, formatting.
Every "Try:" example must parse and keep that meaning; texts spoilt only in ways the grammar
accepts must parse to it directly."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, time, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.domain.query import DEFAULT_LIMIT, Anchor, TaskQuery
from bot.grammar.parser import parse_command
from bot.grammar.state import ButtonState
from bot.grammar.words import (
    RUNNING_NOW_LABEL,
    RUNNING_STATUSES,
    RUNNING_WINDOW,
    STATUS_ALIASES,
    UNITS,
    VOCABULARY,
    QueryError,
)
from bot.grammar.zones import read_zone

# How many sloppy texts each property reads per run.
CORPUS = 1500

BERLIN = ZoneInfo("Europe/Berlin")
ZONES = [ZoneInfo(n) for n in ("UTC", "Europe/Berlin", "America/Los_Angeles", "Asia/Kolkata")]
ZONES.append(ZoneInfo("Pacific/Chatham"))
NOWS = [
    datetime(2026, 11, 28, 13, 7, tzinfo=UTC),
    datetime(2026, 11, 28, 6, 30, tzinfo=UTC),  # early morning in Europe, evening in LA
    datetime(2026, 3, 29, 10, 0, 12, tzinfo=UTC),  # Berlin's spring-forward day
    datetime(2026, 7, 1, 23, 50, tzinfo=UTC),
]
UUID = "4f1c8a52-1111-4222-8333-123456789abc"
CONSOLE = "https://console.huaweicloud.com/dms/?region=cn-north-4#/queue/manager/"
# (as typed, the target it must give)
TARGETS: list[tuple[str | None, str | None]] = [
    (None, None),
    ("prod-orders", "prod-orders"),
    ("Prod-Orders", "Prod-Orders"),
    ("kafka_eu_1", "kafka_eu_1"),
    ("orders01", "orders01"),
    (UUID, UUID),
    (f"{CONSOLE}newKafkaTaskList?instanceId={UUID.upper()}", UUID),
    (f"<{CONSOLE}kafka/detail/{UUID}/basic|Kafka console>", UUID),
]
FILLERS = ["please", "show", "tasks", "for", "the", "all", "thanks", "pls", "of", "instance"]
MENTIONS = ["<@U123>", "<#C123|general>", "<!here>", "<!channel>", "<@U0G9QF9C6|alice>"]
ZONE_WORDS = ["CET", "UTC", "Europe/Berlin", "IST", "PST", "America/New_York", "Z", "JST"]


@dataclass
class Word:
    text: str
    kind: str = "arg"  # "keyword" (may be misspelt), "key" (key=value), "arg", "target"


@dataclass
class Meaning:
    target: str | None = None
    window: tuple[object, ...] | None = None
    statuses: frozenset[str] = frozenset()
    name: str | None = None
    user: str | None = None
    limit: int = DEFAULT_LIMIT
    running: bool = False
    readable: bool = True  # the amount of `last` can still be read


@dataclass
class Sloppy:
    text: str
    meaning: Meaning
    now: datetime
    tz: ZoneInfo
    clean: bool  # spoilt only in ways the grammar accepts
    groups: list[list[Word]] = field(default_factory=list)


def _zone(word: str | None) -> tzinfo | None:
    found = read_zone(word.lower()) if word else None
    return found.tz if found else None


@st.composite
def windows(draw: st.DrawFn, now: datetime, tz: ZoneInfo) -> tuple[list[Word], tuple[object, ...]]:
    kind = draw(st.sampled_from(["last", "since", "since_day", "since_iso", "between", "day"]))
    if kind == "last":
        typed, seconds = draw(
            st.sampled_from(
                [
                    ("1h", 3600),
                    ("90m", 5400),
                    ("1h30m", 5400),
                    ("2h 30m", 9000),
                    ("1d12h", 129600),
                    ("2 hours", 7200),
                    ("45 min", 2700),
                    ("3d", 3 * 86400),
                    ("1.5h", 5400),
                    ("1 hour 30 minutes", 5400),
                ]
            )
        )
        return [Word("last", "keyword"), *map(Word, typed.split())], ("last", seconds)
    if kind == "since":
        typed, at = draw(
            st.sampled_from(
                [("09:00", (9, 0)), ("07:30", (7, 30)), ("9am", (9, 0)), ("21:15", (21, 15))]
            )
        )
        zone = draw(st.none() | st.sampled_from(ZONE_WORDS))
        words = [Word("since", "keyword"), Word(typed), *([Word(zone)] if zone else [])]
        return words, ("since", at, _zone(zone) or tz)
    if kind == "since_day":
        return [Word("since", "keyword"), Word("yesterday", "keyword")], ("since_day",)
    if kind == "since_iso":
        day = (now - timedelta(days=1)).date()
        offset = draw(st.sampled_from(["Z", "+01:00", "-05:00", ":30Z"]))
        stamp = f"{day}T09:00{offset}" if offset != ":30Z" else f"{day}T09:00:30Z"
        zone = timezone(timedelta(hours={"+01:00": 1, "-05:00": -5}.get(offset, 0)))
        begin = datetime.combine(day, time(9, 0, 30 if offset == ":30Z" else 0), zone)
        return [Word("since", "keyword"), Word(stamp)], ("iso", begin)
    if kind == "between":
        a, b = draw(
            st.sampled_from(
                [("09:00", "11:00"), ("23:00", "01:00"), ("10:15", "12:45"), ("08:00", "09:30")]
            )
        )
        zone = draw(st.none() | st.sampled_from(ZONE_WORDS))
        tail = [Word(zone)] if zone else []
        if draw(st.booleans()):
            words = [Word("between", "keyword"), Word(f"{a}–{b}"), *tail]
        else:
            words = [Word("between", "keyword"), Word(a), Word("and", "keyword"), Word(b), *tail]
        at = tuple(int(p) for p in a.split(":")), tuple(int(p) for p in b.split(":"))
        return words, ("between", *at, _zone(zone) or tz)
    which = draw(st.sampled_from(["today", "yesterday", "on", "date"]))
    if which in ("today", "yesterday"):
        return [Word(which, "keyword")], (which,)
    day = now.astimezone(tz).date() - timedelta(days=draw(st.integers(1, 5)))
    words = [Word(day.isoformat())] if which == "date" else [Word("on"), Word(day.isoformat())]
    return words, ("on", day)


STATUSES = [("failed", "FAILED"), ("ok", "SUCCESS"), ("running", "EXECUTING")]
STATUSES += [("rolling_back", "ROLLING_BACK"), ("cancelled", "CANCELLED")]


@st.composite
def meanings(draw: st.DrawFn) -> tuple[list[list[Word]], Meaning, datetime, ZoneInfo]:
    now, tz = draw(st.sampled_from(NOWS)), draw(st.sampled_from(ZONES))
    typed, target = draw(st.sampled_from(TARGETS))
    meaning = Meaning(target=target)
    groups: list[list[Word]] = []
    if draw(st.booleans()):
        words, meaning.window = draw(windows(now, tz))
        groups.append(words)
    picked = draw(st.lists(st.sampled_from(STATUSES), max_size=2, unique=True))
    if picked:
        meaning.statuses = frozenset(s for _, s in picked)
        groups.append([Word("status=" + ",".join(w for w, _ in picked), "key")])
    if not picked and draw(st.integers(0, 3)) == 0:
        meaning.running = True
        groups.append([Word("running", "keyword")])
    if draw(st.booleans()):
        meaning.name = draw(st.sampled_from(["*offset*", "reset*", "Topic"]))
        groups.append([Word(f"name={meaning.name}", "key")])
    if draw(st.booleans()):
        typed_user, meaning.user = draw(
            st.sampled_from([("alice", "alice"), ("me", "me"), ('"Alice Smith"', "Alice Smith")])
        )
        groups.append([Word(f"user={typed_user}", "key")])
    if draw(st.booleans()):
        meaning.limit = draw(st.sampled_from([5, 25, 100]))
        groups.append([Word(f"limit={meaning.limit}", "key")])
    groups = draw(st.permutations(groups))
    if typed is not None:
        groups.insert(0, [Word(typed, "target")])
    return groups, meaning, now, tz


def _typo(word: str, draw: st.DrawFn) -> str:
    key, eq, value = word.partition("=")
    base = key if eq else word
    if len(base) < 4:
        return word
    k = draw(st.integers(1, len(base) - 2))
    how = draw(st.sampled_from(["swap", "drop", "double"]))
    if how == "swap":
        spoilt = base[:k] + base[k + 1] + base[k] + base[k + 2 :]
    elif how == "drop" and len(base) >= 5:
        spoilt = base[:k] + base[k + 1 :]
    else:
        spoilt = base[:k] + base[k] + base[k:]
    if spoilt in (*VOCABULARY, *STATUS_ALIASES, *UNITS, "and") or read_zone(spoilt):
        return word
    return f"{spoilt}={value}" if eq else spoilt


def _typo_value(word: str, draw: st.DrawFn) -> str:
    """`status=faild`: a misspelt alias (not a raw status, whose typo is another raw status)."""
    key, _, value = word.partition("=")
    items = value.split(",")
    n = draw(st.integers(0, len(items) - 1))
    if items[n] not in STATUS_ALIASES or items[n] == "ok":
        return word
    spoilt = _typo(items[n], draw)
    return f"{key}={','.join([*items[:n], spoilt, *items[n + 1 :]])}"


@st.composite
def sloppy_texts(draw: st.DrawFn) -> Sloppy:
    groups, meaning, now, tz = draw(meanings())
    has_target = meaning.target is not None
    clean = True
    for g, words in enumerate(groups):
        first_alone = g == 0 and not has_target
        for n, word in enumerate(words):
            if word.kind == "keyword" and draw(st.integers(0, 4)) == 0:
                # A typo of a one-word window typed first reads as an instance: not a typo.
                if not (first_alone and len(words) == 1):
                    spoilt = _typo(word.text, draw)
                    clean = clean and spoilt == word.text
                    words[n] = replace(word, text=spoilt)
            elif word.kind == "key" and draw(st.integers(0, 4)) == 0:
                spoil = _typo if draw(st.booleans()) else _typo_value
                spoilt = spoil(word.text, draw)
                clean = clean and spoilt == word.text
                words[n] = replace(word, text=spoilt)
            if word.kind in ("keyword", "arg") and draw(st.integers(0, 5)) == 0:
                words[n] = replace(words[n], text=words[n].text.upper())
    for words in groups:
        if words[0].text == "last" and len(words) > 1 and draw(st.integers(0, 5)) == 0:
            amount = words[-1].text
            if amount.rstrip("abcdefghijklmnopqrstuvwxyz") != amount:
                words[-1] = Word(amount.rstrip("abcdefghijklmnopqrstuvwxyz") + "qx")
                meaning.readable, clean = False, False
    start = min(1, len(groups))  # a word before the first reads as the instance
    for _ in range(draw(st.integers(0, 2)) if draw(st.booleans()) else 0):
        at = draw(st.integers(start, len(groups)))
        groups.insert(at, [Word(draw(st.sampled_from(FILLERS)))])
        clean = False
    for _ in range(draw(st.integers(0, 2)) if draw(st.booleans()) else 0):
        groups.insert(draw(st.integers(0, len(groups))), [Word(draw(st.sampled_from(MENTIONS)))])
        clean = False
    if groups and draw(st.integers(0, 4)) == 0:
        # A zone where no time is: "last 1h UTC".
        g = draw(st.integers(0, len(groups) - 1))
        if groups[g][0].text in ("last", "status") or groups[g][0].kind == "key":
            groups[g] = [*groups[g], Word(draw(st.sampled_from(ZONE_WORDS)))]
            clean = False
    for words in groups:
        if draw(st.integers(0, 6)) == 0:
            words[-1] = replace(words[-1], text=words[-1].text + ",")
    if has_target and "://" not in groups[0][0].text and draw(st.integers(0, 3)) == 0:
        mark = draw(st.sampled_from(["*", "_", "`", "~"]))
        groups[0][0] = replace(groups[0][0], text=f"{mark}{groups[0][0].text}{mark}")
    if has_target and "-" in groups[0][0].text and draw(st.integers(0, 4)) == 0:
        groups[0][0] = replace(groups[0][0], text=groups[0][0].text.replace("-", "–"))
    text = " ".join(w.text for words in groups for w in words)
    if text and draw(st.integers(0, 6)) == 0:
        # Not "?" after name=: a glob may end in one.
        text += draw(st.sampled_from([".", "!"] if meaning.name else [".", "!", "?"]))
    if text and draw(st.integers(0, 8)) == 0:
        text = f"`{text}`"
    return Sloppy(text, meaning, now, tz, clean, groups)


def _clock(moment: datetime, zone: tzinfo) -> tuple[int, int]:
    local = moment.astimezone(zone)
    return local.hour, local.minute


def assert_keeps(parsed: TaskQuery, case: Sloppy, what: str) -> None:
    meaning, now, tz = case.meaning, case.now, case.tz
    window = parsed.window
    if meaning.target is not None:
        assert parsed.target == meaning.target, what
    expected = RUNNING_STATUSES if meaning.running else meaning.statuses
    assert parsed.filters.statuses == expected, what
    assert (parsed.filters.name_glob, parsed.filters.user) == (meaning.name, meaning.user), what
    assert parsed.limit == meaning.limit, what
    kind = meaning.window[0] if meaning.window else None
    if kind is None:
        assert window.anchor is Anchor.SLIDING, what
        length = RUNNING_WINDOW if meaning.running else timedelta(hours=24)
        assert window.end - window.begin == length, what
        if meaning.running:
            assert window.label == RUNNING_NOW_LABEL, what
    elif kind == "last":
        assert window.anchor is Anchor.SLIDING, what
        if meaning.readable:
            assert window.end - window.begin == timedelta(seconds=meaning.window[1]), what
    elif kind == "since":
        _, at, zone = meaning.window
        assert window.anchor is Anchor.GROWING, what
        assert _clock(window.begin, zone) == at, what
    elif kind == "iso":
        assert (window.anchor, window.begin) == (Anchor.GROWING, meaning.window[1]), what
    elif kind == "between":
        _, a, b, zone = meaning.window
        assert window.anchor is Anchor.FIXED, what
        assert _clock(window.begin, zone) == a, what
        assert window.end == now or _clock(window.end, zone) == b, what
    else:
        anchor = {"since_day": Anchor.GROWING, "today": Anchor.GROWING}.get(kind, Anchor.FIXED)
        assert window.anchor is anchor, what
        local = window.begin.astimezone(tz)
        assert local.time() == time(0), what
        if kind == "on":
            assert local.date() == meaning.window[1], what
        elif kind in ("yesterday", "since_day"):
            assert local.date() == now.astimezone(tz).date() - timedelta(days=1), what
    state = ButtonState.of(parsed)
    assert ButtonState.decode(state.encode()).query == parsed, what


def _read(case: Sloppy) -> tuple[TaskQuery | None, str | None]:
    try:
        parsed = parse_command(case.text, now=case.now, tz=case.tz)
    except QueryError as exc:
        return None, exc.example
    assert isinstance(parsed, TaskQuery), case.text
    return parsed, None


@settings(max_examples=CORPUS, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=sloppy_texts())
def test_every_example_parses_and_keeps_the_meaning(case: Sloppy) -> None:
    parsed, example = _read(case)
    if example is None:
        assert parsed is not None
        if case.clean:
            assert_keeps(parsed, case, case.text)
        return
    assert example != "help", case.text
    shown = parse_command(example, now=case.now, tz=case.tz)
    assert isinstance(shown, TaskQuery), (case.text, example)
    assert_keeps(shown, case, f"{case.text!r} -> {example!r}")


# The texts that started it: each used to suggest something that dropped what was meant.
REPORTED = [
    ("prod-orders since 09:00 CET status=failed", None),
    ("prod-orders last 1h30m", None),
    ("prod-orders between 23:00 and 01:00", None),
    ("<!channel> prod-orders", "prod-orders"),
    ("prod-orders since 09:00 CET banana", "prod-orders since 09:00 CET"),
    ("prod-orders last 1h30x", "prod-orders last 1h30m"),
    ("prod-orders lsat 1h30m status=faild", "prod-orders last 1h30m status=failed"),
    ("prod-orders status=runing,rolling_back", "prod-orders status=running,rolling_back"),
    ("prod-orders between 23:00 adn 01:00", "prod-orders between 23:00 and 01:00"),
    ("prod-orders between 09:00 please and 11:00", "prod-orders between 09:00 and 11:00"),
    (
        "prod-orders between 2026-11-27 23:00 and 2026-11-27 01:00",
        "prod-orders between 2026-11-27 23:00 and 2026-11-28 01:00",
    ),
    ("prod-orders banana status=failed lsat 2h", "prod-orders status=failed last 2h"),
    ("prod-orders <@U123> runing", "prod-orders running"),
    ("prod-orders last 2 hourz user=me", "prod-orders last 2 hour user=me"),
    ('prod-orders user="Alice Smith', 'prod-orders user="Alice Smith"'),
]


@pytest.mark.parametrize(("text", "example"), REPORTED)
def test_reported_suggestions(text: str, example: str | None) -> None:
    now = NOWS[0]
    try:
        parse_command(text, now=now, tz=BERLIN)
    except QueryError as exc:
        assert exc.example == example
        assert isinstance(parse_command(exc.example, now=now, tz=BERLIN), TaskQuery)
    else:
        assert example is None, text
