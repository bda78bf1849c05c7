"""The Slack listeners through Bolt's real dispatch, as bolt-python's own scenario tests do:
signed `AsyncBoltRequest`s go through `AsyncApp.async_dispatch`, so signature checks, routing,
the middleware and argument injection are Bolt's own. The Web API and response_urls are the
mock Slack over loopback. Ack comes first, and every path ends in a message for the user."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from pytest_mock import MockerFixture
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.web.async_client import AsyncWebClient

from bot.dms.cache import TaskCache
from bot.dms.errors import DmsErrorKind, DmsOperation, DmsUnavailableError
from bot.grammar.state import ButtonState
from bot.ids import ActionId
from bot.poster import SlackPoster
from bot.report import HelpView, Refusal, TaskReport
from bot.service import Requester, TaskService
from bot.settings import Settings
from bot.timezones import UserTimezones
from bot.work import WorkTracker
from handlers import register_listeners
from handlers.deps import Deps
from tests.e2e_harness import SIGNING_SECRET, SignedRequest, sign, signed_click, signed_command
from tests.slack_mock import BOT_TOKEN, POST_MESSAGE, MockSlack, start_mock_slack

BERLIN = ZoneInfo("Europe/Berlin")
CHANNEL, USER = "C0ONCALL", "U0ALICE"
UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"
HELP = HelpView(command="/dms-tasks", instances=("prod-orders",))
STATE = ButtonState.decode('{"v":1,"b":1764662400,"e":1764666000,"l":"last 1 h"}')


@pytest.fixture
async def slack() -> AsyncIterator[MockSlack]:
    async with start_mock_slack(default_tz="Europe/Berlin") as mock:
        yield mock


def bolt_app(slack: MockSlack, service: Any, *, command: str = "/dms-tasks") -> AsyncApp:
    client = AsyncWebClient(token=BOT_TOKEN, base_url=slack.api_url)
    app = AsyncApp(client=client, signing_secret=SIGNING_SECRET, process_before_response=False)
    register_listeners(
        app,
        Deps(
            service=service,
            timezones=UserTimezones(ZoneInfo("UTC")),
            work=WorkTracker(),
            poster=SlackPoster(client),
            command=command,
        ),
    )
    return app


async def dispatch(app: AsyncApp, request: SignedRequest) -> int:
    response = await app.async_dispatch(
        AsyncBoltRequest(body=request.body.decode(), headers=request.headers)
    )
    return response.status


def real_service(mocker: MockerFixture, failure: Exception) -> TaskService:
    """The real service over a cache whose every call fails with `failure`."""
    cache = mocker.create_autospec(TaskCache, instance=True)
    cache.window.side_effect = failure
    cache.task.side_effect = failure
    cache.instances.side_effect = failure
    settings = Settings.model_validate(
        {"HUAWEICLOUD_SDK_PROJECT_ID": "proj-1", "DMS_REGION": "test-region-1"}
    )
    return TaskService(settings, cache)


def click(action_id: str, url: str, value: str | None = None) -> SignedRequest:
    button = {"type": "button", "action_id": action_id, "value": STATE.encode()}
    blocks = [{"type": "actions", "block_id": "dms_pager", "elements": [button]}]
    return signed_click(button, blocks, CHANNEL, USER, url, value=value)


def answer_text(body: dict[str, Any]) -> str:
    assert body["text"] and body["blocks"], body
    return str(body["text"]) + json.dumps(body["blocks"])


async def test_command_acks_before_asking_the_service(
    slack: MockSlack, mocker: MockerFixture
) -> None:
    service = mocker.create_autospec(TaskService, instance=True)
    asked, release = asyncio.Event(), asyncio.Event()

    async def answer(text: str, requester: Requester, announce: Any = None) -> HelpView:
        asked.set()
        await release.wait()
        return HELP

    service.command.side_effect = answer
    url = slack.response_url()
    # Bolt answers Slack at ack(): the dispatch is done while the service is still working.
    assert (
        await dispatch(bolt_app(slack, service), signed_command("help", CHANNEL, USER, url)) == 200
    )
    await asked.wait()
    assert slack.calls_to(url) == []
    release.set()
    [sent] = await slack.wait_for(url)
    text, requester = service.command.await_args.args
    assert text == "help"
    # The middleware built the Requester, with the zone from users.info.
    assert requester == Requester(channel_id=CHANNEL, user_id=USER, tz=BERLIN)
    assert sent.body["response_type"] == "ephemeral"
    assert "prod-orders" in answer_text(sent.body)


async def test_command_text_arrives_with_slack_entities_undone(
    slack: MockSlack, mocker: MockerFixture
) -> None:
    service = mocker.create_autospec(TaskService, instance=True)
    service.command.return_value = HELP
    url = slack.response_url()
    request = signed_command("x name=R&amp;D user=a&lt;b&gt;", CHANNEL, USER, url)
    await dispatch(bolt_app(slack, service), request)
    await slack.wait_for(url)
    assert service.command.await_args.args[0] == "x name=R&D user=a<b>"


async def test_the_command_name_is_the_configured_one(
    slack: MockSlack, mocker: MockerFixture
) -> None:
    service = mocker.create_autospec(TaskService, instance=True)
    service.command.return_value = HELP
    url = slack.response_url()
    body = signed_command("help", CHANNEL, USER, url).body.replace(b"%2Fdms-tasks", b"%2Fkafka")
    await dispatch(bolt_app(slack, service, command="/kafka"), sign(body))
    await slack.wait_for(url)
    service.command.assert_awaited_once()


async def test_command_with_the_cloud_down_still_answers_with_the_request_id(
    slack: MockSlack, mocker: MockerFixture
) -> None:
    failure = DmsUnavailableError(
        operation=DmsOperation.LIST_TASKS,
        kind=DmsErrorKind.SERVER_ERROR,
        status=503,
        error_code="DMS.00500000",
        request_id="req-5c3a9e",
        instance_id=UNKNOWN_ID,
        attempts=4,
        retryable=True,
    )
    url = slack.response_url()
    app = bolt_app(slack, real_service(mocker, failure))
    await dispatch(app, signed_command(f"{UNKNOWN_ID} last 1h", CHANNEL, USER, url))
    [sent] = await slack.wait_for(url)
    text = answer_text(sent.body)
    assert "answered HTTP 503" in text
    assert "req-5c3a9e" in text and "DMS.00500000" in text


async def test_command_hitting_a_bug_still_answers_with_an_error_id(
    slack: MockSlack, mocker: MockerFixture
) -> None:
    url = slack.response_url()
    app = bolt_app(slack, real_service(mocker, RuntimeError("boom")))
    await dispatch(app, signed_command(f"{UNKNOWN_ID} last 1h", CHANNEL, USER, url))
    [sent] = await slack.wait_for(url)
    text = answer_text(sent.body)
    assert "Something went wrong" in text and "error id" in text
    assert "boom" not in text and "Traceback" not in text


async def test_slack_without_a_time_zone_still_gets_an_answer(
    slack: MockSlack, mocker: MockerFixture
) -> None:
    service = mocker.create_autospec(TaskService, instance=True)
    service.command.return_value = HELP
    slack.user_tz[USER] = ""  # users.info tells no zone
    url = slack.response_url()
    await dispatch(bolt_app(slack, service), signed_command("", CHANNEL, USER, url))
    await slack.wait_for(url)
    assert service.command.await_args.args[1].tz == ZoneInfo("UTC")


async def test_a_request_with_a_bad_signature_never_reaches_the_service(
    slack: MockSlack, mocker: MockerFixture
) -> None:
    service = mocker.create_autospec(TaskService, instance=True)
    forged = signed_command("help", CHANNEL, USER, slack.response_url(), secret="not-the-secret")
    assert await dispatch(bolt_app(slack, service), forged) == 401
    service.command.assert_not_awaited()


@pytest.mark.parametrize(
    "action",
    [
        ActionId.NEXT,
        ActionId.PREV,
        ActionId.REFRESH,
        ActionId.PARAMS,
        ActionId.BACK,
        ActionId.SHOW_PROBLEMS,
    ],
)
async def test_click_decodes_the_state_once_and_replaces_the_message(
    slack: MockSlack, mocker: MockerFixture, action: ActionId
) -> None:
    service = mocker.create_autospec(TaskService, instance=True)
    service.press.return_value = HELP
    url = slack.response_url()
    assert await dispatch(bolt_app(slack, service), click(action.unique(3), url)) == 200
    [sent] = await slack.wait_for(url)
    pressed, state, requester = service.press.await_args.args
    assert pressed is action
    assert state == STATE  # typed state, not the raw value
    assert (requester.channel_id, requester.user_id) == (CHANNEL, USER)
    assert sent.body["replace_original"] is True
    answer_text(sent.body)


async def test_click_with_a_damaged_value_answers_with_a_clear_error(
    slack: MockSlack, mocker: MockerFixture
) -> None:
    service = mocker.create_autospec(TaskService, instance=True)
    url = slack.response_url()
    await dispatch(bolt_app(slack, service), click(ActionId.NEXT.unique(1), url, '{"v": 1, "t": ['))
    [sent] = await slack.wait_for(url)
    assert "damaged or out of date" in answer_text(sent.body)
    assert "/dms-tasks help" in answer_text(sent.body)
    service.press.assert_not_awaited()


def shareable_answer(mocker: MockerFixture) -> Any:
    """A service whose press answers a listing; the share renders it for everyone."""
    service = mocker.create_autospec(TaskService, instance=True)
    service.press.return_value = mocker.MagicMock(spec=TaskReport)
    rows = {"type": "section", "block_id": "b", "text": {"type": "mrkdwn", "text": "rows"}}
    rendered = {"text": "prod-orders", "blocks": [rows]}
    mocker.patch("handlers.actions.shared_copy", return_value=rendered)
    return service


async def test_share_goes_public_through_the_response_url_then_removes_the_original(
    slack: MockSlack, mocker: MockerFixture
) -> None:
    # The bot is in no channel at all: chat.postMessage would answer channel_not_found.
    url = slack.response_url()
    app = bolt_app(slack, shareable_answer(mocker))
    await dispatch(app, click(ActionId.SHARE.unique(1), url))
    public, removal = await slack.wait_for(url, count=2)
    assert public.body["response_type"] == "in_channel"
    assert public.body["replace_original"] is False
    assert public.body["text"] == "prod-orders"
    assert removal.body["delete_original"] is True
    assert slack.calls_to(POST_MESSAGE) == []


async def test_share_past_the_response_url_uses_falls_back_to_posting(
    slack: MockSlack, mocker: MockerFixture
) -> None:
    slack.member_of.add(CHANNEL)
    url = slack.response_url()
    async with httpx.AsyncClient() as http:
        for _ in range(5):  # a response_url takes 5 posts
            await http.post(url, json={"text": "earlier"})
    await dispatch(bolt_app(slack, shareable_answer(mocker)), click(ActionId.SHARE.unique(1), url))
    [posted] = await slack.wait_for(POST_MESSAGE)
    assert posted.body["channel"] == CHANNEL


async def test_share_that_slack_refuses_tells_the_user_how_to_fix_it(
    slack: MockSlack, mocker: MockerFixture
) -> None:
    # The response_url refuses (spent), and the bot is not in the channel either.
    url, spare = slack.response_url("spent"), slack.response_url("spare")
    async with httpx.AsyncClient() as http:
        for _ in range(5):
            await http.post(url, json={"text": "earlier"})
    slack.public_channels.add(CHANNEL)
    mocker.patch("handlers.actions._delivered", return_value=False)
    await dispatch(
        bolt_app(slack, shareable_answer(mocker)), click(ActionId.SHARE.unique(1), spare)
    )
    [refused] = await slack.wait_for(POST_MESSAGE)
    assert refused.body["channel"] == CHANNEL
    calls = await slack.wait_for(spare, count=2)
    text = answer_text(calls[-1].body)
    assert "not_in_channel" in text and "run the command again" in text
    assert calls[-1].body["response_type"] == "ephemeral"


async def test_share_of_something_refused_stays_private(
    slack: MockSlack, mocker: MockerFixture
) -> None:
    service = mocker.create_autospec(TaskService, instance=True)
    service.press.return_value = Refusal("prod-orders", ("C_ONCALL",))
    url = slack.response_url()
    await dispatch(bolt_app(slack, service), click(ActionId.SHARE.unique(1), url))
    [sent] = await slack.wait_for(url)
    assert "can't show prod-orders" in answer_text(sent.body)
    assert sent.body["response_type"] == "ephemeral"
    assert slack.calls_to(POST_MESSAGE) == []


async def test_every_button_the_renderer_makes_has_exactly_one_listener(
    slack: MockSlack, mocker: MockerFixture
) -> None:
    app = bolt_app(slack, mocker.create_autospec(TaskService, instance=True))
    for action in ActionId:
        for action_id in (action.unique(1), action.value):
            request = click(action_id, slack.response_url())
            matching = [
                listener
                for listener in app._async_listeners
                if await listener.async_matches(
                    req=AsyncBoltRequest(body=request.body.decode(), headers=request.headers),
                    resp=None,  # type: ignore[arg-type]
                )
            ]
            assert len(matching) == 1, f"{action_id} is routed to {len(matching)} listeners"
