"""The digest scheduler: a job of the runtime that posts every subscription at its local time,
exactly once per subscription and local date, even with several replicas sharing one store.

Each round it looks at every active subscription:
- the latest run due by now that has no result yet is posted, if it is at most `grace` late
  (at start-up that is the one missed run inside the grace period); older missed runs are
  recorded as skipped. A run whose post failed has no final result: it is tried again
  `RETRY_AFTER_FAILURE` after the failure (by whichever replica looks first), while it is
  inside the grace period;
- before posting, the replica claims `digest:<id>:<local date>` in the store (a transaction in
  SQLite, SET NX with an expiry in Redis); the claim is released only if posting failed, and
  turned into a long-lived "done" marker when it succeeded. If a replica dies mid-post, its
  claim expires and a surviving one posts.
Rounds come every `poll_s` seconds, or sooner when a run is due sooner, so a digest goes out
within `poll_s` of its time.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.digests import DigestService
from bot.domain.digests import DigestResult, ResultKind, Subscription
from bot.domain.schedule import local_date, missed_runs, next_due, previous_due
from bot.poster import ChannelUnavailable, Posted, SlackPoster
from bot.render import render_digest
from bot.report import DigestReport
from bot.store import Store

log = logging.getLogger(__name__)

# Longer than any post can take (the poster waits out at most 3 Retry-Afters of 120 s, plus the
# DMS reads), so a live replica never loses its claim mid-post; short enough for a survivor to
# take over a dead one's run well inside the grace period.
CLAIM_TTL_S = 600.0
DONE_KEEP_S = 3 * 86400.0
RETRY_AFTER_FAILURE = timedelta(minutes=2)
CONCURRENT_DIGESTS = 20  # digests built at once; the poster spaces posts per channel
# Just before a run: looking for missed runs from here finds that run again.
_JUST_BEFORE = timedelta(microseconds=1)


def claim_key(sub: Subscription, due: datetime) -> str:
    return f"digest:{sub.id}:{local_date(sub, due).isoformat()}"


class DigestScheduler:
    def __init__(
        self,
        store: Store,
        digests: DigestService,
        poster: SlackPoster,
        *,
        grace: timedelta = timedelta(hours=2),
        poll_s: float = 15.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        owner: str | None = None,
    ) -> None:
        self._store = store
        self._digests = digests
        self._poster = poster
        self._grace = grace
        self._poll_s = poll_s
        self._clock = clock
        self._sleep = sleep
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._limit = asyncio.Semaphore(CONCURRENT_DIGESTS)
        # Subscriptions whose round failed, so that one broken every round is logged once.
        self._broken: set[str] = set()

    async def run(self) -> None:
        """The job body: rounds for ever (the runtime cancels it on shutdown)."""
        while True:
            wait = await self.round()
            await self._sleep(wait)

    async def round(self) -> float:
        """One look at every subscription; how long until the next round."""
        now = self._clock()
        subs = [s for s in await self._store.all() if s.paused is None]
        # One channel's digests one after another, channels side by side: Slack takes one post
        # per second per channel, so a build slot never sits waiting for a channel's turn.
        by_channel: dict[str, list[Subscription]] = defaultdict(list)
        for sub in subs:
            by_channel[sub.channel_id].append(sub)

        async def channel_round(channel_subs: list[Subscription]) -> None:
            for sub in channel_subs:
                await self._guarded(sub, now)

        await asyncio.gather(*(channel_round(c) for c in by_channel.values()))
        soonest = now + timedelta(seconds=self._poll_s)
        for sub in subs:
            try:
                soonest = min(soonest, next_due(sub, now))
            except (ValueError, RuntimeError):
                continue  # a zone this host cannot read: _guarded has logged it
        # A round that outlasted the next run (a slow build, Slack's Retry-After) goes again now.
        return max(0.0, (soonest - self._clock()).total_seconds())

    async def _guarded(self, sub: Subscription, now: datetime) -> None:
        try:
            await self._consider(sub, now)
        except Exception:
            # One subscription (an unknown zone, a store write that failed) must not keep the
            # others from posting; a broken one would fail every round, so it is logged once.
            if sub.id not in self._broken:
                self._broken.add(sub.id)
                log.exception("digest %s: its round failed; the others go on", sub.id)
            return
        self._broken.discard(sub.id)

    async def _consider(self, sub: Subscription, now: datetime) -> None:
        result = sub.last_result
        last = result.due if result else None
        failed = result is not None and result.kind is ResultKind.FAILED
        # A failed run is not done: look again from just before it, so it is found and retried.
        since = last - _JUST_BEFORE if last is not None and failed else last
        post, skipped = missed_runs(sub, since, now, self._grace)
        for due in skipped:
            if last is not None and due <= last:
                continue  # a failed run past the grace keeps its reason in last_result
            if await self._store.completed(claim_key(sub, due)):
                continue  # posted, by another replica or before a crash lost its result
            await self._record(sub, DigestResult(ResultKind.SKIPPED, now, due, "the bot was down"))
        if post is None:
            return
        # Paced by the stored result, not by memory: every replica, and a restarted one, waits.
        if (
            failed
            and result is not None
            and result.due == post
            and now - result.at < RETRY_AFTER_FAILURE
        ):
            return
        await self.post(sub, post)

    async def post(self, sub: Subscription, due: datetime) -> ResultKind | None:
        """Post one scheduled run, if this replica wins its claim; the result, else None."""
        key = claim_key(sub, due)
        # The build slot comes before the claim: a claim taken while queued behind other
        # digests could expire before its post, and another replica would then post it too.
        # The slot is let go before the post, which may wait for its channel's turn.
        async with self._limit:
            if await self._store.completed(key) or not await self._store.claim(
                key, self.owner, CLAIM_TTL_S
            ):
                return None
            failure = ""
            report: DigestReport | None
            message: dict[str, Any] | None
            try:
                report = await self._digests.build(
                    sub.channel_id, sub.targets, previous_due(sub, due), due, quiet=sub.quiet
                )
                message = render_digest(report)
            except asyncio.CancelledError:
                # Shutdown before anything was posted: let the next process or replica take the
                # run now rather than after the claim expires. (Once the post is under way the
                # claim is kept: a late digest is better than a double one.)
                await asyncio.shield(self._store.release(key, self.owner))
                raise
            except Exception as exc:  # a bad digest must not stop the others
                log.exception("digest %s failed", sub.id)
                report, message, failure = None, None, type(exc).__name__
        if report is None:
            kind, detail = ResultKind.FAILED, failure
        elif message is None:
            kind, detail = ResultKind.NOTHING, ""
        else:
            kind, detail = await self._send(sub, report, message)
        if kind is ResultKind.FAILED:
            await self._store.release(key, self.owner)
        else:
            await self._store.mark_done(key, DONE_KEEP_S)
        await self._record(sub, DigestResult(kind, self._clock(), due, detail))
        return kind

    async def _send(
        self, sub: Subscription, report: DigestReport, message: dict[str, Any]
    ) -> tuple[ResultKind, str]:
        try:
            posted = await self._poster.post(sub.channel_id, message)
        except Exception as exc:
            log.exception("digest %s could not be posted", sub.id)
            return ResultKind.FAILED, type(exc).__name__
        if isinstance(posted, Posted):
            # NOTHING is a quiet digest's one line; a full digest saying "no tasks" was posted.
            nothing = report.quiet and report.nothing_happened
            return (ResultKind.NOTHING if nothing else ResultKind.POSTED), ""
        if isinstance(posted, ChannelUnavailable):
            log.warning(
                "digest %s paused: Slack answered %s for channel %s",
                sub.id,
                posted.reason,
                sub.channel_id,
            )
            await self._store.set_paused(sub.id, posted.reason)
            return ResultKind.PAUSED, posted.reason
        return ResultKind.FAILED, posted.error

    async def _record(self, sub: Subscription, result: DigestResult) -> None:
        current = await self._store.get(sub.id)
        if current is None:
            return  # removed while it ran
        # Replicas read the subscription at different moments: one that saw it before another
        # posted a later run must not put an older result back over that one.
        if current.last_result is not None and current.last_result.due > result.due:
            return
        await self._store.record_result(sub.id, result)
