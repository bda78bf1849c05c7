"""Unauthenticated or malformed requests to /slack/events, against a real `serve` process:
every one gets a 4xx, none reaches a listener, and the process output holds no traceback."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from urllib.parse import urlencode

from bot.simulator import SimulatorConfig, start_simulator
from tests.e2e_harness import SIGNING_SECRET, bot_env, serve_bot, signed_command
from tests.slack_mock import start_mock_slack

FORM = "application/x-www-form-urlencoded"


def signed(body: bytes, *, stamp: str | None = None, content_type: str = FORM) -> dict[str, str]:
    stamp = stamp or str(int(time.time()))
    base = b"v0:" + stamp.encode() + b":" + body
    digest = hmac.new(SIGNING_SECRET.encode(), base, hashlib.sha256).hexdigest()
    return {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": f"v0={digest}",
    }


def payload(data: object) -> bytes:
    return urlencode({"payload": json.dumps(data)}).encode()


async def test_malformed_requests_get_4xx_and_leave_no_traceback() -> None:
    async with (
        start_simulator(SimulatorConfig(bulk_tasks=10)) as sim,
        start_mock_slack() as slack,
    ):
        env = bot_env(mock=slack, dms_endpoint=sim.url, config_path=None)
        async with serve_bot(env) as bot:
            command = signed_command("help", "C1", "U1", slack.response_url())
            good = command.headers
            now = str(int(time.time()))
            cases: dict[str, tuple[bytes, dict[str, str]]] = {
                "non-numeric timestamp": (
                    command.body,
                    {**good, "X-Slack-Request-Timestamp": "abc"},
                ),
                "huge timestamp": (command.body, {**good, "X-Slack-Request-Timestamp": "9" * 40}),
                "negative timestamp": (command.body, {**good, "X-Slack-Request-Timestamp": "-5"}),
                "old timestamp": (command.body, signed(command.body, stamp=str(int(now) - 3600))),
                "no headers": (command.body, {"Content-Type": FORM}),
                "no signature": (
                    command.body,
                    {k: v for k, v in good.items() if k != "X-Slack-Signature"},
                ),
                "wrong signature": (command.body, {**good, "X-Slack-Signature": "v0=" + "0" * 64}),
                "signed, payload not JSON": (
                    urlencode({"payload": "{nope"}).encode(),
                    signed(urlencode({"payload": "{nope"}).encode()),
                ),
                "signed, payload not an object": (payload([1, 2]), signed(payload([1, 2]))),
                "signed, empty actions": (
                    payload({"type": "block_actions", "actions": [], "team": {"id": "T1"}}),
                    signed(payload({"type": "block_actions", "actions": [], "team": {"id": "T1"}})),
                ),
                "signed, unknown payload type": (
                    payload({"type": "no_such_type", "team": {"id": "T1"}}),
                    signed(payload({"type": "no_such_type", "team": {"id": "T1"}})),
                ),
                "signed, not UTF-8": (b"\xff\xfe\x00", signed(b"\xff\xfe\x00")),
                "signed, JSON body of no known kind": (
                    b'{"type": "nothing"}',
                    signed(b'{"type": "nothing"}', content_type="application/json"),
                ),
            }
            statuses = {}
            for name, (body, headers) in cases.items():
                response = await bot.http.post(bot.events_url, content=body, headers=headers)
                statuses[name] = response.status_code
            assert {n: s for n, s in statuses.items() if not 400 <= s < 500} == {}, statuses
            # The process is fine: a real command still gets its answer.
            url = slack.response_url()
            ok = await bot.send(signed_command("help", "C1", "U1", url))
            assert ok.status_code == 200
            await slack.wait_for(url)
        assert "Traceback" not in bot.log, bot.log[-3000:]
        assert "Error" not in bot.log.replace("ERROR", ""), bot.log[-3000:]
