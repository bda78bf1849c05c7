"""The digest use cases (`digest add | list | remove | preview`) through the real service, cache
and client against the DMS simulator, a real SQLite store and the real poster against the mock
Slack Web API (the alert tests' rig): access judged for the channel, managers, ids of other
channels, a channel the bot cannot post in, bad input with a corrected command that parses."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import time, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.blockkit import check_message
from bot.digests import DigestService
from bot.domain.digests import Days
from bot.domain.schedule import next_due
from bot.grammar.digest_commands import parse_digest_command
from bot.render import render_outcome, render_text
from bot.report import DigestAdded, DigestListing, DigestPreviewView, DigestRemoved, Problem
from bot.store import IdTaken, Store
from tests.test_alerts import (
    CHANNEL,
    MANAGER,
    OTHER,
    OWNER,
    PRIVATE_GONE,
    PUBLIC_NOT_MEMBER,
    Rig,
    open_rig,
    who,
)


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    async with open_rig(tmp_path) as opened:
        yield opened


async def run(rig: Rig, text: str, channel: str = CHANNEL, user: str = OWNER) -> Any:
    store = rig.stores[-1] if rig.stores else await rig.store()
    digests = DigestService(rig.service(), store)
    outcome = await digests.command(text, who(channel, user), rig.poster().post)
    check_message(render_outcome(outcome))
    return outcome


def parses(example: str) -> None:
    parse_digest_command(example.removeprefix("/dms-tasks "))


async def test_add_defaults_to_nine_in_the_adders_zone_every_day_and_announces(rig: Rig) -> None:
    added = await run(rig, "digest add prod-orders,billing")
    assert isinstance(added, DigestAdded)
    sub = added.digest.subscription
    assert (sub.at, sub.tz, sub.days) == (time(9, 0), "Europe/Berlin", Days.DAILY)
    assert sub.channel_id == CHANNEL and sub.created_by == OWNER
    assert added.digest.next_run == next_due(sub, rig.clock.now)
    assert added.digest.covers == ("prod-orders", "billing")
    reply = render_text(render_outcome(added))
    assert sub.id in reply and "<!date^" in str(render_outcome(added))
    [announcement] = rig.posts(CHANNEL)
    assert announcement.status == 200
    assert "added a digest of prod-orders and billing" in str(announcement.body)


async def test_list_shows_this_channels_digests_only(rig: Rig) -> None:
    mine = await run(rig, "digest add prod-orders at 07:30 tz UTC weekdays quiet")
    theirs = await run(rig, "digest add prod-orders", channel=OTHER)
    listing = await run(rig, "digest list")
    assert isinstance(listing, DigestListing)
    ids = [s.subscription.id for s in listing.digests]
    assert ids == [mine.digest.subscription.id]
    assert theirs.digest.subscription.id not in render_text(render_outcome(listing))
    said = render_text(render_outcome(listing))
    assert "weekdays at 07:30 UTC" in said and "quiet" in said


async def test_remove_of_another_channels_id_is_no_such_digest_here(rig: Rig) -> None:
    theirs = await run(rig, "digest add prod-orders", channel=OTHER)
    sub_id = theirs.digest.subscription.id
    refused = await run(rig, f"digest remove {sub_id}")
    assert isinstance(refused, Problem) and f"no digest {sub_id}" in refused.summary
    parses(refused.example)
    removed = await run(rig, f"digest remove {sub_id}", channel=OTHER)
    assert isinstance(removed, DigestRemoved)
    assert (await run(rig, "digest list", channel=OTHER)).digests == ()


async def test_an_instance_the_channel_may_not_see_is_refused_with_a_command_that_works(
    rig: Rig,
) -> None:
    # billing is CHANNEL's only; ghost is unknown to the cloud but configured.
    refused = await run(rig, "digest add billing,nosuch at 08:00", channel=OTHER)
    assert isinstance(refused, Problem)
    assert "billing (not available in this channel)" in refused.summary
    assert "nosuch" in refused.summary
    parses(refused.example)
    assert "billing" not in refused.example


@pytest.mark.parametrize(
    "text", ["digest add prod-orders at 25:00", "digest add prod-orders tz Mars/Olympus"]
)
async def test_bad_input_gets_a_corrected_command_that_parses(rig: Rig, text: str) -> None:
    refused = await run(rig, text)
    assert isinstance(refused, Problem)
    parses(refused.example)
    assert await rig.stores[-1].all() == []


@pytest.mark.parametrize(
    ("channel", "reason"),
    [(PUBLIC_NOT_MEMBER, "not_in_channel"), (PRIVATE_GONE, "channel_not_found")],
)
async def test_add_where_the_bot_cannot_post_says_so_at_once_and_keeps_nothing(
    rig: Rig, channel: str, reason: str
) -> None:
    refused = await run(rig, "digest add prod-orders", channel=channel)
    assert isinstance(refused, Problem)
    assert reason in refused.summary and "/invite" in refused.hint
    assert await rig.stores[-1].all() == []


async def test_managers_alone_add_and_remove_but_everyone_lists_and_previews(
    tmp_path: Path,
) -> None:
    async with open_rig(tmp_path, managers=[MANAGER]) as rig:
        refused = await run(rig, "digest add prod-orders")
        assert isinstance(refused, Problem) and "Only certain people" in refused.summary
        added = await run(rig, "digest add prod-orders", user=MANAGER)
        assert isinstance(added, DigestAdded)
        sub_id = added.digest.subscription.id
        assert isinstance(await run(rig, f"digest remove {sub_id}"), Problem)
        assert isinstance(await run(rig, "digest list"), DigestListing)
        assert isinstance(await run(rig, "digest preview prod-orders"), DigestPreviewView)
        assert isinstance(await run(rig, f"digest remove {sub_id}", user=MANAGER), DigestRemoved)


async def test_preview_covers_the_last_24_hours_and_posts_nothing(rig: Rig) -> None:
    preview = await run(rig, "digest preview prod-orders")
    assert isinstance(preview, DigestPreviewView)
    report = preview.report
    assert report.end - report.begin == timedelta(hours=24)
    assert rig.posts() == []


class TakenStore:
    """The real store, except that every id it draws is already taken."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    async def add(self, _: Any) -> None:
        raise IdTaken("taken")


async def test_an_id_that_stays_taken_is_a_problem_not_a_digest_that_was_never_saved(
    rig: Rig,
) -> None:
    store = TakenStore(await rig.store())
    digests = DigestService(rig.service(), store)  # type: ignore[arg-type]
    outcome = await digests.command(
        "digest add prod-orders", who(CHANNEL, OWNER), rig.poster().post
    )
    assert isinstance(outcome, Problem) and "could not be saved" in outcome.summary
