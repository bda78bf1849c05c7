"""`dms-tasks-bot serve` with SLACK_APP_TOKEN: Socket Mode instead of HTTP.

The real process opens the connection through apps.connections.open on the mock Slack, which
then pushes envelopes over the WebSocket, as Slack does; the process must ack each envelope and
answer through response_url exactly as in HTTP mode.
"""

from __future__ import annotations

import asyncio
import json
import signal
from typing import Any
from urllib.parse import parse_qs

from bot.grammar.state import decode_state
from bot.ids import ActionId
from bot.simulator import (
    SimulatorConfig,
    start_simulator,
)
from tests.e2e_harness import (
    bot_env,
    button,
    serve_bot,
    serve_until_exit,
    signed_click,
    signed_command,
)
from tests.slack_mock import APP_TOKEN, SOCKET_FRAMES, SOCKET_OPENED, start_mock_slack

CHANNEL, USER = "C0ONCALL", "U0ALICE"


def form_fields(body: bytes) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(body.decode(), keep_blank_values=True).items()}


async def test_socket_mode_acks_envelopes_and_answers_at_the_response_url() -> None:
    async with (
        start_simulator(SimulatorConfig(bulk_tasks=50)) as sim,
        start_mock_slack() as slack,
    ):
        env = bot_env(
            mock=slack,
            dms_endpoint=sim.url,
            config_path=None,
            extra={"SLACK_APP_TOKEN": APP_TOKEN, "SLACK_SIGNING_SECRET": ""},
        )
        async with serve_bot(env, ready_line="serving in Socket Mode") as bot:
            await slack.wait_for(SOCKET_OPENED)
            # The HTTP server runs in Socket Mode too, for the container's health check.
            health = await bot.http.get(f"{bot.url}/healthz")
            assert health.status_code == 200, health.text
            assert health.json()["socket_mode"] == "connected"
            assert (await bot.http.post(f"{bot.url}/slack/events")).status_code == 404
            url = slack.response_url()
            command = form_fields(
                signed_command("prod-orders last 7d limit=5", CHANNEL, USER, url).body
            )
            await slack.send_envelope(
                {
                    "envelope_id": "env-command",
                    "type": "slash_commands",
                    "accepts_response_payload": True,
                    "payload": command,
                }
            )
            [ack] = await slack.wait_for(SOCKET_FRAMES)
            assert ack.body["envelope_id"] == "env-command"
            [answer] = await slack.wait_for(url)
            listing: dict[str, Any] = answer.body
            assert listing["response_type"] == "ephemeral"
            assert listing["text"].startswith("prod-orders")

            click_url = slack.response_url()
            nxt = button(listing, ActionId.NEXT)
            click = signed_click(nxt, listing["blocks"], CHANNEL, USER, click_url)
            payload = json.loads(form_fields(click.body)["payload"])
            await slack.send_envelope(
                {
                    "envelope_id": "env-click",
                    "type": "interactive",
                    "accepts_response_payload": False,
                    "payload": payload,
                }
            )
            acks = await slack.wait_for(SOCKET_FRAMES, count=2)
            assert acks[1].body["envelope_id"] == "env-click"
            [page_two] = await slack.wait_for(click_url)
            assert page_two.body["replace_original"] is True
            query, _ = decode_state(button(page_two.body, ActionId.PREV)["value"])
            assert query.page == 1
            assert query.window == decode_state(nxt["value"])[0].window

            # SIGTERM (as from an orchestrator) closes the connection and exits cleanly, within
            # the orchestrator's usual 10 s grace.
            bot.process.send_signal(signal.SIGTERM)
            await asyncio.wait_for(bot.process.wait(), timeout=10)
        assert bot.process.returncode == 0, bot.log[-2000:]
        assert "Traceback" not in bot.log


async def test_an_app_token_slack_refuses_exits_2_with_one_clear_line() -> None:
    async with (
        start_simulator(SimulatorConfig(bulk_tasks=10)) as sim,
        start_mock_slack() as slack,
    ):
        env = bot_env(
            mock=slack,
            dms_endpoint=sim.url,
            config_path=None,
            extra={"SLACK_APP_TOKEN": "xapp-1-not-this-apps-token", "SLACK_SIGNING_SECRET": ""},
        )
        code, text = await serve_until_exit(env)
    assert code == 2, text
    assert "Slack refused the Socket Mode connection (invalid_auth)" in text
    assert "SLACK_APP_TOKEN" in text
    assert "Traceback" not in text
    assert "xapp-1-not-this-apps-token" not in text
