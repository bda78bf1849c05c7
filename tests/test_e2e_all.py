"""`/dms-tasks all` end to end: a real `dms-tasks-bot serve` process, the mock Slack and the DMS
simulator, over loopback HTTP.

Five instances are configured for the channel; one of them names an instance id the simulator
does not know, so its task list answers 404 as a deleted instance's would (the simulator has no
fault per instance), while the other four answer.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import pytest_asyncio

from bot.blockkit import check_message, check_posted_message
from bot.domain.tasks import Task
from bot.grammar.state import ButtonState
from bot.ids import ActionId, BlockId
from bot.simulator import SimulatorConfig, start_simulator
from tests.e2e_harness import (
    BotProcess,
    bot_config_toml,
    bot_env,
    button,
    buttons,
    serve_bot,
    signed_click,
    signed_command,
)
from tests.slack_mock import MockSlack, start_mock_slack

pytestmark = pytest.mark.asyncio(loop_scope="module")

ONCALL, ALICE = "C0ONCALL", "U0ALICE"
GHOST_ID = "00000000-0000-4000-8000-00000000dead"
# Config order, which is the order `all` reads them in.
ALIASES = {
    "prod-orders": "prod-orders",
    "prod-billing": "prod-billing",
    "staging-events": "staging-events",
    "bulk-audit": "bulk-audit",
}
LOOKBACK_DAYS = 7


class Stack:
    def __init__(self, sim: Any, slack: MockSlack, bot: BotProcess) -> None:
        self.sim, self.slack, self.bot = sim, slack, bot

    async def command(self, text: str) -> dict[str, Any]:
        url = self.slack.response_url()
        ack = await self.bot.send(signed_command(text, ONCALL, ALICE, url))
        assert ack.status_code == 200, ack.text
        [answer] = await self.slack.wait_for(url)
        return answer.body

    async def click(self, message: dict[str, Any], pressed: dict[str, Any]) -> dict[str, Any]:
        url = self.slack.response_url()
        ack = await self.bot.send(signed_click(pressed, message["blocks"], ONCALL, ALICE, url))
        assert ack.status_code == 200, ack.text
        [answer] = await self.slack.wait_for(url)
        return answer.body


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Stack]:
    async with start_simulator(SimulatorConfig()) as sim, start_mock_slack() as slack:
        ids = {i.name: i.instance_id for i in sim.instances}
        entries: dict[str, dict[str, Any]] = {
            alias: {"instance_id": ids[name], "channels": [ONCALL]}
            for alias, name in ALIASES.items()
        }
        entries["ghost"] = {"instance_id": GHOST_ID, "channels": [ONCALL]}
        # Another channel's instance: `all` here never reads it.
        entries["dr"] = {"instance_id": ids["prod-orders-dr"], "channels": ["C0BILLING"]}
        path = tmp_path_factory.mktemp("e2e-all") / "bot.toml"
        path.write_text(bot_config_toml(entries, default_timezone="Europe/Berlin"), "utf-8")
        env = bot_env(
            mock=slack,
            dms_endpoint=sim.url,
            config_path=path,
            extra={"DMS_RETRY_BUDGET": "0.5", "DMS_TIMEOUT": "2"},
        )
        async with serve_bot(env) as bot:
            yield Stack(sim, slack, bot)


def created(task: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(task["created_at"].replace("Z", "+00:00")).astimezone(UTC)


def expected_timeline(stack: Stack, begin: datetime, end: datetime) -> list[tuple[str, Task]]:
    """The merged timeline as the bot should show it: the readable instances' tasks still running
    from before the window (its look-back), then the window's, each part newest first."""
    earlier: list[tuple[str, Task]] = []
    inside: list[tuple[str, Task]] = []
    day = begin.replace(hour=0, minute=0, second=0, microsecond=0)
    for alias, name in ALIASES.items():
        for raw in stack.sim.instance(name).tasks:
            task = Task.model_validate(raw)
            when = created(raw)
            if begin <= when < end:
                inside.append((alias, task))
            elif day - timedelta(days=LOOKBACK_DAYS) <= when < begin and task.is_active:
                earlier.append((alias, task))

    def newest(items: list[tuple[str, Task]]) -> list[tuple[str, Task]]:
        return sorted(items, key=lambda item: item[1].created_at or begin, reverse=True)

    return [*newest(earlier), *newest(inside)]


def rows(message: dict[str, Any]) -> list[str]:
    return [
        b["text"]["text"]
        for b in message["blocks"]
        if str(b.get("block_id", "")).startswith(BlockId.TASK.unique(""))
    ]


def params_of(message: dict[str, Any]) -> list[tuple[str | None, str | None]]:
    found = []
    for element in buttons(message):
        if ActionId.parse(element["action_id"]) is ActionId.PARAMS:
            state = ButtonState.decode(element["value"])
            found.append((state.query.on, state.task_id))
    return found


def with_params(page: list[tuple[str, Task]]) -> list[tuple[str, str]]:
    return [(alias, task.id) for alias, task in page if task.id and task.has_params]


async def test_all_merges_the_instances_names_the_failing_one_and_pages(stack: Stack) -> None:
    first = await stack.command("all last 1d")
    check_message(first)
    text = json.dumps(first, ensure_ascii=False)
    assert "*All 5 instances* here · last 1 d" in text
    notice = next(b for b in first["blocks"] if b["block_id"] == "dms_notice:instances")
    assert "⚠ *ghost* unavailable: Instance " in notice["text"]["text"]
    assert "DMS.00404022" in notice["text"]["text"]
    assert "prod-orders-dr" not in text and '"dr"' not in text
    # Every row names its instance; the rows are the instances' tasks merged, newest first.
    page_one = rows(first)
    assert len(page_one) == 10
    for row in page_one:
        assert any(f"  ·  {alias}  ·  " in row for alias in ALIASES), row
    window = ButtonState.decode(button(first, ActionId.REFRESH)["value"]).query.window
    expected = expected_timeline(stack, window.begin, window.end)
    assert params_of(first) == with_params(expected[:10])
    assert len({alias for alias, _ in expected[:10]}) > 1, "page 1 should mix instances"
    assert f"Page 1 of {-(-len(expected) // 10)}" in text
    # Next: page 2 of the same merged list and window.
    second = await stack.click(first, button(first, ActionId.NEXT))
    check_message(second)
    assert "Page 2 of" in json.dumps(second, ensure_ascii=False)
    assert params_of(second) == with_params(expected[10:20])
    assert ButtonState.decode(button(second, ActionId.REFRESH)["value"]).query.window == window


async def test_params_of_a_task_on_another_instance(stack: Stack) -> None:
    # bulk-audit is busy: its tasks fill the first rows, the others' come further down.
    listing = await stack.command("all last 1d limit=40")
    first_instance = params_of(listing)[0][0]
    pressed = next(
        b
        for b in buttons(listing)
        if ActionId.parse(b["action_id"]) is ActionId.PARAMS
        and ButtonState.decode(b["value"]).query.on not in (None, first_instance)
    )
    state = ButtonState.decode(pressed["value"])
    assert state.query.targets == ("all",)
    on, task_id = state.query.on, state.task_id
    assert on and task_id
    raw = next(t for t in stack.sim.instance(ALIASES[on]).tasks if t["id"] == task_id)
    view = await stack.click(listing, pressed)
    check_message(view)
    title = view["blocks"][0]["text"]["text"]
    assert f" · {on} · " in title and f"task id `{task_id}`" in title
    assert view["text"].endswith(f" on {on}")
    assert raw["user_name"] in title
    # Back returns to the merged list.
    back = await stack.click(view, button(view, ActionId.BACK))
    assert "*All 5 instances* here" in json.dumps(back, ensure_ascii=False)


async def test_share_posts_the_merged_list_within_slacks_limits(stack: Stack) -> None:
    listing = await stack.command("all last 1d status=failed,running")
    url = stack.slack.response_url()
    pressed = button(listing, ActionId.SHARE)
    request = signed_click(pressed, listing["blocks"], ONCALL, ALICE, url)
    assert (await stack.bot.send(request)).status_code == 200
    shared, deleted = await stack.slack.wait_for(url, count=2)
    assert shared.body["response_type"] == "in_channel"
    check_posted_message({k: v for k, v in shared.body.items() if k in ("text", "blocks")})
    assert "ghost* unavailable" in json.dumps(shared.body, ensure_ascii=False)
    assert deleted.body.get("delete_original") is True
