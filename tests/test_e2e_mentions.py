"""`@dms-tasks-bot <command>` inside an incident thread, against a real `dms-tasks-bot serve`:
signed Events API requests over HTTP, and the same event pushed over Socket Mode; the answer is
one chat.postMessage in that thread, with the instance's tasks, on the mock Slack."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bot.blockkit import check_posted_message
from bot.render import message_buttons
from bot.simulator import SimulatorConfig, start_simulator
from tests.e2e_harness import bot_config_toml, bot_env, serve_bot
from tests.slack_mock import (
    APP_TOKEN,
    BOT_USER_ID,
    POST_MESSAGE,
    SOCKET_FRAMES,
    SOCKET_OPENED,
    start_mock_slack,
)
from tests.test_mentions import event_callback, mention_event, signed_event

ONCALL, RANDOM, ALICE = "C0ONCALL", "C0RANDOM", "U0ALICE"
THREAD = "1764662400.000100"


def config_file(sim: Any, tmp_path: Path) -> Path:
    ids = {i.name: i.instance_id for i in sim.instances}
    path = tmp_path / "bot.toml"
    path.write_text(
        bot_config_toml(
            {"prod-orders": {"instance_id": ids["prod-orders"], "channels": [ONCALL]}},
            default_timezone="Europe/Berlin",
        ),
        encoding="utf-8",
    )
    return path


def tasks_created(instance: Any, begin: datetime, end: datetime) -> int:
    def created(task: dict[str, Any]) -> datetime:
        return datetime.fromisoformat(task["created_at"].replace("Z", "+00:00")).astimezone(UTC)

    return sum(1 for t in instance.tasks if begin <= created(t) < end)


def assert_the_listing_of(instance: Any, post: dict[str, Any], asked: datetime) -> None:
    """A public copy of prod-orders' last 7 days, as counted by the simulator itself."""
    check_posted_message(post)
    assert post["text"].startswith("prod-orders"), post["text"]
    assert message_buttons(post) == []
    answered = datetime.now(UTC)
    # The window ends when the bot read the clock, between the send and the answer.
    least = tasks_created(instance, answered - timedelta(days=7), asked)
    most = tasks_created(instance, asked - timedelta(days=7), answered)
    assert least > 0, "the simulator should have tasks in the last 7 days"
    shown = [n for n in range(least, most + 1) if f"{n} tasks" in post["text"]]
    assert shown, (least, most, post["text"])
    assert "<!date^" in json.dumps(post["blocks"])


async def test_a_mention_in_a_thread_gets_one_answer_there_with_the_instances_tasks(
    tmp_path: Path,
) -> None:
    async with (
        start_simulator(SimulatorConfig(bulk_tasks=50)) as sim,
        start_mock_slack(member_of={ONCALL, RANDOM}) as slack,
    ):
        env = bot_env(mock=slack, dms_endpoint=sim.url, config_path=config_file(sim, tmp_path))
        async with serve_bot(env) as bot:
            # Slack checks the events URL when the manifest is saved.
            challenge = signed_event(
                {"token": "t", "challenge": "c-123", "type": "url_verification"}
            )
            checked = await bot.send(challenge)
            assert checked.status_code == 200 and "c-123" in checked.text

            instance = next(i for i in sim.instances if i.name == "prod-orders")
            body = event_callback(
                mention_event(f"<@{BOT_USER_ID}> prod-orders last 7d", user=ALICE, thread_ts=THREAD)
            )
            asked = datetime.now(UTC)
            ack = await bot.send(signed_event(body))
            assert ack.status_code == 200, ack.text
            [answer] = await slack.wait_for(POST_MESSAGE)
            assert (answer.body["channel"], answer.body["thread_ts"]) == (ONCALL, THREAD)
            assert_the_listing_of(instance, answer.body, asked)

            # Slack's retry after a slow ack is acked and not answered again; a refusal is
            # answered in its own thread, with no task data.
            retry = await bot.send(signed_event(body, retry_num=1, retry_reason="http_timeout"))
            assert retry.status_code == 200
            elsewhere = event_callback(
                mention_event(f"<@{BOT_USER_ID}> prod-orders", channel=RANDOM, user=ALICE)
            )
            await bot.send(signed_event(elsewhere))
            _, refusal = await slack.wait_for(POST_MESSAGE, count=2)
            assert refusal.body["channel"] == RANDOM
            assert refusal.body["thread_ts"] == elsewhere["event"]["ts"]
            assert "can't show prod-orders" in refusal.body["text"]
            check_posted_message(refusal.body)
            assert [c.body.get("thread_ts") for c in slack.calls_to(POST_MESSAGE)] == [
                THREAD,
                elsewhere["event"]["ts"],
            ]
        assert "Traceback" not in bot.log


async def test_a_mention_over_socket_mode_is_acked_and_answered_in_its_thread(
    tmp_path: Path,
) -> None:
    async with (
        start_simulator(SimulatorConfig(bulk_tasks=50)) as sim,
        start_mock_slack(member_of={ONCALL}) as slack,
    ):
        env = bot_env(
            mock=slack,
            dms_endpoint=sim.url,
            config_path=config_file(sim, tmp_path),
            extra={"SLACK_APP_TOKEN": APP_TOKEN, "SLACK_SIGNING_SECRET": ""},
        )
        async with serve_bot(env, ready_line="serving in Socket Mode") as bot:
            await slack.wait_for(SOCKET_OPENED)
            instance = next(i for i in sim.instances if i.name == "prod-orders")
            body = event_callback(
                mention_event(f"<@{BOT_USER_ID}> prod-orders last 7d", user=ALICE, thread_ts=THREAD)
            )
            asked = datetime.now(UTC)
            envelope = {
                "envelope_id": "env-mention",
                "type": "events_api",
                "accepts_response_payload": False,
                "retry_attempt": 0,
                "retry_reason": "",
                "payload": body,
            }
            await slack.send_envelope(envelope)
            [ack] = await slack.wait_for(SOCKET_FRAMES)
            assert ack.body["envelope_id"] == "env-mention"
            [answer] = await slack.wait_for(POST_MESSAGE)
            assert answer.body["thread_ts"] == THREAD
            assert_the_listing_of(instance, answer.body, asked)

            # The same event again, as Slack redelivers an envelope it saw no ack for in time.
            await slack.send_envelope(
                {
                    **envelope,
                    "envelope_id": "env-retry",
                    "retry_attempt": 1,
                    "retry_reason": "timeout",
                }
            )
            acks = await slack.wait_for(SOCKET_FRAMES, count=2)
            assert acks[1].body["envelope_id"] == "env-retry"
            later = event_callback(mention_event(f"<@{BOT_USER_ID}> help", user=ALICE))
            await slack.send_envelope({**envelope, "envelope_id": "env-help", "payload": later})
            posts = await slack.wait_for(POST_MESSAGE, count=2)
            assert posts[1].body["thread_ts"] == later["event"]["ts"]
            assert len(slack.calls_to(POST_MESSAGE)) == 2
        assert "Traceback" not in bot.log
