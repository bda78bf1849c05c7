"""Watches across a restart, on real `dms-tasks-bot serve` processes, the DMS simulator and the
mock Slack.

The first process lists what runs on prod-orders and takes three Watch clicks: Alice's on an
Add brokers task from her private listing in C0ONCALL, Bob's on the same task from a listing in
a thread of C0ONCALL, and Alice's on an Expand broker storage task in C0SIDE, which keeps
running for the whole module (its looks are the later rounds the end is judged by). Each click
posts one message, as the bot, where it was made. The process is stopped (SIGTERM) while both
tasks run; a second one on the same DMS_BOT_DB takes the watches up, and the Add brokers task
then succeeds in the simulator. The second process edits both of its messages to their final
state and replies once in each one's thread, mentioning whoever asked; later rounds add nothing.

A watch looks 10 s after its click at the soonest (bot.domain.watches.WatchLimits, which no
setting changes), so the module waits that long once.
"""

from __future__ import annotations

import asyncio
import json
import signal
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from bot.blockkit import check_message, check_posted_message
from bot.domain.watches import Watch, WatchValue
from bot.ids import ActionId
from bot.simulator import RunningSimulator, SimulatorConfig, start_simulator
from bot.store import StoredWatches, open_store
from tests.e2e_harness import (
    BotProcess,
    bot_config_toml,
    bot_env,
    buttons,
    in_thread,
    serve_bot,
    signed_click,
    signed_command,
)
from tests.slack_mock import (
    PERMALINK,
    POST_MESSAGE,
    UPDATE,
    MockSlack,
    RecordedCall,
    start_mock_slack,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")

ONCALL, SIDE = "C0ONCALL", "C0SIDE"
ALICE, BOB = "U0ALICE", "U0BOB"
THREAD = "1764662400.000100"  # an incident thread in C0ONCALL
# The first look comes 10 s after a click; the end's edits and replies share C0ONCALL's turn
# (one call a second). A restart slower than those 10 s looks once before the task ends, and
# the task is then cached for 15 s: up to 20 s more.
ENDED_WITHIN_S = 40.0


@dataclass
class Posted:
    """A watch's message as chat.postMessage carried and answered it."""

    call: RecordedCall
    answer: dict[str, Any]  # the clicker's private answer at the click's response_url

    @property
    def ts(self) -> str:
        assert self.call.answer is not None
        return str(self.call.answer["ts"])

    @property
    def channel(self) -> str:
        return str(self.call.body["channel"])


@dataclass
class Scene:
    sim: RunningSimulator
    slack: MockSlack
    db: Path
    broker_task: str  # Add brokers: succeeds after the restart
    storage_task: str  # Expand broker storage: runs on
    alice: Posted  # Alice's watch of the Add brokers task, from C0ONCALL
    bob: Posted  # Bob's watch of it, from THREAD
    side: Posted  # Alice's watch of the Expand broker storage task, from C0SIDE
    stored: list[Watch]  # the store between the two processes
    first: BotProcess
    second: BotProcess
    edits_before_restart: int = 0
    again: dict[str, Any] = field(default_factory=dict)  # Alice's Watch once more, restarted
    removed_at: float = 0.0  # perf_counter when the ended watches' records were gone


async def command(bot: BotProcess, slack: MockSlack, text: str, channel: str, user: str) -> Any:
    url = slack.response_url()
    ack = await bot.send(signed_command(text, channel, user, url))
    assert ack.status_code == 200, ack.text
    [answer] = await slack.wait_for(url)
    return answer.body


def watch_button(listing: dict[str, Any], task_id: str) -> dict[str, Any]:
    """The listing's Watch button of `task_id`."""
    for element in buttons(listing):
        if str(element["action_id"]).split(":", 1)[0] != ActionId.WATCH:
            continue
        if WatchValue.decode(element["value"]).task_id == task_id:
            return element
    raise LookupError(f"no Watch button for {task_id} in {json.dumps(listing)[:2000]}")


async def click_watch(
    bot: BotProcess,
    slack: MockSlack,
    listing: dict[str, Any],
    task_id: str,
    channel: str,
    user: str,
    *,
    thread_ts: str | None = None,
) -> dict[str, Any]:
    """Watch on `task_id` in a private listing: the clicker's answer at the response_url."""
    url = slack.response_url()
    request = signed_click(watch_button(listing, task_id), listing["blocks"], channel, user, url)
    if thread_ts is not None:
        request = in_thread(request, thread_ts)
    ack = await bot.send(request)
    assert ack.status_code == 200, ack.text
    [answer] = await slack.wait_for(url)
    return answer.body


async def watch_from_listing(
    bot: BotProcess,
    slack: MockSlack,
    task_id: str,
    channel: str,
    user: str,
    *,
    thread_ts: str | None = None,
) -> tuple[dict[str, Any], Posted]:
    """A listing of what runs, and Watch on `task_id` in it: the listing and the post."""
    listing = await command(bot, slack, "prod-orders running", channel, user)
    before = len(slack.calls_to(POST_MESSAGE))
    answer = await click_watch(bot, slack, listing, task_id, channel, user, thread_ts=thread_ts)
    # The click's own post comes before its answer: the watch is stored with its ts by then.
    posts = slack.calls_to(POST_MESSAGE)[before:]
    assert len(posts) == 1, [p.body for p in posts]
    return listing, Posted(posts[0], answer)


async def stored_watches(db: Path) -> list[Watch]:
    store = await open_store(str(db), None)
    try:
        return await StoredWatches(store).all()
    finally:
        await store.close()


async def reply_done(db: Path, watch: Watch) -> bool:
    store = await open_store(str(db), None)
    try:
        return await store.completed(watch.reply_key)
    finally:
        await store.close()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def scene(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Scene]:
    async with (
        start_simulator(SimulatorConfig()) as sim,
        start_mock_slack(member_of={ONCALL, SIDE}) as slack,
    ):
        now = datetime.now(UTC)
        broker = sim.add_task(
            "prod-orders", "extendBroker", "EXECUTING", created=now - timedelta(minutes=3)
        )["id"]
        storage = sim.add_task(
            "prod-orders", "extendStorage", "EXECUTING", created=now - timedelta(minutes=2)
        )["id"]
        ids = {i.name: i.instance_id for i in sim.instances}
        config = tmp_path_factory.mktemp("watch") / "bot.toml"
        config.write_text(
            bot_config_toml(
                {"prod-orders": {"instance_id": ids["prod-orders"], "channels": [ONCALL, SIDE]}},
                default_timezone="Europe/Berlin",
            ),
            encoding="utf-8",
        )
        env = bot_env(mock=slack, dms_endpoint=sim.url, config_path=config)
        db = Path(env["DMS_BOT_DB"])  # one store for both processes
        async with serve_bot(env) as first:
            # The storage watch first: its next look comes before the others' end, and the one
            # after that comes after it.
            _, side = await watch_from_listing(first, slack, storage, SIDE, ALICE)
            listing, alice = await watch_from_listing(first, slack, broker, ONCALL, ALICE)
            _, bob = await watch_from_listing(first, slack, broker, ONCALL, BOB, thread_ts=THREAD)
            first.process.send_signal(signal.SIGTERM)
            await asyncio.wait_for(first.process.wait(), timeout=15)
        stored = await stored_watches(db)
        edits = len(slack.calls_to(UPDATE))
        async with serve_bot(env) as second:
            scene = Scene(sim, slack, db, broker, storage, alice, bob, side, stored, first, second)
            scene.edits_before_restart = edits
            # Watch once more, from the listing the first process answered: already watched.
            scene.again = await click_watch(second, slack, listing, broker, ONCALL, ALICE)
            sim.set_task_status(broker, "SUCCESS")
            yield scene
        for bot in (first, second):
            assert "Traceback" not in bot.log, bot.log[-4000:]


def state_of(message: dict[str, Any]) -> str:
    """The first section of a watch message: its state."""
    return str(message["blocks"][0]["text"]["text"])


def final_edits(slack: MockSlack, posted: Posted) -> list[RecordedCall]:
    return [
        c
        for c in slack.updates_of(posted.channel, posted.ts)
        if "finished" in c.body.get("text", "")
    ]


def replies(slack: MockSlack, posted: Posted) -> list[RecordedCall]:
    """Posts in the watch's reply thread other than the watch's own message."""
    thread = posted.call.body.get("thread_ts") or posted.ts
    return [c for c in slack.replies_to(posted.channel, thread) if c is not posted.call]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def ended(scene: Scene) -> Scene:
    """The scene once both watches of the Add brokers task have ended: final edits and
    replies at Slack, their records gone from the store."""
    slack = scene.slack

    def done() -> bool:
        return all(final_edits(slack, p) and replies(slack, p) for p in (scene.alice, scene.bob))

    try:
        await slack.wait_until(done, timeout=ENDED_WITHIN_S)
    except TimeoutError:
        pytest.fail(f"the watches did not end in {ENDED_WITHIN_S} s:\n{scene.second.log[-4000:]}")
    # The record goes just after the reply: bounded polling of the store.
    deadline = time.monotonic() + 5
    while len(await stored_watches(scene.db)) > 1:
        assert time.monotonic() < deadline, await stored_watches(scene.db)
        await asyncio.sleep(0.1)
    scene.removed_at = time.perf_counter()
    return scene


# ---- the first process -------------------------------------------------------------------------


async def test_a_watch_click_posts_one_valid_message_where_it_was_made(scene: Scene) -> None:
    for posted, channel, thread in (
        (scene.alice, ONCALL, None),
        (scene.bob, ONCALL, THREAD),
        (scene.side, SIDE, None),
    ):
        message = posted.call.body
        check_posted_message(message)
        assert (posted.channel, message.get("thread_ts")) == (channel, thread)
        assert posted.call.answer and posted.call.answer["ok"] is True
        assert message["text"].startswith("Watching "), message["text"]
        assert state_of(message).startswith("👀 Watching"), state_of(message)
        stop = [b for b in buttons(message) if b["action_id"].startswith(ActionId.WATCH_STOP)]
        assert len(stop) == 1, buttons(message)
    assert "*Add brokers* on *prod-orders* · ⏳" in state_of(scene.alice.call.body)
    assert "*Expand broker storage* on *prod-orders*" in state_of(scene.side.call.body)
    assert f"asked by <@{BOB}>" in json.dumps(scene.bob.call.body)


async def test_the_clicker_is_answered_privately_with_where_the_message_is(scene: Scene) -> None:
    for posted in (scene.alice, scene.bob, scene.side):
        check_message(posted.answer)
        assert posted.answer["response_type"] == "ephemeral"
        assert posted.answer["replace_original"] is False
    assert f"in <#{ONCALL}>" in scene.alice.answer["text"], scene.alice.answer["text"]
    assert "in this thread" in scene.bob.answer["text"], scene.bob.answer["text"]
    assert f"in <#{SIDE}>" in scene.side.answer["text"], scene.side.answer["text"]


async def test_the_stopped_process_left_every_watch_in_the_store(scene: Scene) -> None:
    assert scene.first.process.returncode == 0
    # Nothing was looked at or edited before the stop: the first look is 10 s after a click.
    assert scene.edits_before_restart == 0
    by_message = {w.message_ts: w for w in scene.stored}
    assert len(by_message) == 3
    for posted, user, task, thread in (
        (scene.alice, ALICE, scene.broker_task, None),
        (scene.bob, BOB, scene.broker_task, THREAD),
        (scene.side, ALICE, scene.storage_task, None),
    ):
        watch = by_message[posted.ts]
        assert (watch.user_id, watch.task_id, watch.channel_id) == (user, task, posted.channel)
        assert watch.thread_ts == thread and watch.ending is None and not watch.in_dm
        assert watch.task is not None and watch.task.status_upper == "EXECUTING"
        assert watch.next_check_at is not None and watch.checked_at is not None
        assert watch.next_check_at - watch.checked_at == timedelta(seconds=10)


# ---- the second process ------------------------------------------------------------------------


async def test_watch_again_after_the_restart_links_the_existing_message(scene: Scene) -> None:
    again = scene.again
    check_message(again)
    assert again["response_type"] == "ephemeral"
    link = f"https://e2e.slack.test/archives/{ONCALL}/p{scene.alice.ts.replace('.', '')}"
    assert again["text"].startswith("You are already watching *Add brokers*"), again["text"]
    assert f"<{link}|its message>" in again["text"], again["text"]
    [asked] = scene.slack.calls_to(PERMALINK)
    assert (asked.body["channel"], asked.body["message_ts"]) == (ONCALL, scene.alice.ts)


async def test_the_restarted_process_edits_each_message_to_its_final_state(ended: Scene) -> None:
    slack = ended.slack
    for posted in (ended.alice, ended.bob):
        edits = slack.updates_of(posted.channel, posted.ts)
        [final] = final_edits(slack, posted)
        assert edits[-1] is final, [e.body["text"] for e in edits]
        assert final.answer == {
            "ok": True,
            "channel": posted.channel,
            "ts": posted.ts,
            "text": final.body["text"],
        }
        message = final.body
        check_posted_message(message)
        assert message["text"].startswith("Add brokers on prod-orders finished: SUCCESS")
        state = state_of(message)
        assert state.startswith("✅ *Add brokers* on *prod-orders* finished: *SUCCESS*"), state
        # The final state has no Stop watching button; the mock holds the edited message.
        assert buttons(message) == []
        assert slack.messages[(posted.channel, posted.ts)]["text"] == message["text"]


async def test_each_watch_replies_once_in_its_thread_mentioning_the_clicker(
    ended: Scene,
) -> None:
    slack = ended.slack
    for posted, user, thread in ((ended.alice, ALICE, ended.alice.ts), (ended.bob, BOB, THREAD)):
        [reply] = replies(slack, posted)
        check_posted_message(reply.body)
        assert reply.body["thread_ts"] == thread
        assert reply.body["text"].startswith(
            f"<@{user}> *Add brokers* on *prod-orders* finished: *SUCCESS*"
        ), reply.body["text"]
        # Not broadcast to the channel: a reply in the thread only.
        assert not reply.body.get("reply_broadcast")
    for watch in ended.stored:
        if watch.task_id == ended.broker_task:
            assert await reply_done(ended.db, watch), watch.id


async def test_later_rounds_add_nothing_and_the_running_watch_goes_on(ended: Scene) -> None:
    """Runs last: the storage watch's next look, which starts after the ended watches' records
    are gone, is the later round; then only that watch's message has changed."""
    slack, side = ended.slack, ended.side
    looks = ended.sim.stats["task_progress"]

    def later_look() -> bool:
        edits = slack.updates_of(SIDE, side.ts)
        fresh = [c for c in edits if c.received_at > ended.removed_at]
        return bool(fresh) and ended.sim.stats["task_progress"] > looks

    seen = {id(c) for c in slack.calls}
    await slack.wait_until(later_look, timeout=25)
    later = [c for c in slack.calls if id(c) not in seen]
    assert {c.path for c in later} == {UPDATE}, [(c.path, c.body) for c in later]
    assert {(c.body["channel"], c.body["ts"]) for c in later} == {(SIDE, side.ts)}
    # In all: three watch messages and two replies, each the only one of its kind.
    assert len(slack.calls_to(POST_MESSAGE)) == 5
    for posted in (ended.alice, ended.bob):
        assert len(final_edits(slack, posted)) == 1 and len(replies(slack, posted)) == 1
    [left] = await stored_watches(ended.db)
    assert (left.task_id, left.ending, left.message_ts) == (ended.storage_task, None, side.ts)
    # Every message the bot posted or edited is one Slack accepts.
    for call in [*slack.calls_to(POST_MESSAGE), *slack.calls_to(UPDATE)]:
        check_posted_message(call.body)
        assert call.answer and call.answer["ok"] is True, (call.path, call.answer)
