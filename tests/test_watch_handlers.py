"""The Watch and Stop watching listeners through Bolt's real dispatch (signed block_actions
requests, the real middleware), with the real watch use cases over the simulator, the mock
Slack Web API and the in-memory WatchStore: ack first, the watch's message posted as the bot,
and a private answer for the clicker through the click's response_url."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import pytest
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.web.async_client import AsyncWebClient

from bot.domain.watches import StopValue, WatchValue
from bot.ids import ActionId
from bot.poster import SlackPoster
from bot.render.watch import watch_button
from bot.timezones import UserTimezones
from bot.watches import WatchService
from bot.work import WorkTracker
from handlers import middleware
from handlers import watch as watch_handlers
from handlers.deps import Deps
from tests.e2e_harness import SIGNING_SECRET, sign
from tests.slack_mock import BOT_TOKEN
from tests.test_watches import BOB, CHANNEL, OWNER, Rig, buttons_of, open_rig, raw_of


@dataclass(frozen=True)
class WatchDeps(Deps):
    """Deps with the watch use cases, as the runtime hands them to listeners."""

    watches: WatchService | None = None


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    async with open_rig(tmp_path) as opened:
        yield opened


def bolt_app(rig: Rig, watches: WatchService | None, work: WorkTracker | None = None) -> AsyncApp:
    client = AsyncWebClient(token=BOT_TOKEN, base_url=rig.slack.api_url)
    app = AsyncApp(client=client, signing_secret=SIGNING_SECRET, process_before_response=False)
    service = watches._service if watches is not None else rig.service()
    deps = WatchDeps(
        service=service,
        timezones=UserTimezones(ZoneInfo("UTC")),
        work=work or WorkTracker(),
        poster=SlackPoster(client),
        command="/dms-tasks",
        watches=watches,
    )
    middleware.register(app, deps)
    watch_handlers.register(app)
    return app


def click(
    button: dict[str, Any],
    user: str,
    url: str,
    *,
    message_ts: str | None = None,
    thread_ts: str | None = None,
    value: str | None = None,
) -> AsyncBoltRequest:
    """A block_actions click on `button`: in an ephemeral listing, or (with `message_ts`) on a
    message everyone sees; in a thread with `thread_ts`."""
    now = f"{time.time():.6f}"
    container: dict[str, Any] = {
        "type": "message",
        "message_ts": message_ts or now,
        "channel_id": CHANNEL,
        "is_ephemeral": message_ts is None,
    }
    if thread_ts:
        container["thread_ts"] = thread_ts
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": {"id": user, "username": user.lower(), "team_id": "T1"},
        "api_app_id": "A_DMS_TASKS",
        "token": "legacy-verification-token",
        "container": container,
        "trigger_id": "1.2.3",
        "team": {"id": "T1", "domain": "e2e"},
        "channel": {"id": CHANNEL, "name": "kafka-oncall"},
        "response_url": url,
        "actions": [
            {
                "action_id": button["action_id"],
                "block_id": "dms_task_actions:1",
                "text": button["text"],
                "value": button["value"] if value is None else value,
                "type": "button",
                "action_ts": now,
            }
        ],
    }
    signed = sign(urlencode({"payload": json.dumps(payload)}).encode())
    return AsyncBoltRequest(body=signed.body.decode(), headers=signed.headers)


async def test_watch_acks_posts_as_the_bot_and_answers_the_clicker_privately(rig: Rig) -> None:
    app = bolt_app(rig, rig.watches())
    button = watch_button("prod-orders", rig.running(), n=3)
    assert button["action_id"] == ActionId.WATCH.unique(3)
    url = rig.slack.response_url()
    response = await app.async_dispatch(click(button, OWNER, url))
    assert response.status == 200
    [answer] = await rig.slack.wait_for(url)
    assert answer.body["response_type"] == "ephemeral"
    assert answer.body["replace_original"] is False  # the listing stays
    assert "Watching *Expand broker storage* on *prod-orders* in <#C0ONCALL>" in raw_of(answer)
    [post] = rig.posts(CHANNEL)
    assert "thread_ts" not in post.body


async def test_a_watch_click_in_a_thread_posts_in_that_thread(rig: Rig) -> None:
    app = bolt_app(rig, rig.watches())
    url = rig.slack.response_url()
    button = watch_button("prod-orders", rig.running())
    await app.async_dispatch(click(button, OWNER, url, thread_ts="1764662400.000100"))
    [answer] = await rig.slack.wait_for(url)
    assert "in this thread" in raw_of(answer)
    [post] = rig.posts(CHANNEL)
    assert post.body["thread_ts"] == "1764662400.000100"


async def test_a_damaged_value_or_no_store_is_told_in_words(rig: Rig) -> None:
    app = bolt_app(rig, rig.watches())
    url = rig.slack.response_url()
    forged = '{"v":1,"t":"prod-orders","k":"x","extra":1}'
    await app.async_dispatch(click(watch_button("prod-orders", "t1"), OWNER, url, value=forged))
    [answer] = await rig.slack.wait_for(url)
    assert "damaged or out of date" in raw_of(answer)
    off = bolt_app(rig, None)
    url = rig.slack.response_url()
    await off.async_dispatch(click(watch_button("prod-orders", "t1"), OWNER, url))
    [answer] = await rig.slack.wait_for(url)
    assert "not switched on" in raw_of(answer)
    assert rig.posts() == []


async def test_stop_by_someone_else_is_refused_privately_and_by_the_asker_edits(
    rig: Rig,
) -> None:
    work = WorkTracker()
    app = bolt_app(rig, rig.watches(), work)
    url = rig.slack.response_url()
    await app.async_dispatch(click(watch_button("prod-orders", rig.running()), OWNER, url))
    await rig.slack.wait_for(url)
    [post] = rig.posts(CHANNEL)
    [stop] = buttons_of(post)
    assert stop["action_id"] == ActionId.WATCH_STOP.unique(1)
    [(_, message_ts)] = [k for k in rig.slack.posted if k[0] == CHANNEL]
    bob_url = rig.slack.response_url()
    await app.async_dispatch(click(stop, BOB, bob_url, message_ts=message_ts))
    [refused] = await rig.slack.wait_for(bob_url)
    assert f"Only <@{OWNER}> can stop this watch" in raw_of(refused)
    assert refused.body["response_type"] == "ephemeral"
    owner_url = rig.slack.response_url()
    await app.async_dispatch(click(stop, OWNER, owner_url, message_ts=message_ts))
    [edit] = await rig.slack.wait_for("/api/chat.update")
    assert f"<@{OWNER}> stopped it" in raw_of(edit)
    assert await work.drain(5)  # the listener is done
    assert rig.slack.calls_to(owner_url) == [] and rig.store.bodies == {}


def test_the_buttons_values_stay_far_under_slacks_limit() -> None:
    widest = watch_button("é" * 100, "\u2028" * 128)
    assert widest is not None and len(widest["value"]) < 2000
    assert WatchValue.decode(widest["value"]) == WatchValue("é" * 100, "\u2028" * 128)
    assert watch_button("bad\x00target", "t1") is None
    assert StopValue.decode(StopValue("abc234", 1).encode()) == StopValue("abc234", 1)
