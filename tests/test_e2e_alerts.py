"""Failure alerts on real `dms-tasks-bot serve` processes: `alert add` through a signed command,
a task that turns FAILED in the simulator afterwards, and the mock Slack Web API counting the
alert posts, once per task, across a restart and between two replicas sharing one Redis.

"Never again" is shown without waiting for nothing to happen: after the restart (or with both
replicas running), a second task fails and its alert is waited for; an alert for the first one,
had it come again, would have come in that same round or earlier."""

from __future__ import annotations

import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.blockkit import check_posted_message
from bot.simulator import RunningSimulator, SimulatorConfig, start_simulator
from tests.e2e_harness import BotProcess, bot_env, serve_bot, signed_command
from tests.redis_server import redis_server
from tests.slack_mock import POST_MESSAGE, MockSlack, start_mock_slack

ONCALL, ALICE = "C0ONCALL", "U0ALICE"
INTERVAL = "5"  # the least DMS_BOT_ALERT_INTERVAL allows: rounds every 5 s
WAIT_S = 40.0  # a few rounds, plus start-up, on a loaded machine


@pytest.fixture
async def sim() -> AsyncIterator[RunningSimulator]:
    async with start_simulator(SimulatorConfig()) as running:
        yield running


@pytest.fixture
async def slack() -> AsyncIterator[MockSlack]:
    async with start_mock_slack(member_of={ONCALL}) as mock:
        yield mock


def posts_naming(slack: MockSlack, words: str) -> list[dict[str, Any]]:
    return [c.body for c in slack.calls_to(POST_MESSAGE) if words in str(c.body)]


async def add_alert(bot: BotProcess, slack: MockSlack) -> str:
    url = slack.response_url()
    ack = await bot.send(signed_command("alert add prod-orders", ONCALL, ALICE, url))
    assert ack.status_code == 200
    [reply] = await slack.wait_for(url, timeout=20)
    text = str(reply.body)
    assert "prod-orders" in text, text
    return text


async def fail_a_task(
    sim: RunningSimulator, slack: MockSlack, user: str, posts_before: int
) -> dict[str, Any]:
    """A task that fails now, and its alert post once it has come."""
    sim.add_task("prod-orders", "resetMessageOffset", "FAILED", user_name=user)
    await slack.wait_for(POST_MESSAGE, count=posts_before + 1, timeout=WAIT_S)
    [post] = posts_naming(slack, user)
    check_posted_message(post)
    assert post["channel"] == ONCALL
    assert "prod-orders" in post["text"] and "failed" in post["text"].lower(), post["text"]
    return post


def posts(slack: MockSlack) -> int:
    return len(slack.calls_to(POST_MESSAGE))


async def test_an_alert_fires_once_for_a_new_failed_task_and_never_again_after_a_restart(
    sim: RunningSimulator, slack: MockSlack, tmp_path: Path
) -> None:
    env = bot_env(
        mock=slack,
        dms_endpoint=sim.url,
        config_path=None,
        extra={"DMS_BOT_ALERT_INTERVAL": INTERVAL, "DMS_BOT_DB": str(tmp_path / "bot.db")},
    )
    async with serve_bot(env) as bot:
        await add_alert(bot, slack)
        # The announcement proves the bot may post here; history is never alerted.
        [announcement] = await slack.wait_for(POST_MESSAGE)
        assert announcement.body["channel"] == ONCALL
        await fail_a_task(sim, slack, "e2e.first", posts(slack))
        bot.process.send_signal(signal.SIGTERM)
    assert bot.process.returncode == 0, bot.log[-2000:]

    async with serve_bot(env) as again:
        await fail_a_task(sim, slack, "e2e.second", posts(slack))
        assert len(posts_naming(slack, "e2e.first")) == 1
        assert posts(slack) == 3  # the announcement and one alert per failed task
        assert "Traceback" not in again.log


async def test_two_replicas_on_one_redis_post_each_alert_once(
    sim: RunningSimulator, slack: MockSlack, tmp_path: Path
) -> None:
    with redis_server(tmp_path) as url:
        env = bot_env(
            mock=slack,
            dms_endpoint=sim.url,
            config_path=None,
            extra={"DMS_BOT_ALERT_INTERVAL": INTERVAL, "REDIS_URL": url},
        )
        async with serve_bot(env) as first, serve_bot(env) as second:
            await add_alert(first, slack)
            await slack.wait_for(POST_MESSAGE)
            await fail_a_task(sim, slack, "e2e.one", posts(slack))
            await fail_a_task(sim, slack, "e2e.two", posts(slack))
            assert len(posts_naming(slack, "e2e.one")) == 1
            assert posts(slack) == 3
            # Both replicas were running the alert job the whole time.
            assert "alerts" in (await first.http.get(f"{first.url}/healthz")).json()["jobs"]
            assert "alerts" in (await second.http.get(f"{second.url}/healthz")).json()["jobs"]
