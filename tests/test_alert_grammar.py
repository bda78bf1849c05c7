"""`/dms-tasks alert …`: every form, and errors that name the bad part with a command that
parses."""

from __future__ import annotations

import pytest

from bot.domain.alerts import ALL_TARGETS
from bot.grammar.alert_commands import (
    AlertAdd,
    AlertList,
    AlertRemove,
    is_alert_command,
    parse_alert_command,
)
from bot.grammar.words import QueryError


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("alert add prod-orders", AlertAdd(("prod-orders",))),
        ("alert add prod-orders stuck", AlertAdd(("prod-orders",), stuck=True)),
        ("ALERT ADD prod-orders,billing STUCK", AlertAdd(("prod-orders", "billing"), True)),
        ("alert add all", AlertAdd((ALL_TARGETS,))),
        ("alert add prod-orders,all stuck", AlertAdd((ALL_TARGETS,), True)),
        ("alert add a,a,b", AlertAdd(("a", "b"))),
        ("alert add prod-orders failed", AlertAdd(("prod-orders",))),
        ("alert add prod-orders failed stuck", AlertAdd(("prod-orders",), True)),
        (
            "alert add 4f1c9a70-5b1e-4c7a-9f1d-2a6b8c0de2a1",
            AlertAdd(("4f1c9a70-5b1e-4c7a-9f1d-2a6b8c0de2a1",)),
        ),
        ("  alert   list  ", AlertList()),
        ("alerts", AlertList()),
        ("alerts list", AlertList()),
        ("alert remove K3M9QA", AlertRemove("k3m9qa")),
    ],
)
def test_alert_commands(text: str, expected: object) -> None:
    assert is_alert_command(text)
    assert parse_alert_command(text) == expected


@pytest.mark.parametrize(
    ("text", "named", "example"),
    [
        ("alert", "add, list or remove", "alert add prod-orders"),
        ("alert frobnicate", '"frobnicate"', "alert add prod-orders"),
        ("alert add", "Name the instances", "alert add prod-orders"),
        ("alert add prod-orders hourly", '"hourly"', "alert add prod-orders stuck"),
        ("alert add prod-orders,billing at 09:00", '"at"', "alert add prod-orders,billing stuck"),
        ("alert add <!channel>", '"<!channel>"', "alert add prod-orders"),
        ("alert add ,,", "Name the instances", "alert add prod-orders"),
        ("alert list now", "takes nothing", "alert list"),
        ("alert remove", "id of the alert", "alert list"),
        ("alert remove a b", "id of the alert", "alert list"),
        ("alert remove k3-m9", "id of the alert", "alert list"),
    ],
)
def test_errors_name_the_bad_part_and_give_a_command_that_parses(
    text: str, named: str, example: str
) -> None:
    with pytest.raises(QueryError) as caught:
        parse_alert_command(text)
    assert named in caught.value.message
    assert caught.value.example == example
    parse_alert_command(caught.value.example)  # the correction itself parses


@pytest.mark.parametrize(
    "text", ["", "prod-orders last 1h", "digest add prod-orders", "alerting", "help"]
)
def test_other_commands_are_not_alert_commands(text: str) -> None:
    assert not is_alert_command(text)
