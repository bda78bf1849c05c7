"""The Slack listeners called directly, with mocks of ack / respond / client (the way Slack's
bolt-python starter template tests its listeners): ack comes first, and every path ends in a
message for the user."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, cast
from zoneinfo import ZoneInfo

import pytest
from pytest_mock import MockerFixture
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from bot.dms.cache import TaskCache
from bot.dms.errors import DmsUnavailableError
from bot.ids import ActionId
from bot.report import HelpView, Refusal
from bot.service import Requester, TaskService
from bot.settings import Settings
from bot.timezones import UserTimezones
from handlers import Deps, register_listeners

Listener = Callable[..., Any]
BERLIN = ZoneInfo("Europe/Berlin")
UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"


class ListenerCapture:
    """Takes the place of AsyncApp in `register_listeners`, keeping the decorated functions."""

    def __init__(self) -> None:
        self.commands: dict[str, Listener] = {}
        self.actions: list[tuple[re.Pattern[str], Listener]] = []

    def command(self, name: str) -> Callable[[Listener], Listener]:
        def keep(listener: Listener) -> Listener:
            self.commands[name] = listener
            return listener

        return keep

    def action(self, pattern: re.Pattern[str]) -> Callable[[Listener], Listener]:
        def keep(listener: Listener) -> Listener:
            self.actions.append((pattern, listener))
            return listener

        return keep

    def for_action(self, action_id: str) -> Listener:
        matching = [listener for pattern, listener in self.actions if pattern.match(action_id)]
        assert len(matching) == 1, f"{action_id} is routed to {len(matching)} listeners"
        return matching[0]


def listeners(service: TaskService) -> ListenerCapture:
    capture = ListenerCapture()
    register_listeners(
        cast(AsyncApp, capture), Deps(service=service, timezones=UserTimezones(ZoneInfo("UTC")))
    )
    return capture


def slack_client(mocker: MockerFixture) -> Any:
    client = mocker.AsyncMock()
    client.users_info.return_value = {"ok": True, "user": {"id": "U1", "tz": "Europe/Berlin"}}
    return client


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


def command_body(text: str) -> dict[str, Any]:
    return {
        "command": "/dms-tasks",
        "text": text,
        "user_id": "U1",
        "channel_id": "C_ONCALL",
        "response_url": "https://hooks.slack.test/commands/1",
    }


def click_body(action_id: str, value: str) -> tuple[dict[str, Any], dict[str, Any]]:
    action = {"action_id": action_id, "block_id": "dms_pager", "value": value, "type": "button"}
    body = {
        "type": "block_actions",
        "user": {"id": "U1"},
        "channel": {"id": "C_ONCALL"},
        "container": {"type": "message", "channel_id": "C_ONCALL", "is_ephemeral": True},
        "actions": [action],
    }
    return body, action


def recording_mocks(mocker: MockerFixture, order: list[str]) -> tuple[Any, Any]:
    ack = mocker.AsyncMock(side_effect=lambda *a, **k: order.append("ack"))
    respond = mocker.AsyncMock(side_effect=lambda *a, **k: order.append("respond"))
    return ack, respond


def sent_text(respond: Any) -> str:
    respond.assert_awaited_once()
    kwargs = respond.await_args.kwargs
    assert kwargs["text"] and kwargs["blocks"], kwargs
    return str(kwargs["text"]) + str(kwargs["blocks"])


async def test_command_acks_before_asking_the_service(mocker: MockerFixture) -> None:
    order: list[str] = []
    service = mocker.create_autospec(TaskService, instance=True)

    async def answer(text: str, requester: Requester) -> HelpView:
        order.append("service")
        assert requester == Requester(channel_id="C_ONCALL", user_id="U1", tz=BERLIN)
        return HelpView(command="/dms-tasks", instances=("prod-orders",))

    service.command.side_effect = answer
    ack, respond = recording_mocks(mocker, order)
    handler = listeners(service).commands["/dms-tasks"]
    body = command_body("help")
    await handler(ack=ack, command=body, respond=respond, client=slack_client(mocker))
    assert order == ["ack", "service", "respond"]
    ack.assert_awaited_once_with()
    service.command.assert_awaited_once()
    assert service.command.await_args.args[0] == "help"
    assert respond.await_args.kwargs["response_type"] == "ephemeral"
    assert "prod-orders" in sent_text(respond)


async def test_command_with_the_cloud_down_still_answers_with_the_request_id(
    mocker: MockerFixture,
) -> None:
    failure = DmsUnavailableError(
        summary="Huawei Cloud did not answer in time.",
        hint="Try again in a minute.",
        status=503,
        error_code="DMS.00500000",
        request_id="req-5c3a9e",
    )
    order: list[str] = []
    ack, respond = recording_mocks(mocker, order)
    handler = listeners(real_service(mocker, failure)).commands["/dms-tasks"]
    body = command_body(f"{UNKNOWN_ID} last 1h")
    await handler(ack=ack, command=body, respond=respond, client=slack_client(mocker))
    assert order == ["ack", "respond"]
    text = sent_text(respond)
    assert "did not answer in time" in text
    assert "req-5c3a9e" in text and "DMS.00500000" in text


async def test_command_hitting_a_bug_still_answers_with_an_error_id(
    mocker: MockerFixture,
) -> None:
    order: list[str] = []
    ack, respond = recording_mocks(mocker, order)
    handler = listeners(real_service(mocker, RuntimeError("boom"))).commands["/dms-tasks"]
    body = command_body(f"{UNKNOWN_ID} last 1h")
    await handler(ack=ack, command=body, respond=respond, client=slack_client(mocker))
    assert order == ["ack", "respond"]
    text = sent_text(respond)
    assert "Something went wrong" in text and "error id" in text
    assert "boom" not in text and "Traceback" not in text


async def test_slack_without_a_time_zone_still_gets_an_answer(mocker: MockerFixture) -> None:
    service = mocker.create_autospec(TaskService, instance=True)
    service.command.return_value = HelpView(command="/dms-tasks", instances=())
    client = slack_client(mocker)
    client.users_info.side_effect = RuntimeError("users.info unavailable")
    ack, respond = mocker.AsyncMock(), mocker.AsyncMock()
    handler = listeners(service).commands["/dms-tasks"]
    await handler(ack=ack, command=command_body(""), respond=respond, client=client)
    assert service.command.await_args.args[1].tz == ZoneInfo("UTC")
    sent_text(respond)


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
async def test_click_acks_first_and_replaces_the_message(
    mocker: MockerFixture, action: ActionId
) -> None:
    order: list[str] = []
    service = mocker.create_autospec(TaskService, instance=True)

    async def press(pressed: ActionId, value: str, requester: Requester) -> HelpView:
        order.append("service")
        assert pressed is action and value == '{"v":1}'
        assert requester.channel_id == "C_ONCALL" and requester.user_id == "U1"
        return HelpView(command="/dms-tasks", instances=("prod-orders",))

    service.press.side_effect = press
    ack, respond = recording_mocks(mocker, order)
    body, clicked = click_body(action.unique(3), '{"v":1}')
    handler = listeners(service).for_action(action.unique(3))
    await handler(ack=ack, body=body, action=clicked, respond=respond, client=slack_client(mocker))
    assert order == ["ack", "service", "respond"]
    assert respond.await_args.kwargs["replace_original"] is True
    sent_text(respond)


async def test_click_with_a_damaged_value_answers_with_a_clear_error(
    mocker: MockerFixture,
) -> None:
    service = real_service(mocker, AssertionError("a damaged value must not reach the cloud"))
    ack, respond = mocker.AsyncMock(), mocker.AsyncMock()
    body, clicked = click_body(ActionId.NEXT.unique(1), '{"v": 1, "t": [')
    handler = listeners(service).for_action(clicked["action_id"])
    await handler(ack=ack, body=body, action=clicked, respond=respond, client=slack_client(mocker))
    ack.assert_awaited_once()
    assert "damaged or out of date" in sent_text(respond)


async def test_share_posts_a_public_copy_without_buttons(mocker: MockerFixture) -> None:
    service = mocker.create_autospec(TaskService, instance=True)
    service.press.return_value = HelpView(command="/dms-tasks", instances=("prod-orders",))
    client = slack_client(mocker)
    ack, respond = mocker.AsyncMock(), mocker.AsyncMock()
    body, clicked = click_body(ActionId.SHARE.unique(1), '{"v":1}')
    handler = listeners(service).for_action(clicked["action_id"])
    await handler(ack=ack, body=body, action=clicked, respond=respond, client=client)
    ack.assert_awaited_once()
    client.chat_postMessage.assert_awaited_once()
    posted = client.chat_postMessage.await_args.kwargs
    assert posted["channel"] == "C_ONCALL" and posted["text"]
    assert all(block["type"] != "actions" for block in posted["blocks"])
    assert "<@U1>" in str(posted["blocks"])
    respond.assert_not_awaited()


async def test_share_that_slack_refuses_tells_the_user_how_to_fix_it(
    mocker: MockerFixture,
) -> None:
    service = mocker.create_autospec(TaskService, instance=True)
    service.press.return_value = HelpView(command="/dms-tasks", instances=("prod-orders",))
    client = slack_client(mocker)
    refused = AsyncSlackResponse(
        client=client,
        http_verb="POST",
        api_url="https://slack.test/api/chat.postMessage",
        req_args={},
        data={"ok": False, "error": "not_in_channel"},
        headers={},
        status_code=200,
    )
    client.chat_postMessage.side_effect = SlackApiError("not_in_channel", refused)
    ack, respond = mocker.AsyncMock(), mocker.AsyncMock()
    body, clicked = click_body(ActionId.SHARE.unique(1), '{"v":1}')
    handler = listeners(service).for_action(clicked["action_id"])
    await handler(ack=ack, body=body, action=clicked, respond=respond, client=client)
    text = sent_text(respond)
    assert "/invite" in text and "not_in_channel" in text
    assert respond.await_args.kwargs["response_type"] == "ephemeral"
    assert respond.await_args.kwargs["replace_original"] is False


async def test_share_of_something_refused_stays_private(mocker: MockerFixture) -> None:
    service = mocker.create_autospec(TaskService, instance=True)
    service.press.return_value = Refusal("prod-orders", ("C_ONCALL",))
    client = slack_client(mocker)
    ack, respond = mocker.AsyncMock(), mocker.AsyncMock()
    body, clicked = click_body(ActionId.SHARE.unique(1), '{"v":1}')
    handler = listeners(service).for_action(clicked["action_id"])
    await handler(ack=ack, body=body, action=clicked, respond=respond, client=client)
    client.chat_postMessage.assert_not_awaited()
    assert "can't show prod-orders" in sent_text(respond)
    assert respond.await_args.kwargs["response_type"] == "ephemeral"


def test_every_button_the_renderer_makes_has_exactly_one_listener(mocker: MockerFixture) -> None:
    capture = listeners(mocker.create_autospec(TaskService, instance=True))
    for action in ActionId:
        capture.for_action(action.unique(1))
        capture.for_action(action.value)
