"""`/dms-tasks digest …`: every form, and errors that name the bad part with a command that
works."""

from __future__ import annotations

from datetime import time

import pytest

from bot.domain.digests import ALL_TARGETS, Days
from bot.grammar.digest_commands import (
    DigestAdd,
    DigestList,
    DigestPreview,
    DigestRemove,
    is_digest_command,
    parse_digest_command,
)
from bot.grammar.words import QueryError


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("digest add prod-orders", DigestAdd(("prod-orders",))),
        (
            "digest add prod-orders,billing at 7:30 tz Europe/Berlin weekdays quiet",
            DigestAdd(
                ("prod-orders", "billing"), time(7, 30), "Europe/Berlin", Days.WEEKDAYS, True
            ),
        ),
        ("DIGEST ADD all AT 09:00", DigestAdd((ALL_TARGETS,), time(9, 0))),
        ("digest add prod-orders,all", DigestAdd((ALL_TARGETS,))),
        ("digest add a,a,b", DigestAdd(("a", "b"))),
        ("digest add prod-orders at 23", DigestAdd(("prod-orders",), time(23, 0))),
        ("digest list", DigestList()),
        ("digest remove D7K2Q9", DigestRemove("d7k2q9")),
        ("digest preview prod-orders", DigestPreview(("prod-orders",))),
    ],
)
def test_digest_commands(text: str, expected: object) -> None:
    assert is_digest_command(text)
    assert parse_digest_command(text) == expected


@pytest.mark.parametrize(
    ("text", "named", "example"),
    [
        ("digest", "add, list, remove or preview", "digest add prod-orders at 09:00"),
        ("digest add prod-orders at 25:00", '"at 25:00"', "digest add prod-orders at 09:00"),
        ("digest add prod-orders at 9:60", '"at 9:60"', "digest add prod-orders at 09:00"),
        (
            "digest add prod-orders tz Mars/Olympus",
            '"Mars/Olympus"',
            "digest add prod-orders tz Europe/Berlin",
        ),
        ("digest add prod-orders hourly", '"hourly"', "digest add prod-orders at 09:00"),
        ("digest add prod-orders at", '"at" needs a value', "digest add prod-orders at 09:00"),
        ("digest remove", "id of the digest", "digest list"),
        ("digest frobnicate", '"frobnicate"', "digest add prod-orders at 09:00"),
        ("digest list extra", "takes nothing", "digest list"),
    ],
)
def test_digest_errors_name_the_part_and_give_a_working_command(
    text: str, named: str, example: str
) -> None:
    with pytest.raises(QueryError) as caught:
        parse_digest_command(text)
    assert named in caught.value.message
    assert caught.value.example == example
    # The corrected command itself is read without error.
    parse_digest_command(caught.value.example)


def test_only_commands_that_start_with_digest_are_digest_commands() -> None:
    assert not is_digest_command("prod-orders last 1h")
    assert not is_digest_command("")
