"""A real `dms-tasks-bot serve`: with `--simulator` it needs no cloud settings; on SIGTERM in
HTTP mode new work stops, a command already acknowledged is still answered at its response_url,
and the process exits 0."""

from __future__ import annotations

import asyncio
import signal

from bot.simulator import Faults, SimulatorConfig, start_simulator
from tests.e2e_harness import bot_env, serve_bot, signed_command
from tests.slack_mock import start_mock_slack

CHANNEL, USER = "C0ONCALL", "U0ALICE"


async def test_sigterm_lets_an_acknowledged_command_finish_then_exits_0() -> None:
    async with (
        start_simulator(SimulatorConfig(bulk_tasks=50)) as sim,
        start_mock_slack() as slack,
    ):
        env = bot_env(mock=slack, dms_endpoint=sim.url, config_path=None)
        async with serve_bot(env) as bot:
            # Warm up (auth.test, users.info), so that the only slow part is the cloud.
            warm = slack.response_url()
            await bot.send(signed_command("help", CHANNEL, USER, warm))
            await slack.wait_for(warm)
            # The cloud now takes 1.5 s per call: the command is acked at once and its answer
            # is still being fetched when SIGTERM arrives.
            sim.set_faults(Faults(latency_ms=1500))
            url = slack.response_url()
            acked = await bot.send(signed_command("prod-orders last 1h", CHANNEL, USER, url))
            assert acked.status_code == 200
            assert slack.calls_to(url) == []
            bot.process.send_signal(signal.SIGTERM)
            await asyncio.wait_for(bot.process.wait(), timeout=10)
            [answer] = slack.calls_to(url)
            assert answer.body["text"].startswith("prod-orders"), answer.body
        assert bot.process.returncode == 0, bot.log[-3000:]
        assert "Traceback" not in bot.log


async def test_serve_with_the_embedded_simulator_needs_no_cloud_settings() -> None:
    async with start_mock_slack() as slack:
        env = bot_env(mock=slack, dms_endpoint="", config_path=None)
        for cloud in ("DMS_ENDPOINT", "HUAWEICLOUD_SDK_AK", "HUAWEICLOUD_SDK_SK", "DMS_REGION"):
            env.pop(cloud)
        env.pop("HUAWEICLOUD_SDK_PROJECT_ID")
        async with serve_bot(env, args=("--simulator",)) as bot:
            url = slack.response_url()
            await bot.send(signed_command("prod-orders last 24h", CHANNEL, USER, url))
            [answer] = await slack.wait_for(url)
            assert answer.body["text"].startswith("prod-orders"), answer.body
            assert "embedded DMS simulator" in bot.log
