"""Exactly once across replicas: three `dms-tasks-bot serve` processes share one real Redis
(REDIS_URL), four digests in three channels are due at the same UTC minute, and one replica is
killed (SIGKILL, no shutdown) two seconds before it. Each digest reaches Slack exactly once, from
the survivors, and nothing more follows in the poll rounds after.

The subscriptions are added through the replica that is later killed, and listed through the
others before the due time: they live in Redis, not in any one process.
"""

from __future__ import annotations

import asyncio
import json
import re
import signal
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import pytest_asyncio
from redis.asyncio import Redis

from bot.blockkit import check_posted_message
from bot.ids import BlockId
from bot.simulator import RunningSimulator, SimulatorConfig, start_simulator
from tests.e2e_harness import (
    BotProcess,
    bot_config_toml,
    bot_env,
    next_due_minute,
    serve_bot,
    signed_command,
)
from tests.redis_server import redis_server
from tests.slack_mock import POST_MESSAGE, MockSlack, RecordedCall, start_mock_slack

pytestmark = pytest.mark.asyncio(loop_scope="module")

ONCALL, BILLING, RANDOM = "C0ONCALL", "C0BILLING", "C0RANDOM"
ALICE = "U0ALICE"
REPLICAS = 3
POLL_S = 1.0
LEAD_S = 15.0  # set-up (three start-ups, seven commands) takes about 3 s
KILL_BEFORE_S = 2.0
POST_WITHIN_S = 20.0
WATCH_ROUNDS = 3
# (channel, instance): the digests, two of them in one channel.
DIGESTS = (
    (ONCALL, "prod-orders"),
    (ONCALL, "prod-billing"),
    (BILLING, "prod-billing"),
    (RANDOM, "staging-events"),
)
CHANNELS = (ONCALL, BILLING, RANDOM)
KEY_PREFIX = "dms-tasks-bot:"  # bot/store/redis_store.py's default prefix


@dataclass
class Cluster:
    sim: RunningSimulator
    slack: MockSlack
    redis_url: str
    replicas: list[BotProcess]
    victim: BotProcess
    due: datetime
    ids: dict[tuple[str, str], str] = field(default_factory=dict)  # (channel, instance) -> id
    listed: dict[tuple[int, str], str] = field(default_factory=dict)  # (replica, channel) -> text
    killed_at: datetime | None = None
    runs_before_kill: int = 0

    @property
    def survivors(self) -> list[BotProcess]:
        return [r for r in self.replicas if r is not self.victim]


async def command(bot: BotProcess, slack: MockSlack, text: str, channel: str) -> dict[str, Any]:
    url = slack.response_url()
    ack = await bot.send(signed_command(text, channel, ALICE, url))
    assert ack.status_code == 200, ack.text
    [answer] = await slack.wait_for(url)
    return answer.body


def sections(message: dict[str, Any]) -> str:
    return "\n".join(
        b["text"]["text"] for b in message.get("blocks") or [] if b.get("type") == "section"
    )


def runs_of(slack: MockSlack, channel: str, instance: str) -> list[RecordedCall]:
    """Every attempt to post the digest of `instance` in `channel`."""
    return [
        c
        for c in slack.posts_in(channel, ok=None)
        if c.body.get("text") == f"Kafka background tasks: {instance}"
    ]


def all_runs(slack: MockSlack) -> list[RecordedCall]:
    return [c for channel, instance in DIGESTS for c in runs_of(slack, channel, instance)]


async def no_more_calls(slack: MockSlack, more: Callable[[], bool], seconds: float) -> None:
    """Watches the mock for `seconds`: fails as soon as `more()` holds."""
    if seconds <= 0:
        assert not more()
        return
    with pytest.raises(TimeoutError):
        await slack.wait_until(more, timeout=seconds)


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    # Fails (not skips) under CI when redis-server is missing: see tests/redis_server.py.
    with redis_server(tmp_path_factory.mktemp("redis")) as url:
        yield url


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def cluster(
    redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Cluster]:
    async with (
        start_simulator(SimulatorConfig(bulk_tasks=50)) as sim,
        start_mock_slack(member_of=set(CHANNELS)) as slack,
        AsyncExitStack() as stack,
    ):
        ids = {i.name: i.instance_id for i in sim.instances}
        config = tmp_path_factory.mktemp("replicas") / "bot.toml"
        config.write_text(
            bot_config_toml(
                {
                    "prod-orders": {"instance_id": ids["prod-orders"], "channels": [ONCALL]},
                    "prod-billing": {
                        "instance_id": ids["prod-billing"],
                        "channels": [ONCALL, BILLING],
                    },
                    "staging-events": {"instance_id": ids["staging-events"], "channels": [RANDOM]},
                }
            ),
            encoding="utf-8",
        )
        extra = {"REDIS_URL": redis_url, "DMS_BOT_SCHEDULER_POLL_SECONDS": str(POLL_S)}
        due = next_due_minute(LEAD_S)
        replicas = [
            await stack.enter_async_context(
                serve_bot(
                    bot_env(mock=slack, dms_endpoint=sim.url, config_path=config, extra=extra)
                )
            )
            for _ in range(REPLICAS)
        ]
        for replica in replicas:
            assert "kept in Redis (REDIS_URL)" in replica.log, replica.log[-2000:]
        victim = replicas[0]
        found = Cluster(sim, slack, redis_url, replicas, victim, due)
        for channel, instance in DIGESTS:
            reply = await command(
                victim, slack, f"digest add {instance} at {due:%H:%M} tz UTC", channel
            )
            added = re.search(r"Digest `([a-z0-9]+)` added", sections(reply))
            assert added, reply
            found.ids[(channel, instance)] = added[1]
        for n, replica in enumerate(found.survivors, start=1):
            for channel in CHANNELS:
                found.listed[(n, channel)] = sections(
                    await command(replica, slack, "digest list", channel)
                )
        # Two seconds before the due time, one replica dies without a chance to clean up.
        until_kill = (due - timedelta(seconds=KILL_BEFORE_S) - datetime.now(UTC)).total_seconds()
        assert until_kill > 0, "set-up outlasted LEAD_S"
        await asyncio.sleep(until_kill)
        victim.process.send_signal(signal.SIGKILL)
        await asyncio.wait_for(victim.process.wait(), timeout=5)
        found.killed_at = datetime.now(UTC)
        found.runs_before_kill = len(all_runs(slack))
        yield found
        for replica in found.survivors:
            assert replica.process.returncode is None, replica.log[-3000:]
            assert "Traceback" not in replica.log, replica.log[-4000:]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def ran(cluster: Cluster) -> Cluster:
    """The cluster once every digest has reached Slack: the one wait for the due minute."""
    slack = cluster.slack
    timeout = (cluster.due - datetime.now(UTC)).total_seconds() + POST_WITHIN_S
    try:
        await slack.wait_until(
            lambda: all(runs_of(slack, c, i) for c, i in DIGESTS), timeout=timeout
        )
    except TimeoutError:
        missing = [d for d in DIGESTS if not runs_of(slack, *d)]
        logs = "\n".join(r.log[-2000:] for r in cluster.survivors)
        pytest.fail(f"no run of {missing} by due + {POST_WITHIN_S} s:\n{logs}")
    return cluster


async def test_digests_added_on_one_replica_are_listed_by_the_others(cluster: Cluster) -> None:
    for n in range(1, REPLICAS):
        for channel in CHANNELS:
            listed = cluster.listed[(n, channel)]
            mine = [(i, d) for (c, i), d in cluster.ids.items() if c == channel]
            assert f"{len(mine)} digest(s) in this channel" in listed, listed
            for instance, digest_id in mine:
                assert f"`{digest_id}` · {instance} · daily at {cluster.due:%H:%M} UTC" in listed
            assert f"<!date^{int(cluster.due.timestamp())}^" in listed


async def test_the_victim_died_before_the_due_time(cluster: Cluster) -> None:
    assert cluster.victim.process.returncode == -signal.SIGKILL
    assert cluster.killed_at is not None and cluster.killed_at < cluster.due
    # Nothing of the runs had started when it died: every post came after, from the others.
    assert cluster.runs_before_kill == 0


async def test_each_digest_is_posted_exactly_once_by_the_survivors(ran: Cluster) -> None:
    for channel, instance in DIGESTS:
        [run] = runs_of(ran.slack, channel, instance)
        assert run.answer is not None and run.answer["ok"] is True, run.answer
        check_posted_message(run.body)
        counts = [b for b in run.body["blocks"] if b.get("block_id") == BlockId.COUNTS]
        assert counts and counts[0]["text"]["text"].startswith(f"*{instance}*"), run.body
    # Besides the four announcements and the four runs, nothing was posted.
    assert len(ran.slack.calls_to(POST_MESSAGE)) == 2 * len(DIGESTS)


async def test_nothing_more_follows_and_each_run_is_marked_done_once(ran: Cluster) -> None:
    slack = ran.slack
    seen = len(slack.calls_to(POST_MESSAGE))
    last = max(c.received_at for c in all_runs(slack))
    left = last + WATCH_ROUNDS * POLL_S - time.perf_counter()
    await no_more_calls(slack, lambda: len(slack.calls_to(POST_MESSAGE)) > seen, seconds=left)
    for digest in DIGESTS:
        assert len(runs_of(slack, *digest)) == 1, digest
    # The store agrees: one done marker per digest and date, and every survivor lists the run
    # as posted with the next one a day later.
    redis = Redis.from_url(ran.redis_url, decode_responses=True)
    try:
        for digest_id in ran.ids.values():
            key = f"{KEY_PREFIX}claim:digest:{digest_id}:{ran.due.date().isoformat()}"
            assert await redis.get(key) == "done", key
    finally:
        await redis.aclose()
    tomorrow = f"<!date^{int((ran.due + timedelta(days=1)).timestamp())}^"
    # (Results are stored just after the posts; WATCH_ROUNDS poll rounds have passed since.)
    for replica in ran.survivors:
        for channel in CHANNELS:
            listed = json.dumps(await command(replica, slack, "digest list", channel))
            mine = [d for (c, _), d in ran.ids.items() if c == channel]
            assert listed.count("last: posted") == len(mine), listed
            assert listed.count(tomorrow) == len(mine), listed
