"""The poster against the mock Slack Web API over loopback: one chat.postMessage per second per
channel, Retry-After honoured on 429, and channels the bot cannot post in as typed outcomes. The
poster's clock and sleeps are injected: the spacing is asserted in its own time, not the
machine's, and the posts themselves are real HTTP calls that the mock records."""

from __future__ import annotations

import asyncio
import itertools
import json
import time as _time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from aiohttp import web
from slack_sdk.web.async_client import AsyncWebClient

from bot.poster import (
    ChannelUnavailable,
    MessageGone,
    Posted,
    PostFailed,
    SlackPoster,
    Updated,
)
from tests.fake_time import FakeTime
from tests.slack_mock import BOT_TOKEN, POST_MESSAGE, MockSlack, _parsed_body, start_mock_slack

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


# ---- edits -------------------------------------------------------------------------------------

UPDATE = "/api/chat.update"
PERMALINK = "/api/chat.getPermalink"


class EditingSlack(MockSlack):
    """The mock Slack plus what watches need and tests/slack_mock.py does not answer:
    chat.update (of a message the bot posted, in a conversation it may post in; a deleted one
    is message_not_found), chat.getPermalink, and chat.postMessage with a user id as the
    channel, which opens the app's DM with that person (D…) as Slack does."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.posted: dict[tuple[str, str], dict[str, Any]] = {}  # (channel, ts) -> last body
        self.deleted: set[tuple[str, str]] = set()
        self.no_dm: set[str] = set()  # users whose DM with the app is closed
        self.update_errors: list[str] = []
        self.updates_rate_limited = 0

    @staticmethod
    def dm_of(user_id: str) -> str:
        return "D" + user_id[1:]

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        if method not in ("chat.postMessage", "chat.update", "chat.getPermalink"):
            return await super()._api(request)
        body = await _parsed_body(request)
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if token != self.bot_token:
            return await super()._api(request)
        channel = str(body.get("channel", ""))
        if method == "chat.postMessage":
            if channel[:1] in ("U", "W") and channel not in self.no_dm:
                self.member_of.add(self.dm_of(channel))
                body = {**body, "channel": self.dm_of(channel)}
                ts = f"{int(_time.time())}.{next(self._ts):06d}"
                self.posted[(self.dm_of(channel), ts)] = body
                answer = {"ok": True, "channel": self.dm_of(channel), "ts": ts}
                await self._record(request, body, 200, answer=answer)
                return web.json_response(answer)
            response = await super()._api(request)
            answer = json.loads(response.body)  # type: ignore[arg-type]
            if answer.get("ok"):
                self.posted[(channel, answer["ts"])] = body
            return response
        ts = str(body.get("ts") or body.get("message_ts") or "")
        if method == "chat.getPermalink":
            await self._record(request, body, 200)
            if (channel, ts) not in self.posted:
                return web.json_response({"ok": False, "error": "message_not_found"})
            link = f"https://e2e.slack.test/archives/{channel}/p{ts.replace('.', '')}"
            return web.json_response({"ok": True, "channel": channel, "permalink": link})
        if self.updates_rate_limited > 0:
            self.updates_rate_limited -= 1
            await self._record(request, body, 429)
            return web.json_response(
                {"ok": False, "error": "ratelimited"}, status=429, headers={"Retry-After": "3"}
            )
        await self._record(request, body, 200)
        if self.update_errors:
            return web.json_response({"ok": False, "error": self.update_errors.pop(0)})
        if channel not in self.member_of:
            return web.json_response({"ok": False, "error": "channel_not_found"})
        if (channel, ts) not in self.posted or (channel, ts) in self.deleted:
            return web.json_response({"ok": False, "error": "message_not_found"})
        self.posted[(channel, ts)] = {**self.posted[(channel, ts)], **body}
        return web.json_response({"ok": True, "channel": channel, "ts": ts, "text": body["text"]})


@asynccontextmanager
async def start_editing_slack(**options: Any) -> AsyncIterator[EditingSlack]:
    mock = EditingSlack(**options)
    await mock.start()
    try:
        yield mock
    finally:
        await mock.stop()


@pytest.fixture
async def editing() -> AsyncIterator[EditingSlack]:
    async with start_editing_slack(member_of={"C1"}) as mock:
        yield mock


async def test_update_edits_a_posted_message_in_place(editing: EditingSlack) -> None:
    post = poster(editing, FakeTime(1000.0))
    posted = await post.post("C1", MESSAGE)
    assert isinstance(posted, Posted)
    outcome = await post.update("C1", posted.ts, {**MESSAGE, "text": "edited"})
    assert outcome == Updated("C1", posted.ts)
    assert editing.posted[("C1", posted.ts)]["text"] == "edited"
    [call] = editing.calls_to(UPDATE)
    assert call.body["ts"] == posted.ts and call.body["channel"] == "C1"


async def test_an_update_waits_out_a_429_and_shares_the_channels_turn(
    editing: EditingSlack,
) -> None:
    time = FakeTime(1000.0)
    post = poster(editing, time)
    posted = await post.post("C1", MESSAGE)
    assert isinstance(posted, Posted)
    editing.updates_rate_limited = 1
    assert isinstance(await post.update("C1", posted.ts, MESSAGE), Updated)
    # A second after the post (the channel's turn), then the 3 s Slack asked for.
    assert time.sleeps == [1.0, 3.0]


async def test_an_update_of_a_deleted_message_or_a_closed_channel_is_typed(
    editing: EditingSlack,
) -> None:
    post = poster(editing, FakeTime(1000.0))
    posted = await post.post("C1", MESSAGE)
    assert isinstance(posted, Posted)
    editing.deleted.add(("C1", posted.ts))
    assert await post.update("C1", posted.ts, MESSAGE) == MessageGone(
        "C1", posted.ts, "message_not_found"
    )
    editing.update_errors.append("is_archived")
    assert await post.update("C1", posted.ts, MESSAGE) == ChannelUnavailable("C1", "is_archived")
    editing.update_errors.append("invalid_blocks")
    assert await post.update("C1", posted.ts, MESSAGE) == PostFailed("C1", "invalid_blocks")


async def test_a_post_to_a_user_id_lands_in_the_dm_and_names_the_dm(
    editing: EditingSlack,
) -> None:
    post = poster(editing, FakeTime(1000.0))
    posted = await post.post("U0ALICE", MESSAGE)
    assert isinstance(posted, Posted) and posted.channel == "D0ALICE"
    assert isinstance(await post.update(posted.channel, posted.ts, MESSAGE), Updated)
    link = await post.permalink(posted.channel, posted.ts)
    assert link is not None and link.startswith("https://")
    assert await post.permalink("C1", "1.000001") is None
