"""`dms-tasks-bot digest list | send`, run as the operator would: a real process, the store file
the bot uses, the DMS simulator and the mock Slack Web API over loopback."""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, datetime, time
from pathlib import Path

from bot.blockkit import check_posted_message
from bot.domain.digests import DigestResult, ResultKind, Subscription
from bot.simulator import SimulatorConfig, start_simulator
from bot.store import open_store
from tests.e2e_harness import REPO_ROOT, bot_env
from tests.slack_mock import POST_MESSAGE, MockSlack, start_mock_slack

CHANNEL = "C0ONCALL"


async def cli(*args: str, env: dict[str, str]) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli",
        *args,
        env=env,
        cwd=str(REPO_ROOT),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


def env_for(slack: MockSlack, dms_endpoint: str = "") -> dict[str, str]:
    return bot_env(mock=slack, dms_endpoint=dms_endpoint, config_path=None)


async def test_digest_list_prints_every_subscription_with_its_next_run(tmp_path: Path) -> None:
    db = tmp_path / "digests.db"
    store = await open_store(str(db), None)
    created = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
    await store.add(
        Subscription(
            id="abc234",
            channel_id=CHANNEL,
            targets=("prod-orders", "billing"),
            at=time(9, 0),
            tz="Europe/Berlin",
            created_by="U0ALICE",
            created_at=created,
        )
    )
    await store.add(
        Subscription(id="zzz789", channel_id="C0OTHER", targets=("all",), at=time(7, 30), tz="UTC")
    )
    await store.record_result(
        "zzz789", DigestResult(ResultKind.FAILED, created, created, "msg_too_long")
    )
    await store.set_paused("zzz789", "not_in_channel")
    await store.close()
    async with start_mock_slack() as slack:
        env = {**env_for(slack), "DMS_BOT_DB": str(db)}
        code, out, err = await cli("digest", "list", env=env)
    assert code == 0, err
    assert "2 digests in" in out and str(db) in out
    first, second = out.split("zzz789")
    assert "abc234  channel C0ONCALL  prod-orders,billing" in first
    assert "daily at 09:00 Europe/Berlin" in first
    # The next run is in the digest's own zone, with UTC beside it (CET or CEST both end ":00").
    assert "next run:" in first and "UTC)" in first
    assert "not run yet" in first and "U0ALICE" in first
    assert "paused (not_in_channel)" in second
    assert "failed (msg_too_long)" in second


async def test_digest_list_on_an_empty_store_says_how_to_add_one(tmp_path: Path) -> None:
    async with start_mock_slack() as slack:
        env = {**env_for(slack), "DMS_BOT_DB": str(tmp_path / "new.db")}
        code, out, _ = await cli("digest", "list", env=env)
    assert code == 0
    assert "No digests" in out and "digest add" in out


async def test_digest_list_names_a_damaged_store(tmp_path: Path) -> None:
    db = tmp_path / "digests.db"
    db.write_bytes(b"not sqlite at all\n" * 100)
    async with start_mock_slack() as slack:
        code, _, err = await cli("digest", "list", env={**env_for(slack), "DMS_BOT_DB": str(db)})
    assert code == 2
    assert "DMS_BOT_DB" in err and "Traceback" not in err


async def test_digest_send_posts_one_valid_digest_of_the_last_24h() -> None:
    async with (
        start_simulator(SimulatorConfig(bulk_tasks=300)) as sim,
        start_mock_slack(member_of={CHANNEL}) as slack,
    ):
        code, out, err = await cli(
            "digest", "send", "prod-orders", "--channel", CHANNEL, env=env_for(slack, sim.url)
        )
        assert code == 0, out + err
        assert f"to {CHANNEL}" in out
        [post] = slack.calls_to(POST_MESSAGE)
    assert post.body["channel"] == CHANNEL
    check_posted_message(post.body)  # raises on any Block Kit or size limit broken
    text = str(post.body)
    assert "prod-orders" in text


async def test_digest_send_to_a_channel_without_the_bot_says_to_invite_it() -> None:
    async with start_simulator(SimulatorConfig()) as sim, start_mock_slack() as slack:
        slack.public_channels.add(CHANNEL)
        code, out, err = await cli(
            "digest", "send", "prod-orders", "--channel", CHANNEL, env=env_for(slack, sim.url)
        )
    assert code == 1, out + err
    assert "not_in_channel" in out and "/invite" in out
    assert "Traceback" not in out + err


async def test_digest_send_refuses_a_channel_name_and_a_missing_token() -> None:
    async with start_mock_slack() as slack:
        env = env_for(slack, "http://127.0.0.1:9")
        code, _, err = await cli("digest", "send", "prod-orders", "--channel", "#oncall", env=env)
        assert code == 2 and "not a Slack channel id" in err
        env.pop("SLACK_BOT_TOKEN")
        code, _, err = await cli("digest", "send", "prod-orders", "--channel", CHANNEL, env=env)
        assert code == 2 and "SLACK_BOT_TOKEN" in err
