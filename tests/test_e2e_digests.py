"""Scheduled digests on real `dms-tasks-bot serve` processes, the DMS simulator and the mock Slack.

Three digests are added through signed slash commands to one process, which is then stopped
(SIGTERM); a second process on the same DMS_BOT_DB takes over. All three are due at the same
UTC minute, so the module waits for a due time once:
- prod-orders in C0ONCALL: one valid post counting the period's tasks as the simulator holds
  them, whose Open full list button answers the clicker privately;
- prod-billing (added by its instance id) in C0PAUSED, which the bot has left by then: the digest
  is paused, and the person who added it hears so once;
- a quiet digest of an instance without tasks in C0QUIET: one line saying nothing happened.
"""

from __future__ import annotations

import asyncio
import json
import re
import signal
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import pytest_asyncio

from bot.blockkit import check_posted_message
from bot.domain.tasks import is_finished
from bot.ids import ActionId, BlockId
from bot.simulator import RunningSimulator, SimInstance, SimulatorConfig, start_simulator
from tests.e2e_harness import (
    BotProcess,
    bot_config_toml,
    bot_env,
    button,
    next_due_minute,
    serve_bot,
    signed_click,
    signed_command,
)
from tests.slack_mock import POST_MESSAGE, MockSlack, RecordedCall, start_mock_slack

pytestmark = pytest.mark.asyncio(loop_scope="module")

ONCALL, PAUSED, QUIET = "C0ONCALL", "C0PAUSED", "C0QUIET"
ALICE, BOB = "U0ALICE", "U0BOB"
POLL_S = 1.0
# Set-up (two start-ups, three commands, a stop) takes about 2 s; the rest is margin.
LEAD_S = 15.0
# How long after its minute a digest may arrive: a poll round, the DMS reads, one post.
POST_WITHIN_S = 20.0
RUNNING_LOOKBACK = timedelta(days=7)  # DMS_BOT_RUNNING_LOOKBACK_DAYS' default
EMPTY_NAME = "quiet-lab"


@dataclass
class Scene:
    """Everything set up before the due minute, and the replies it got."""

    sim: RunningSimulator
    slack: MockSlack
    bot: BotProcess  # the second process, on the first one's DMS_BOT_DB
    due: datetime
    first_exit: int | None
    added: dict[str, dict[str, Any]] = field(default_factory=dict)  # channel -> reply
    ids: dict[str, str] = field(default_factory=dict)  # channel -> digest id
    listed: dict[str, Any] = field(default_factory=dict)  # digest list in ONCALL, restarted

    async def command(self, text: str, channel: str, user: str = ALICE) -> list[RecordedCall]:
        """The command's answer at its response_url."""
        return await command(self.bot, self.slack, text, channel, user)

    async def listing_once(self, channel: str, shown: str, user: str = ALICE) -> dict[str, Any]:
        """`digest list` in `channel`, asked again until it shows `shown`: a run's result is
        stored just after its post reaches Slack."""
        deadline = time.monotonic() + 10
        while True:
            [listed] = await self.command("digest list", channel, user)
            if shown in json.dumps(listed.body, ensure_ascii=False):
                return listed.body
            assert time.monotonic() < deadline, listed.body
            await asyncio.sleep(0.2)


async def command(
    bot: BotProcess, slack: MockSlack, text: str, channel: str, user: str, count: int = 1
) -> list[RecordedCall]:
    url = slack.response_url()
    ack = await bot.send(signed_command(text, channel, user, url))
    assert ack.status_code == 200, ack.text
    return await slack.wait_for(url, count=count)


async def no_more_calls(slack: MockSlack, more: Callable[[], bool], seconds: float) -> None:
    """Watches the mock for `seconds`: fails as soon as `more()` holds."""
    if seconds <= 0:
        assert not more()
        return
    with pytest.raises(TimeoutError):
        await slack.wait_until(more, timeout=seconds)


def token(moment: datetime) -> str:
    """How a reply shows an instant: a Slack date token of its epoch second."""
    return f"<!date^{int(moment.timestamp())}^"


def digest_posts(slack: MockSlack, channel: str) -> list[RecordedCall]:
    """Posts in `channel` other than the announcement that a digest was added."""
    return [c for c in slack.posts_in(channel, ok=None) if "added a digest" not in c.body["text"]]


def empty_instance(sim: RunningSimulator) -> SimInstance:
    """An instance of the simulated project that never had a background task."""
    model = sim.instance("prod-billing")
    return SimInstance(
        instance_id=str(uuid.uuid5(uuid.NAMESPACE_URL, "dms-sim:" + EMPTY_NAME)),
        name=EMPTY_NAME,
        status="RUNNING",
        engine_version=model.engine_version,
        flavor=model.flavor,
        broker_num=model.broker_num,
        storage_space=model.storage_space,
        created_at=model.created_at,
    )


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def scene(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Scene]:
    async with (
        start_simulator(SimulatorConfig(bulk_tasks=50)) as sim,
        start_mock_slack(member_of={ONCALL, PAUSED, QUIET}) as slack,
    ):
        slack.public_channels.add(PAUSED)
        sim.instances.append(empty_instance(sim))
        ids = {i.name: i.instance_id for i in sim.instances}
        config = tmp_path_factory.mktemp("digests") / "bot.toml"
        config.write_text(
            bot_config_toml(
                {
                    "prod-orders": {"instance_id": ids["prod-orders"], "channels": [ONCALL]},
                    "prod-billing": {"instance_id": ids["prod-billing"], "channels": [PAUSED]},
                    EMPTY_NAME: {"instance_id": ids[EMPTY_NAME], "channels": [QUIET]},
                }
            ),
            encoding="utf-8",
        )
        # One DMS_BOT_DB for both processes.
        env = bot_env(
            mock=slack,
            dms_endpoint=sim.url,
            config_path=config,
            extra={"DMS_BOT_SCHEDULER_POLL_SECONDS": str(POLL_S)},
        )
        due = next_due_minute(LEAD_S)
        at = f"at {due:%H:%M} tz UTC"
        adds = {
            ONCALL: (f"digest add prod-orders {at}", ALICE),
            PAUSED: (f"digest add {ids['prod-billing']} {at}", BOB),
            QUIET: (f"digest add {EMPTY_NAME} {at} quiet", ALICE),
        }
        replies: dict[str, dict[str, Any]] = {}
        async with serve_bot(env) as first:
            for channel, (text, user) in adds.items():
                [reply] = await command(first, slack, text, channel, user)
                replies[channel] = reply.body
            first.process.send_signal(signal.SIGTERM)
            await asyncio.wait_for(first.process.wait(), timeout=15)
        async with serve_bot(env) as second:
            scene = Scene(sim, slack, second, due, first.process.returncode, replies)
            for channel, reply in replies.items():
                found = re.search(r"Digest `([a-z0-9]+)` added", first_text(reply))
                assert found, reply
                scene.ids[channel] = found[1]
            [listed] = await scene.command("digest list", ONCALL)
            scene.listed = listed.body
            # The bot is removed from C0PAUSED before the digest is due there.
            slack.member_of.discard(PAUSED)
            assert datetime.now(UTC) < due - timedelta(seconds=2), "set-up outlasted LEAD_S"
            yield scene
        assert "Traceback" not in second.log, second.log[-4000:]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def ran(scene: Scene) -> Scene:
    """The scene once every digest's run has reached Slack: the one wait for the due minute."""
    slack = scene.slack
    timeout = (scene.due - datetime.now(UTC)).total_seconds() + POST_WITHIN_S
    try:
        await slack.wait_until(
            lambda: all(digest_posts(slack, c) for c in (ONCALL, PAUSED, QUIET)), timeout=timeout
        )
    except TimeoutError:
        missing = [c for c in (ONCALL, PAUSED, QUIET) if not digest_posts(slack, c)]
        pytest.fail(f"no run in {missing} by due + {POST_WITHIN_S} s:\n{scene.bot.log[-4000:]}")
    return scene


def first_text(message: dict[str, Any]) -> str:
    return "\n".join(
        b["text"]["text"] for b in message.get("blocks") or [] if b.get("type") == "section"
    )


def block_text(message: dict[str, Any], block_id: str) -> str:
    [block] = [b for b in message["blocks"] if b.get("block_id") == block_id]
    return str(block["text"]["text"])


# ---- what the simulator holds -----------------------------------------------------------------


def created_in(inst: SimInstance, begin: datetime, end: datetime) -> list[dict[str, Any]]:
    """The instance's tasks with begin <= created_at < end, as ListBackgroundTasks selects."""
    return [t for t in inst.tasks if begin <= inst.created_of(t) < end]


@dataclass(frozen=True)
class Expected:
    total: int
    failed: int
    running: int
    change: int


def expected_counts(inst: SimInstance, begin: datetime, end: datetime) -> Expected:
    tasks = created_in(inst, begin, end)
    # Tasks not known to be finished count as running, those that started before the period too
    # (looked for from the start of the day RUNNING_LOOKBACK before it).
    day = begin.replace(hour=0, minute=0, second=0, microsecond=0)
    active = [
        t for t in created_in(inst, day - RUNNING_LOOKBACK, end) if not is_finished(t["status"])
    ]
    previous = created_in(inst, begin - (end - begin), begin)
    return Expected(
        total=len(tasks),
        failed=sum(1 for t in tasks if t["status"].upper() == "FAILED"),
        running=len(active),
        change=len(tasks) - len(previous),
    )


def shown_counts(line: str) -> Expected:
    """The numbers of an instance's line: `*prod-orders*  27 tasks  ❌ 1 failed  ⏳ 2 running …`."""

    def number(pattern: str) -> int:
        found = re.search(pattern, line)
        return int(found[1]) if found else 0

    same = "same as the period before" in line
    return Expected(
        total=number(r"(\d+) tasks?\b"),
        failed=number(r"(\d+) failed"),
        running=number(r"(\d+) running"),
        change=0 if same else number(r"([+-]\d+) vs the period before"),
    )


# ---- before the due minute ----------------------------------------------------------------------


async def test_add_answers_with_the_id_and_next_run_and_announces_in_the_channel(
    scene: Scene,
) -> None:
    reply = scene.added[ONCALL]
    assert reply["response_type"] == "ephemeral"
    text = first_text(reply)
    assert (
        f"Digest `{scene.ids[ONCALL]}` added: prod-orders, daily at {scene.due:%H:%M} UTC" in text
    )
    assert f"First run: {scene.due:%a %d %b %H:%M} UTC ({token(scene.due)}" in text
    for channel in (ONCALL, PAUSED, QUIET):
        [announcement] = scene.slack.posts_in(channel)
        check_posted_message(announcement.body)
        assert f"The first one arrives {token(scene.due)}" in announcement.body["text"]
    assert "quiet" in first_text(scene.added[QUIET])
    # Stopped by SIGTERM, the first process exited cleanly.
    assert scene.first_exit == 0


async def test_a_restarted_process_lists_the_digest_from_the_same_db(scene: Scene) -> None:
    listed = first_text(scene.listed)
    assert "1 digest(s) in this channel" in listed
    line = block_text(scene.listed, BlockId.DIGEST.unique(0))
    assert line.startswith(f"`{scene.ids[ONCALL]}` · prod-orders · daily at ")
    assert f"next {scene.due:%a %d %b %H:%M} UTC ({token(scene.due)}" in line
    assert "last: not run yet" in line
    # Another channel's digests are not listed here.
    assert scene.ids[PAUSED] not in json.dumps(scene.listed)


# ---- at the due minute ---------------------------------------------------------------------------


async def test_at_its_time_one_valid_digest_counts_the_period(ran: Scene) -> None:
    [post] = digest_posts(ran.slack, ONCALL)
    assert post.answer and post.answer["ok"] is True
    message = post.body
    check_posted_message(message)
    begin = ran.due - timedelta(days=1)
    assert token(begin) in message["blocks"][0]["text"]["text"]
    assert token(ran.due) in message["blocks"][0]["text"]["text"]
    expected = expected_counts(ran.sim.instance("prod-orders"), begin, ran.due)
    assert expected.total > 0 and expected.failed > 0 and expected.running > 0, expected
    line = block_text(message, BlockId.COUNTS)
    assert line.startswith("*prod-orders*"), line
    assert shown_counts(line) == expected, line
    failures = block_text(message, BlockId.TASK.unique("failed"))
    assert failures.count("\n❌ prod-orders") == expected.failed, failures
    # The store has its result, and the next run is the following day's.
    listed = await ran.listing_once(ONCALL, "last: posted")
    line = block_text(listed, BlockId.DIGEST.unique(0))
    assert "last: posted" in line, line
    assert token(ran.due + timedelta(days=1)) in line, line


async def test_open_full_list_answers_the_clicker_privately_and_leaves_the_message(
    ran: Scene,
) -> None:
    slack = ran.slack
    [post] = digest_posts(slack, ONCALL)
    assert post.answer is not None
    ts = str(post.answer["ts"])
    pressed = button(post.body, ActionId.OPEN_LIST)
    url = slack.response_url()
    click = signed_click(pressed, post.body["blocks"], ONCALL, BOB, url, message_ts=ts)
    ack = await ran.bot.send(click)
    assert ack.status_code == 200, ack.text
    [answer] = await slack.wait_for(url)
    listing = answer.body
    assert listing["response_type"] == "ephemeral"
    assert listing["replace_original"] is False
    assert not listing.get("delete_original")
    # The clicker's own listing of that instance over the digest's period.
    begin = ran.due - timedelta(days=1)
    total = expected_counts(ran.sim.instance("prod-orders"), begin, ran.due).total
    shown = f"prod-orders · digest period: {total} tasks"
    assert listing["text"].startswith(shown), listing["text"]
    period = f"{begin.day} {begin:%b %H:%M} – {ran.due.day} {ran.due:%b %H:%M} UTC"
    assert period in block_text(listing, BlockId.HEADER), listing["blocks"][0]
    # The channel's message is never changed: no chat.update, no second post, one hook call.
    assert not [
        c for c in slack.calls if c.path.startswith("/api/chat.") and c.path != POST_MESSAGE
    ]
    assert digest_posts(slack, ONCALL) == [post]
    assert len(slack.calls_to(url)) == 1


async def test_a_digest_whose_channel_closed_is_paused_and_its_creator_told_once(
    ran: Scene,
) -> None:
    digest_id = ran.ids[PAUSED]
    [refused] = digest_posts(ran.slack, PAUSED)
    assert refused.answer == {"ok": False, "error": "not_in_channel"}

    # Listed by someone other than its creator, who must still hear of it first-hand.
    text = first_text(await ran.listing_once(PAUSED, "*paused*", ALICE))
    assert f"`{digest_id}`" in text and "*paused* (not_in_channel)" in text, text
    assert "last: paused: not_in_channel" in text, text
    # Its creator's next command, in any channel, is answered and then followed by the notice.
    answer, notice = await command(ran.bot, ran.slack, "help", ONCALL, BOB, count=2)
    assert answer.body["response_type"] == notice.body["response_type"] == "ephemeral"
    told = notice.body["text"]
    assert f"Your digest {digest_id} (channel {PAUSED}) is paused" in told, told
    assert "not_in_channel" in told, told
    # Only once: the next command gets its answer alone.
    url = ran.slack.response_url()
    await ran.bot.send(signed_command("help", ONCALL, BOB, url))
    await ran.slack.wait_for(url)
    await no_more_calls(ran.slack, lambda: len(ran.slack.calls_to(url)) > 1, seconds=1.0)


async def test_a_quiet_digest_over_an_empty_period_posts_one_line(ran: Scene) -> None:
    [post] = digest_posts(ran.slack, QUIET)
    message = post.body
    check_posted_message(message)
    begin = ran.due - timedelta(days=1)
    assert message["text"].startswith(f"Nothing happened on {EMPTY_NAME} · {token(begin)}")
    assert len(message["blocks"]) == 1 and message["blocks"][0]["type"] == "section"
    await ran.listing_once(QUIET, "last: nothing to report")


async def test_nothing_more_is_posted_in_the_rounds_after(ran: Scene) -> None:
    """Runs last: a few poll rounds after the last run are watched (most have passed during the
    tests above), and every channel still has its announcement and exactly one run."""
    slack = ran.slack
    runs = [c for channel in (ONCALL, PAUSED, QUIET) for c in digest_posts(slack, channel)]
    seen = len(slack.calls_to(POST_MESSAGE))
    left = max(c.received_at for c in runs) + 3 * POLL_S - time.perf_counter()
    await no_more_calls(slack, lambda: len(slack.calls_to(POST_MESSAGE)) > seen, seconds=left)
    for channel in (ONCALL, PAUSED, QUIET):
        assert len(slack.posts_in(channel, ok=None)) == 2, channel
