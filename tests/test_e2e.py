"""The real `dms-tasks-bot serve` process, driven the way Slack drives it.

One serve process for the module, over loopback HTTP only: signed slash commands and button
clicks go to its /slack/events; its DMS calls go to the simulator and its Slack calls (Web API
and response_url) go to the mock Slack server, both running in this test process.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import pytest_asyncio

from bot.grammar.state import decode_state, encode_state
from bot.ids import ActionId
from bot.redact import is_secret_key
from bot.simulator import (
    DEMO_SK,
    Faults,
    SimulatorConfig,
    start_simulator,
)
from tests.e2e_harness import (
    SIGNING_SECRET,
    BotProcess,
    bot_config_toml,
    bot_env,
    button,
    buttons,
    serve_bot,
    signed_click,
    signed_command,
)
from tests.slack_mock import (
    AUTH_TEST,
    BOT_TOKEN,
    POST_MESSAGE,
    USERS_INFO,
    MockSlack,
    start_mock_slack,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")

ONCALL, BILLING, RANDOM = "C0ONCALL", "C0BILLING", "C0RANDOM"
ALICE, BOB = "U0ALICE", "U0BOB"


class Stack:
    """Everything one module of tests talks to."""

    def __init__(self, sim: Any, slack: MockSlack, bot: BotProcess) -> None:
        self.sim = sim
        self.slack = slack
        self.bot = bot

    def instance(self, name: str) -> Any:
        return next(i for i in self.sim.instances if i.name == name)

    async def command(
        self, text: str, channel: str = ONCALL, user: str = ALICE
    ) -> tuple[httpx.Response, dict[str, Any]]:
        """Sends the command; returns Slack's view of the ack and the message at response_url."""
        url = self.slack.response_url()
        ack = await self.bot.send(signed_command(text, channel, user, url))
        assert ack.status_code == 200, ack.text
        [answer] = await self.slack.wait_for(url)
        return ack, answer.body

    async def click(
        self,
        message: dict[str, Any],
        action_prefix: str,
        *,
        channel: str = ONCALL,
        user: str = ALICE,
        value: str | None = None,
        wait: bool = True,
    ) -> tuple[httpx.Response, dict[str, Any] | None]:
        url = self.slack.response_url()
        pressed = button(message, action_prefix)
        request = signed_click(pressed, message["blocks"], channel, user, url, value=value)
        ack = await self.bot.send(request)
        assert ack.status_code == 200, ack.text
        if not wait:
            return ack, None
        [answer] = await self.slack.wait_for(url)
        return ack, answer.body


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    async with start_simulator(SimulatorConfig()) as sim, start_mock_slack() as slack:
        ids = {i.name: i.instance_id for i in sim.instances}
        config = bot_config_toml(
            {
                "prod-orders": {"instance_id": ids["prod-orders"], "channels": [ONCALL]},
                "prod-billing": {"instance_id": ids["prod-billing"], "channels": [ONCALL, BILLING]},
                "edge-cases": {"instance_id": ids["edge-cases"], "channels": [ONCALL]},
            },
            channels={ONCALL: "prod-orders"},
            default_timezone="Europe/Berlin",
        )
        path = tmp_path_factory.mktemp("e2e") / "bot.toml"
        path.write_text(config, encoding="utf-8")
        env = bot_env(
            mock=slack,
            dms_endpoint=sim.url,
            config_path=path,
            # Small, so that "the cloud is down" is told within a second, not after 20.
            extra={"DMS_RETRY_BUDGET": "0.5", "DMS_TIMEOUT": "2"},
        )
        async with serve_bot(env) as bot:
            yield Stack(sim, slack, bot)


@pytest.fixture(autouse=True)
def healthy(stack: Stack) -> Iterator[None]:
    yield
    stack.sim.set_faults(Faults())
    stack.slack.failures.rate_limited = 0
    stack.slack.failures.errors.clear()


# ---- reading what Slack received --------------------------------------------------------------


def texts(message: dict[str, Any]) -> str:
    """Everything a person could read in a message, as one string."""
    return json.dumps(message, ensure_ascii=False)


def state_of(message: dict[str, Any], action_prefix: str) -> tuple[Any, str | None]:
    return decode_state(button(message, action_prefix)["value"])


def params_task_ids(message: dict[str, Any]) -> list[str]:
    ids = []
    for element in buttons(message):
        if element["action_id"].split(":", 1)[0] == ActionId.PARAMS:
            _, task_id = decode_state(element["value"])
            assert task_id
            ids.append(task_id)
    return ids


def parse_api_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


def tasks_in(instance: Any, begin: datetime, end: datetime) -> list[dict[str, Any]]:
    return [t for t in instance.tasks if begin <= parse_api_time(t["created_at"]) < end]


def everything_slack_received(slack: MockSlack) -> str:
    return "\n".join(json.dumps(call.body, ensure_ascii=False) for call in slack.calls)


# ---- the tests ----------------------------------------------------------------------------------


async def test_health_endpoint_answers(stack: Stack) -> None:
    response = await stack.bot.http.get(f"{stack.bot.url}/healthz")
    assert response.status_code == 200
    assert response.json()["ok"] is True


async def test_command_is_acked_empty_and_answered_at_the_response_url(stack: Stack) -> None:
    ack, message = await stack.command("prod-orders last 7d")
    assert ack.text == ""
    assert message["response_type"] == "ephemeral"
    assert message["text"] and message["blocks"]
    assert "prod-orders" in message["text"]
    assert "prod-orders" in message["blocks"][0]["text"]["text"]
    query, _ = state_of(message, ActionId.REFRESH)
    assert query.target == "prod-orders"
    expected = tasks_in(stack.instance("prod-orders"), query.window.begin, query.window.end)
    assert expected, "the simulator should have tasks in the last 7 days"
    count = f"{len(expected)} task" if len(expected) == 1 else f"{len(expected)} tasks"
    assert count in message["text"]
    failed = sum(1 for t in expected if t["status"] == "FAILED")
    if failed:
        assert f"{failed} failed" in message["text"]


async def test_bot_uses_its_token_and_asks_slack_for_the_user_time_zone(stack: Stack) -> None:
    stack.slack.user_tz[BOB] = "America/New_York"
    _, message = await stack.command("prod-orders last 2h", user=BOB)
    assert await stack.slack.wait_for(AUTH_TEST)
    lookups = [c for c in stack.slack.calls_to(USERS_INFO) if c.body.get("user") == BOB]
    assert lookups
    api_calls = [c for c in stack.slack.calls if c.path.startswith("/api/")]
    assert api_calls and all(c.bearer == BOT_TOKEN for c in api_calls)
    footer = message["blocks"][-1]["elements"][0]["text"]
    assert re.search(r"times in E[SD]T", footer), footer


async def test_next_replaces_the_message_with_page_two_of_the_same_window(stack: Stack) -> None:
    _, first = await stack.command("prod-orders last 7d limit=5")
    first_query, _ = state_of(first, ActionId.REFRESH)
    assert button(first, ActionId.NEXT)
    listed = stack.sim.stats["list_tasks"]

    ack, second = await stack.click(first, ActionId.NEXT)
    assert ack.text == ""
    assert second is not None
    assert second["replace_original"] is True
    second_query, _ = state_of(second, ActionId.REFRESH)
    assert second_query.page == 2
    assert second_query.window.begin == first_query.window.begin
    assert second_query.window.end == first_query.window.end
    assert second_query.target == first_query.target
    assert "Page 2 of" in texts(second)
    assert set(params_task_ids(second)).isdisjoint(params_task_ids(first))
    # The page turn is served from the window fetched for page 1.
    assert stack.sim.stats["list_tasks"] == listed

    _, back = await stack.click(second, ActionId.PREV)
    assert back is not None
    assert state_of(back, ActionId.REFRESH)[0] == first_query
    assert params_task_ids(back) == params_task_ids(first)


def secret_task(stack: Stack, name: str) -> tuple[dict[str, Any], str, str]:
    """The newest task of `name` whose params hold a password next to keys that are not secret:
    (task, key, password). Only passwords that mrkdwn escaping leaves intact count, so that their
    absence proves redaction."""
    for task in stack.instance(name).tasks:
        try:
            params = json.loads(task.get("params") or "")
        except ValueError:
            continue
        if not isinstance(params, dict) or all(is_secret_key(k) for k in params):
            continue
        for key, value in params.items():
            if (
                re.search("passw(or)?d", key, re.I)
                and isinstance(value, str)
                and re.fullmatch(r"[A-Za-z0-9!_-]{8,}", value)
            ):
                return task, key, value
    raise LookupError(f"the simulator should hold a task with a password in {name}")


async def test_params_are_shown_with_secrets_redacted(stack: Stack) -> None:
    task, secret_key, secret = secret_task(stack, "prod-orders")
    _, listing = await stack.command(f"prod-orders last 14d name={task['name']} limit=100")
    assert task["id"] in params_task_ids(listing), texts(listing)
    params_button = next(
        b
        for b in buttons(listing)
        if b["action_id"].split(":", 1)[0] == ActionId.PARAMS
        and decode_state(b["value"])[1] == task["id"]
    )

    url = stack.slack.response_url()
    await stack.bot.send(signed_click(params_button, listing["blocks"], ONCALL, ALICE, url))
    [answer] = await stack.slack.wait_for(url)
    view = answer.body
    assert view["replace_original"] is True
    shown = texts(view)
    assert task["id"][:8] in shown
    assert secret_key in shown and "(hidden)" in shown
    params = json.loads(task["params"])
    visible = {k: v for k, v in params.items() if not is_secret_key(k)}
    assert visible, "the chosen task should also have params that are not secret"
    for key, value in visible.items():
        assert key in shown
        if isinstance(value, str):
            assert value in shown
    assert secret not in everything_slack_received(stack.slack)
    assert secret not in stack.bot.log

    # Back returns to the listing the Params button came from.
    _, back = await stack.click(view, ActionId.BACK)
    assert back is not None
    assert state_of(back, ActionId.REFRESH)[0] == state_of(listing, ActionId.REFRESH)[0]


async def test_share_reaches_a_channel_the_bot_is_not_in_through_the_response_url(
    stack: Stack,
) -> None:
    # The mock Slack answers chat.postMessage with channel_not_found here, as Slack does for a
    # private channel the bot is not in: the copy must go through the click's response_url.
    before = len(stack.slack.calls_to(POST_MESSAGE))
    _, listing = await stack.command("prod-orders last 1d")
    url = stack.slack.response_url()
    share = button(listing, ActionId.SHARE)
    await stack.bot.send(signed_click(share, listing["blocks"], ONCALL, ALICE, url))
    public, removal = await stack.slack.wait_for(url, count=2)
    assert public.body["response_type"] == "in_channel"
    assert public.body["replace_original"] is False
    assert public.body["text"] == listing["text"]
    blocks = public.body["blocks"]
    assert blocks and all(b["type"] != "actions" for b in blocks)
    shown = json.dumps(blocks)
    assert f"<@{ALICE}>" in shown
    # Times as date tokens, which each reader sees in their own zone; nothing relative.
    assert "<!date^" in shown
    assert " ago" not in shown and "fetched" not in shown and "CET" not in shown
    assert removal.body == {"delete_original": True} or removal.body["delete_original"] is True
    assert len(stack.slack.calls_to(POST_MESSAGE)) == before


async def test_shared_params_carry_date_tokens(stack: Stack) -> None:
    _, listing = await stack.command("prod-orders last 7d")
    _, view = await stack.click(listing, ActionId.PARAMS)
    assert view is not None
    url = stack.slack.response_url()
    share = button(view, ActionId.SHARE)
    await stack.bot.send(signed_click(share, view["blocks"], ONCALL, ALICE, url))
    public, _ = await stack.slack.wait_for(url, count=2)
    assert public.body["response_type"] == "in_channel"
    assert "<!date^" in json.dumps(public.body["blocks"])


async def test_forged_or_stale_requests_are_refused_and_nothing_is_posted(stack: Stack) -> None:
    forged_url = stack.slack.response_url()
    forged = signed_command("prod-orders last 1h", ONCALL, ALICE, forged_url, secret="wrong")
    assert (await stack.bot.send(forged)).status_code == 401

    stale_url = stack.slack.response_url()
    ten_minutes_ago = int(datetime.now(UTC).timestamp()) - 600
    stale = signed_command(
        "prod-orders last 1h", ONCALL, ALICE, stale_url, timestamp=ten_minutes_ago
    )
    assert (await stack.bot.send(stale)).status_code == 401

    _, listing = await stack.command("prod-orders last 3h")
    click_url = stack.slack.response_url()
    forged_click = signed_click(
        button(listing, ActionId.REFRESH),
        listing["blocks"],
        ONCALL,
        ALICE,
        click_url,
        secret=SIGNING_SECRET[::-1],
    )
    assert (await stack.bot.send(forged_click)).status_code == 401

    unsigned = await stack.bot.http.post(
        stack.bot.events_url,
        content=forged.body,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert unsigned.status_code == 401

    # A signed request sent after them has been answered, so they had their chance to post.
    await stack.command("prod-orders last 4h")
    for url in (forged_url, stale_url, click_url):
        assert stack.slack.calls_to(url) == []


async def test_channel_without_access_gets_a_refusal_and_no_task_data(stack: Stack) -> None:
    listed = stack.sim.stats["list_tasks"]
    _, message = await stack.command("prod-orders last 7d", channel=RANDOM)
    shown = texts(message)
    assert "can't show prod-orders" in message["text"]
    assert f"<#{ONCALL}>" in shown
    assert_no_task_data(stack, "prod-orders", shown)
    assert buttons(message) == []
    assert stack.sim.stats["list_tasks"] == listed


def assert_no_task_data(stack: Stack, name: str, shown: str) -> None:
    for task in stack.instance(name).tasks:
        assert task["id"] not in shown
        if task.get("user_id"):
            assert task["user_id"] not in shown
        if len(task.get("user_name") or "") >= 4:
            assert task["user_name"] not in shown


async def test_tampered_button_values_are_refused_never_answered_with_data(stack: Stack) -> None:
    _, listing = await stack.command("prod-billing last 1d", channel=BILLING)
    assert "prod-billing" in listing["text"]
    query, _ = state_of(listing, ActionId.REFRESH)
    listed = stack.sim.stats["list_tasks"]

    # The target swapped for an alias this channel may not see.
    to_orders = encode_state(replace(query, target="prod-orders"))
    _, refused = await stack.click(listing, ActionId.REFRESH, channel=BILLING, value=to_orders)
    assert refused is not None
    assert "can't show prod-orders" in refused["text"]
    assert_no_task_data(stack, "prod-orders", texts(refused))
    assert buttons(refused) == []

    # ...or for the raw id of an instance that is in no alias at all.
    to_raw = encode_state(replace(query, target=stack.instance("staging-events").instance_id))
    _, refused_raw = await stack.click(listing, ActionId.REFRESH, channel=BILLING, value=to_raw)
    assert refused_raw is not None
    assert_no_task_data(stack, "staging-events", texts(refused_raw))
    assert buttons(refused_raw) == []

    garbage = '{"v": 1, "t": ['
    _, damaged = await stack.click(listing, ActionId.REFRESH, channel=BILLING, value=garbage)
    assert damaged is not None
    assert "damaged or out of date" in texts(damaged)
    assert buttons(damaged) == []
    assert stack.sim.stats["list_tasks"] == listed

    # A genuine prod-orders button, replayed from a channel that may not see prod-orders.
    _, oncall = await stack.command("prod-orders last 1d")
    listed = stack.sim.stats["list_tasks"]
    _, copied = await stack.click(oncall, ActionId.REFRESH, channel=RANDOM)
    assert copied is not None
    assert "can't show prod-orders" in copied["text"]
    assert_no_task_data(stack, "prod-orders", texts(copied))
    assert stack.sim.stats["list_tasks"] == listed


async def test_cloud_down_is_told_with_the_request_id_and_still_acked(stack: Stack) -> None:
    stack.sim.set_faults(Faults(error_first=10_000))
    # Reaching further back than any earlier test here: a window the instance's synced view
    # already covers would be answered from it, without asking the (failing) cloud.
    ack, message = await stack.command("prod-billing last 20d")
    assert ack.text == ""
    shown = texts(message)
    assert message["text"] and message["blocks"]
    assert "prod-billing" in message["text"]
    assert "DMS.00500000" in message["text"]
    # The gateway's X-Request-Id, which support asks for.
    assert re.search(r"request [0-9a-f]{32}", message["text"]), message["text"]
    assert "Try again" in shown
    assert buttons(message) == []
    assert stack.sim.stats["fault_error"] >= 2, "the bot should have retried within its budget"


async def test_bare_window_uses_the_channel_default_and_help_lists_what_the_channel_sees(
    stack: Stack,
) -> None:
    _, message = await stack.command("last 6h")
    assert message["text"].startswith("prod-orders")
    assert state_of(message, ActionId.REFRESH)[0].target == "prod-orders"
    _, help_text = await stack.command("help", channel=BILLING)
    shown = texts(help_text)
    assert "prod-billing" in shown
    assert "prod-orders" not in shown and "edge-cases" not in shown


async def test_secrets_never_reach_the_log(stack: Stack) -> None:
    log = stack.bot.log
    assert "Application startup complete" in log
    for secret in (SIGNING_SECRET, BOT_TOKEN, DEMO_SK):
        assert secret not in log


async def test_a_task_running_since_before_the_window_is_shown_counted_and_found(
    stack: Stack,
) -> None:
    # prod-orders has a storage expansion that started 3 h ago and is still EXECUTING; the API
    # filters on created_at, so `last 1h` alone would never see it.
    _, listing = await stack.command("prod-orders last 1h")
    shown = texts(listing)
    assert "Expand broker storage" in shown or "Extend storage" in shown, shown
    assert "started before this window" in shown
    assert "1 more task started before this window and is still running" in shown
    _, running = await stack.command("prod-orders last 1h status=running")
    found = texts(running)
    assert "No tasks match" not in found
    assert "started before this window" in found
    assert "1 match status=running" in found


async def test_no_url_password_reaches_slack_or_the_log_in_a_whole_run(stack: Stack) -> None:
    # edge-cases holds a task whose params carry credentials inside URLs; every Params view,
    # the listing and a shared copy are scanned, with everything Slack received and the log.
    _, listing = await stack.command("edge-cases last 2d limit=100")
    params = [b for b in buttons(listing) if b["action_id"].startswith(ActionId.PARAMS)]
    assert len(params) > 10
    for pressed in params:
        url = stack.slack.response_url()
        await stack.bot.send(signed_click(pressed, listing["blocks"], ONCALL, ALICE, url))
        await stack.slack.wait_for(url)
    url = stack.slack.response_url()
    share = button(listing, ActionId.SHARE)
    await stack.bot.send(signed_click(share, listing["blocks"], ONCALL, ALICE, url))
    await stack.slack.wait_for(url, count=2)
    seen = everything_slack_received(stack.slack) + stack.bot.log
    assert "Modify connector sink" in seen or "modifyConnectorSink" in seen
    for secret in ("url-pass-7Hq2", "url-pass-9Kz4"):
        assert secret not in seen
