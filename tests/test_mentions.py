"""`@dms-tasks-bot <command>` through Bolt's real dispatch: signed Events API bodies go through
`AsyncApp.async_dispatch` (signature check, the built-in self-event filter, the middleware,
routing, auto-ack), and the answer is a chat.postMessage to the mock Slack, in the thread."""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pytest_mock import MockerFixture
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.web.async_client import AsyncWebClient

from bot.blockkit import check_posted_message
from bot.dms.cache import TaskCache
from bot.domain.query import TaskQuery, TimeWindow
from bot.ids import ActionId
from bot.poster import SlackPoster
from bot.render import message_buttons
from bot.report import HelpView, Outcome, Problem, WhichInstance
from bot.service import Requester, TaskService
from bot.settings import Settings
from bot.timezones import UserTimezones
from bot.work import WorkTracker
from handlers import register_listeners
from handlers.deps import Deps
from handlers.mentions import command_text, public_answer, repeats_a_delivered_event
from tests.e2e_harness import (
    API_APP_ID,
    SIGNING_SECRET,
    VERIFICATION_TOKEN,
    SignedRequest,
    bot_config_toml,
    sign,
)
from tests.render_builders import NOW, WINDOW, params_view, sketch_report
from tests.slack_mock import (
    BOT_ID,
    BOT_TOKEN,
    BOT_USER_ID,
    POST_MESSAGE,
    TEAM_ID,
    MockSlack,
    start_mock_slack,
)

BERLIN = ZoneInfo("Europe/Berlin")
CHANNEL, USER = "C0ONCALL", "U0ALICE"
THREAD = "1764662400.000100"
HELP = HelpView(command="/dms-tasks", instances=("prod-orders",))
_EVENT_IDS = itertools.count(1)


# ---- what Slack sends -------------------------------------------------------------------------


def mention_event(
    text: str,
    *,
    channel: str = CHANNEL,
    user: str | None = USER,
    ts: str | None = None,
    thread_ts: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """An app_mention event, field for field as Slack sends it."""
    ts = ts or f"{time.time():.6f}"
    event: dict[str, Any] = {
        "type": "app_mention",
        "text": text,
        "ts": ts,
        "channel": channel,
        "event_ts": ts,
        "team": TEAM_ID,
        "client_msg_id": f"5b3c1d9e-0000-4000-8000-{next(_EVENT_IDS):012d}",
    }
    if user is not None:
        event["user"] = user
    if thread_ts is not None:
        event["thread_ts"] = thread_ts
        event["parent_user_id"] = "U0BOB"
    event.update(extra)
    return event


def event_callback(event: dict[str, Any], event_id: str | None = None) -> dict[str, Any]:
    return {
        "token": VERIFICATION_TOKEN,
        "team_id": TEAM_ID,
        "api_app_id": API_APP_ID,
        "event": event,
        "type": "event_callback",
        "event_id": event_id or f"Ev0MENTION{next(_EVENT_IDS):06d}",
        "event_time": int(time.time()),
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": TEAM_ID,
                "user_id": BOT_USER_ID,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
        "event_context": "4-eyJldCI6ImFwcF9tZW50aW9uIn0",
    }


def signed_event(
    body: dict[str, Any], *, retry_num: int | None = None, retry_reason: str = "http_timeout"
) -> SignedRequest:
    """An Events API request as Slack posts it: JSON, signed; a retry carries its number and
    reason in headers."""
    raw = json.dumps(body).encode()
    signed = sign(raw)
    headers = {**signed.headers, "Content-Type": "application/json"}
    if retry_num is not None:
        headers["X-Slack-Retry-Num"] = str(retry_num)
        headers["X-Slack-Retry-Reason"] = retry_reason
    return SignedRequest(body=raw, headers=headers)


def signed_mention(text: str, **options: Any) -> SignedRequest:
    retry = {k: options.pop(k) for k in ("retry_num", "retry_reason") if k in options}
    return signed_event(event_callback(mention_event(text, **options)), **retry)


# ---- the app under test -----------------------------------------------------------------------


@pytest.fixture
async def slack() -> AsyncIterator[MockSlack]:
    async with start_mock_slack(default_tz="Europe/Berlin", member_of={CHANNEL}) as mock:
        yield mock


def bolt_app(slack: MockSlack, service: Any, work: WorkTracker | None = None) -> AsyncApp:
    client = AsyncWebClient(token=BOT_TOKEN, base_url=slack.api_url)
    app = AsyncApp(client=client, signing_secret=SIGNING_SECRET, process_before_response=False)
    register_listeners(
        app,
        Deps(
            service=service,
            timezones=UserTimezones(ZoneInfo("UTC")),
            work=work or WorkTracker(),
            poster=SlackPoster(client, interval_s=0),
            command="/dms-tasks",
        ),
    )
    return app


async def dispatch(app: AsyncApp, request: SignedRequest) -> int:
    response = await app.async_dispatch(
        AsyncBoltRequest(body=request.body.decode(), headers=request.headers)
    )
    return response.status


def answering(mocker: MockerFixture, outcome: Outcome) -> Any:
    service = mocker.create_autospec(TaskService, instance=True)
    service.command.return_value = outcome
    return service


async def posted_once(slack: MockSlack) -> dict[str, Any]:
    [post] = await slack.wait_for(POST_MESSAGE)
    body = post.body
    check_posted_message(body)
    return body


async def nothing_more_posted(app: AsyncApp, slack: MockSlack, posts: int = 0) -> None:
    """Proves a skipped event stays skipped: a later mention is answered, and only it."""
    assert await dispatch(app, signed_mention(f"<@{BOT_USER_ID}> help")) == 200
    calls = await slack.wait_for(POST_MESSAGE, count=posts + 1)
    await asyncio.sleep(0.05)
    assert len(slack.calls_to(POST_MESSAGE)) == posts + 1, [c.body for c in calls]


def readable(message: dict[str, Any]) -> str:
    return json.dumps(message, ensure_ascii=False)


# ---- tests ------------------------------------------------------------------------------------


async def test_a_mention_in_a_thread_is_answered_in_that_thread(
    slack: MockSlack, mocker: MockerFixture
) -> None:
    service = answering(mocker, HELP)
    request = signed_mention(f"<@{BOT_USER_ID}> prod-orders last 1h", thread_ts=THREAD)
    assert await dispatch(bolt_app(slack, service), request) == 200
    body = await posted_once(slack)
    assert (body["channel"], body["thread_ts"]) == (CHANNEL, THREAD)
    text, requester = service.command.await_args.args
    assert text == "prod-orders last 1h"
    # Who and where come from event.user and event.channel, the zone from users.info.
    assert requester == Requester(channel_id=CHANNEL, user_id=USER, tz=BERLIN)
    # digest add posts its announcement through the same poster.
    assert service.command.await_args.kwargs["announce"] is not None


async def test_a_top_level_mention_starts_a_thread_under_itself(
    slack: MockSlack, mocker: MockerFixture
) -> None:
    request = signed_mention(f"<@{BOT_USER_ID}> help", ts="1764662999.000200")
    await dispatch(bolt_app(slack, answering(mocker, HELP)), request)
    body = await posted_once(slack)
    assert body["thread_ts"] == "1764662999.000200"


@pytest.mark.parametrize(
    ("typed", "command"),
    [
        (f"<@{BOT_USER_ID}> prod-orders last 1h", "prod-orders last 1h"),
        (f"<@{BOT_USER_ID}|dms-tasks-bot> prod-orders last 1h", "prod-orders last 1h"),
        (f"<@{BOT_USER_ID}>   <@{BOT_USER_ID}> prod-orders", "prod-orders"),
        (f"hey <@{BOT_USER_ID}> prod-orders since 09:00", "prod-orders since 09:00"),
        (f"<@U0BOB> <@{BOT_USER_ID}> prod-orders", "prod-orders"),
        (f"<@{BOT_USER_ID}> x name=R&amp;D user=a&lt;b&gt;", "x name=R&D user=a<b>"),
        (f"<@{BOT_USER_ID}> prod-orders <@{BOT_USER_ID}> last 2h", "prod-orders last 2h"),
        (f"<@{BOT_USER_ID}>\nprod-orders\nlast 1h", "prod-orders last 1h"),
        (f"<@{BOT_USER_ID}>", ""),
    ],
)
def test_the_command_is_what_follows_the_mention(typed: str, command: str) -> None:
    assert command_text(typed, BOT_USER_ID) == command


def test_without_the_bots_id_leading_mentions_are_dropped() -> None:
    assert command_text("<@UBOT> <@W0GRID|bot> prod-orders", None) == "prod-orders"
    assert command_text("<@UOTHER> prod-orders", BOT_USER_ID) == "prod-orders"


async def test_the_mention_is_stripped_and_entities_undone_through_bolt(
    slack: MockSlack, mocker: MockerFixture
) -> None:
    service = answering(mocker, HELP)
    typed = f"<@{BOT_USER_ID}|dms-tasks-bot> <@{BOT_USER_ID}> x name=R&amp;D"
    await dispatch(bolt_app(slack, service), signed_mention(typed))
    await posted_once(slack)
    assert service.command.await_args.args[0] == "x name=R&D"


async def test_a_bare_mention_gets_help(slack: MockSlack, mocker: MockerFixture) -> None:
    service = answering(mocker, HELP)
    await dispatch(bolt_app(slack, service), signed_mention(f"<@{BOT_USER_ID}>  "))
    body = await posted_once(slack)
    assert service.command.await_args.args[0] == "help"
    assert "prod-orders" in readable(body)


def refusing_service(tmp_path: Path, mocker: MockerFixture) -> tuple[TaskService, Any]:
    """The real service; prod-orders may be seen in #billing only."""
    config = tmp_path / "bot.toml"
    config.write_text(
        bot_config_toml(
            {
                "prod-orders": {
                    "instance_id": "4f1c9a70-5b1e-4c7a-9f1d-2a6b8c0de2a1",
                    "channels": ["C0BILLING"],
                }
            }
        ),
        encoding="utf-8",
    )
    settings = Settings.model_validate(
        {
            "HUAWEICLOUD_SDK_PROJECT_ID": "proj-1",
            "DMS_REGION": "test-region-1",
            "DMS_BOT_CONFIG": str(config),
        }
    )
    cache = mocker.create_autospec(TaskCache, instance=True)
    return TaskService(settings, cache), cache


async def test_a_mention_where_the_instance_is_not_allowed_is_refused_in_the_thread(
    slack: MockSlack, mocker: MockerFixture, tmp_path: Path
) -> None:
    service, cache = refusing_service(tmp_path, mocker)
    request = signed_mention(f"<@{BOT_USER_ID}> prod-orders last 1h", thread_ts=THREAD)
    await dispatch(bolt_app(slack, service), request)
    body = await posted_once(slack)
    assert body["thread_ts"] == THREAD
    assert "can't show prod-orders" in readable(body)
    assert "C0BILLING" in readable(body)
    # No task data: the cloud was never asked.
    assert cache.window.await_count == 0 and cache.task.await_count == 0


@pytest.mark.parametrize(
    "event",
    [
        # The bot's own message (Bolt's self-event filter) and another bot's.
        {"user": BOT_USER_ID, "bot_id": BOT_ID},
        {"user": None, "bot_id": "B0OTHERBOT", "subtype": "bot_message"},
        # An edit that keeps or adds the mention is not a new question.
        {"edited": {"user": USER, "ts": "1764662500.000000"}},
        {"subtype": "message_changed"},
    ],
    ids=["own", "other-bot", "edited", "changed"],
)
async def test_bots_and_edits_are_not_answered(
    slack: MockSlack, mocker: MockerFixture, event: dict[str, Any]
) -> None:
    service = answering(mocker, HELP)
    app = bolt_app(slack, service)
    fields = {k: v for k, v in event.items() if k != "user"}
    body = event_callback(
        mention_event(f"<@{BOT_USER_ID}> prod-orders", user=event.get("user", USER), **fields)
    )
    assert await dispatch(app, signed_event(body)) == 200
    await nothing_more_posted(app, slack)
    assert service.command.await_count == 1  # the later mention only


@pytest.mark.parametrize("reason", ["http_timeout", "unknown_error", "too_many_redirects", ""])
async def test_a_retry_of_a_delivered_event_is_acked_and_not_answered_again(
    slack: MockSlack, mocker: MockerFixture, reason: str
) -> None:
    service = answering(mocker, HELP)
    app = bolt_app(slack, service)
    body = event_callback(mention_event(f"<@{BOT_USER_ID}> prod-orders last 1h"))
    assert await dispatch(app, signed_event(body)) == 200
    await slack.wait_for(POST_MESSAGE)
    for attempt in (1, 2, 3):
        retry = signed_event(body, retry_num=attempt, retry_reason=reason)
        assert await dispatch(app, retry) == 200
    await nothing_more_posted(app, slack, posts=1)
    assert service.command.await_count == 2


async def test_an_event_refused_while_shutting_down_is_answered_on_its_retry(
    slack: MockSlack, mocker: MockerFixture
) -> None:
    # Slack retries what got a non-2xx answer ("http_error"): that retry is the only delivery.
    service = answering(mocker, HELP)
    stopping = WorkTracker()
    stopping.stop_accepting()
    body = event_callback(mention_event(f"<@{BOT_USER_ID}> help", thread_ts=THREAD))
    assert await dispatch(bolt_app(slack, service, stopping), signed_event(body)) == 503
    replica = bolt_app(slack, service)
    retry = signed_event(body, retry_num=1, retry_reason="http_error")
    assert await dispatch(replica, retry) == 200
    posted = await posted_once(slack)
    assert posted["thread_ts"] == THREAD
    service.command.assert_awaited_once()


def test_socket_modes_first_delivery_is_no_retry() -> None:
    # Bolt's Socket Mode adapter turns retry_attempt 0 into X-Slack-Retry-Num: 0.
    assert not repeats_a_delivered_event({"x-slack-retry-num": ["0"]})
    assert not repeats_a_delivered_event({})
    assert repeats_a_delivered_event(
        {"x-slack-retry-num": ["1"], "x-slack-retry-reason": ["timeout"]}
    )
    assert repeats_a_delivered_event({"x-slack-retry-num": ["x"]})
    assert not repeats_a_delivered_event(
        {"x-slack-retry-num": ["2"], "x-slack-retry-reason": ["connection_failed"]}
    )


async def test_the_answer_is_worked_on_after_the_ack_and_tracked_for_shutdown(
    slack: MockSlack, mocker: MockerFixture
) -> None:
    service = mocker.create_autospec(TaskService, instance=True)
    asked, release = asyncio.Event(), asyncio.Event()

    async def answer(text: str, requester: Requester, announce: Any = None) -> HelpView:
        asked.set()
        await release.wait()
        return HELP

    service.command.side_effect = answer
    work = WorkTracker()
    app = bolt_app(slack, service, work)
    assert await dispatch(app, signed_mention(f"<@{BOT_USER_ID}> help")) == 200
    await asked.wait()
    assert work.active == 1 and slack.calls_to(POST_MESSAGE) == []
    release.set()
    await posted_once(slack)
    assert await work.drain(5)


async def test_a_listing_is_posted_as_the_public_copy(
    slack: MockSlack, mocker: MockerFixture
) -> None:
    report = sketch_report()
    await dispatch(bolt_app(slack, answering(mocker, report)), signed_mention("<@UBOT> x"))
    body = await posted_once(slack)
    text = readable(body)
    assert "prod-orders" in text
    # Date tokens every reader sees in their own zone, nothing relative that would freeze.
    assert "<!date^" in text and "min ago" not in text
    # No button that one click would change for everyone.
    assert message_buttons(body) == []
    assert f"<@{USER}>" in text  # who asked


@pytest.mark.parametrize(
    "outcome",
    [
        sketch_report(),
        params_view(sketch_report().page_tasks[0]),
        HELP,
        Problem(summary="Huawei Cloud timed out.", reference="request 5c3a"),
        WhichInstance(
            command="/dms-tasks",
            query=TaskQuery(target=None, window=WINDOW),
            instances=("prod-orders", "bulk-audit"),
        ),
    ],
    ids=["listing", "params", "help", "problem", "which"],
)
def test_every_public_answer_posts_and_has_no_button_that_changes_it(outcome: Outcome) -> None:
    message = public_answer(outcome, USER, "last 1h")
    check_posted_message(message)
    actions = {ActionId.parse(b["action_id"]) for b in message_buttons(message)}
    assert actions <= {ActionId.OPEN_LIST}


def test_which_instance_names_the_choices_in_words() -> None:
    which = WhichInstance(
        command="/dms-tasks",
        query=TaskQuery(target=None, window=TimeWindow(begin=NOW, end=NOW, label="last 1 h")),
        instances=("prod-orders", "bulk-audit"),
    )
    text = readable(public_answer(which, USER, "last 1h status=failed"))
    assert "prod-orders or bulk-audit" in text
    assert "@dms-tasks-bot prod-orders last 1h status=failed" in text


async def test_a_channel_the_bot_cannot_post_in_is_logged_without_a_crash(
    slack: MockSlack, mocker: MockerFixture, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="handlers.mentions")
    app = bolt_app(slack, answering(mocker, HELP))
    await dispatch(app, signed_mention("<@UBOT> help", channel="G0PRIVATE"))
    [refused] = await slack.wait_for(POST_MESSAGE)
    assert refused.body["channel"] == "G0PRIVATE"
    await nothing_more_posted(app, slack, posts=1)
    assert "channel_not_found" in caplog.text and "no response_url" in caplog.text


async def test_an_answer_slack_rejects_is_followed_by_a_short_one(
    slack: MockSlack, mocker: MockerFixture
) -> None:
    slack.fail_post_message("msg_blocks_too_long")
    app = bolt_app(slack, answering(mocker, sketch_report()))
    await dispatch(app, signed_mention("<@UBOT> prod-orders", thread_ts=THREAD))
    rejected, note = await slack.wait_for(POST_MESSAGE, count=2)
    assert rejected.body["thread_ts"] == note.body["thread_ts"] == THREAD
    check_posted_message(note.body)
    assert "msg_blocks_too_long" in readable(note.body)


async def test_other_post_failures_are_logged_once(
    slack: MockSlack, mocker: MockerFixture, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="handlers.mentions")
    slack.fail_post_message("restricted_action")
    app = bolt_app(slack, answering(mocker, HELP))
    await dispatch(app, signed_mention("<@UBOT> help"))
    await nothing_more_posted(app, slack, posts=1)
    assert "restricted_action" in caplog.text
