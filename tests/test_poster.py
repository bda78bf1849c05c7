"""The poster against the mock Slack Web API over loopback: one chat.postMessage per second per
channel, Retry-After honoured on 429, and channels the bot cannot post in as typed outcomes. The
poster's clock and sleeps are injected: the spacing is asserted in its own time, not the
machine's, and the posts themselves are real HTTP calls that the mock records."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from typing import Any

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.poster import ChannelUnavailable, Posted, PostFailed, SlackPoster
from tests.fake_time import FakeTime
from tests.slack_mock import BOT_TOKEN, POST_MESSAGE, MockSlack, start_mock_slack

MESSAGE = {
    "text": "digest",
    "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "x"}}],
}


@pytest.fixture
async def slack() -> AsyncIterator[MockSlack]:
    async with start_mock_slack(member_of={"C1", "C2"}) as mock:
        yield mock


def poster(slack: MockSlack, time: FakeTime) -> SlackPoster:
    client = AsyncWebClient(token=BOT_TOKEN, base_url=slack.api_url)
    return SlackPoster(client, clock=time.clock, sleep=time.sleep)


async def test_posts_to_one_channel_are_a_second_apart_and_other_channels_do_not_wait(
    slack: MockSlack,
) -> None:
    time = FakeTime(1000.0)
    sent_at: list[tuple[str, float]] = []
    post = poster(slack, time)
    client = post._client
    real_post = client.chat_postMessage

    async def timed_post(**kwargs: Any) -> Any:
        # When, in the poster's time, each request left.
        sent_at.append((kwargs["channel"], time.now))
        return await real_post(**kwargs)

    client.chat_postMessage = timed_post  # type: ignore[method-assign]

    async def send(channel: str, n: int) -> None:
        outcome = await post.post(channel, {**MESSAGE, "text": f"{channel}-{n}"})
        assert isinstance(outcome, Posted) and outcome.ts

    await asyncio.gather(*(send("C1", n) for n in range(4)), send("C2", 0), send("C2", 1))
    calls = await slack.wait_for(POST_MESSAGE, count=6)
    assert sorted(c.body["text"] for c in calls) == sorted(
        ["C1-0", "C1-1", "C1-2", "C1-3", "C2-0", "C2-1"]
    )
    # The mock saw each channel's posts in order.
    assert [c.body["text"] for c in calls if c.body["channel"] == "C1"] == [
        "C1-0",
        "C1-1",
        "C1-2",
        "C1-3",
    ]
    for channel in ("C1", "C2"):
        times = [at for sent_to, at in sent_at if sent_to == channel]
        assert all(b - a >= 1.0 for a, b in itertools.pairwise(times)), (channel, times)
    # Each channel's first post went at once: no channel waits for another.
    assert [at for _, at in sent_at[:2]] == [1000.0, 1000.0]


async def test_a_429_waits_the_retry_after_slack_asked_for_then_posts(slack: MockSlack) -> None:
    time = FakeTime(1000.0)
    slack.rate_limit_post_message(2, retry_after="7")
    outcome = await poster(slack, time).post("C1", MESSAGE)
    assert isinstance(outcome, Posted)
    calls = slack.calls_to(POST_MESSAGE)
    assert [c.status for c in calls] == [429, 429, 200]
    assert time.sleeps == [7.0, 7.0]


async def test_rate_limits_past_the_retries_are_a_failure_not_an_exception(
    slack: MockSlack,
) -> None:
    time = FakeTime(1000.0)
    slack.rate_limit_post_message(10, retry_after="1")
    outcome = await poster(slack, time).post("C1", MESSAGE)
    assert outcome == PostFailed("C1", "ratelimited")
    assert len(slack.calls_to(POST_MESSAGE)) == 4


@pytest.mark.parametrize("error", ["channel_not_found", "not_in_channel", "is_archived"])
async def test_a_channel_the_bot_cannot_post_in_is_a_typed_outcome(
    slack: MockSlack, error: str
) -> None:
    slack.member_of.add("C9")
    slack.fail_post_message(error)
    outcome = await poster(slack, FakeTime(1000.0)).post("C9", MESSAGE)
    assert outcome == ChannelUnavailable("C9", error)  # type: ignore[arg-type]


async def test_other_refusals_name_slacks_error(slack: MockSlack) -> None:
    slack.fail_post_message("msg_blocks_too_long")
    outcome = await poster(slack, FakeTime(1000.0)).post("C1", MESSAGE)
    assert outcome == PostFailed("C1", "msg_blocks_too_long")


async def test_a_channel_the_bot_is_not_in_answers_as_slack_does(slack: MockSlack) -> None:
    slack.public_channels.add("C0PUBLIC")
    post = poster(slack, FakeTime(1000.0))
    assert await post.post("C0PUBLIC", MESSAGE) == ChannelUnavailable("C0PUBLIC", "not_in_channel")
    assert await post.post("G0PRIVATE", MESSAGE) == ChannelUnavailable(
        "G0PRIVATE", "channel_not_found"
    )
    assert await post.post("D0DM", MESSAGE) == ChannelUnavailable("D0DM", "channel_not_found")
