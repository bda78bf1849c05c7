"""The alert job: every interval, read the recent window of each instance any alert covers, once,
and post each task an alert fires for exactly once, across restarts and replicas.

A round:
- groups the active alerts by the instances they cover now (access judged for each alert's
  channel), so 100 alerts over 20 instances make at most 20 reads. Each read goes through the
  shared cache (`TaskService.cache.window`) with a window aligned to whole intervals
  (bot.domain.alerts.recent_window), so rounds of one interval, digests and queries about the
  instance share what was read. A read that fails is logged (once until it recovers) and tried
  again next round; the other instances go on;
- decides per alert what fires (bot.domain.alerts.events_for: only what happened after the
  alert was added);
- posts each event under a claim, as digests do (bot/store/base.py): skip what is done, claim
  `alert:<alert id>:<task id>:<failed|stuck>`, post, then mark it done, or release the claim
  when the post failed so that the next round (here or on another replica) tries again. A done
  marker outlives the task's stay in the window, so nothing fires twice. More than a few events
  of one alert at once go out as one summary post under all their claims, not as a flood;
- pauses an alert whose channel is gone or closed to the bot (ChannelUnavailable), as digests
  do; whoever added it hears of it (AlertService.notices_for).
Rounds start at whole multiples of the interval since the epoch, so replicas run them together
and their claims, not luck, decide who posts.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from bot.alerts import AlertService
from bot.domain.alerts import Alert, events_for, marker_keep, next_round_in, recent_window
from bot.domain.durations import typical_durations
from bot.domain.instances import InstanceRef
from bot.domain.tasks import TaskWindow
from bot.listing import judged_durations
from bot.poster import ChannelUnavailable, Posted, SlackPoster
from bot.render.alerts import Fired, render_alert_event, render_alert_summary
from bot.store import AlertStore, Store

log = logging.getLogger(__name__)

# Longer than a post can wait (the poster waits out at most 3 Retry-Afters of 120 s, and posts
# to one channel queue behind each other); short enough for a survivor to take over soon.
CLAIM_TTL_S = 600.0
# More events than this for one alert in one round are posted as one summary.
MAX_SEPARATE_POSTS = 3
READS_AT_ONCE = 5  # instances read at once: a round over 20 must not burst the gateway

InstanceKey = tuple[str, str, str]


@dataclass(frozen=True)
class RoundResult:
    """What one round did, for the log and for tests."""

    alerts: int = 0  # active alerts looked at
    instances: int = 0  # instances read (or tried)
    unavailable: int = 0  # instances whose read failed
    posts: int = 0  # messages posted
    events: int = 0  # events those posts covered


def _key(ref: InstanceRef) -> InstanceKey:
    return (ref.project_id, ref.region, ref.instance_id)


class AlertScheduler:
    def __init__(
        self,
        store: Store,
        alerts: AlertService,
        poster: SlackPoster,
        *,
        interval_s: float = 60.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        owner: str | None = None,
    ) -> None:
        if not interval_s > 0:
            raise ValueError(f"interval_s must be positive, got {interval_s!r}")
        self._store = store
        self._records = AlertStore(store)
        self._alerts = alerts
        self._poster = poster
        self._interval_s = interval_s
        self._clock = clock
        self._sleep = sleep
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._limit = asyncio.Semaphore(READS_AT_ONCE)
        self._lookback_days = alerts.service.settings.running_lookback_days
        self._keep_s = marker_keep(self._lookback_days).total_seconds()
        # Claim keys this process saw done: a done marker lasts longer than its task stays in
        # the window, so they need not be asked of the store again every round.
        self._done: set[str] = set()
        # Instances whose last read failed, and alerts whose last round failed: logged once.
        self._unavailable: set[InstanceKey] = set()
        self._broken: set[str] = set()

    async def run(self) -> None:
        """The job body: rounds for ever (the runtime cancels it on shutdown)."""
        while True:
            await self.round()
            await self._sleep(next_round_in(self._clock(), self._interval_s))

    async def round(self) -> RoundResult:
        now = self._clock()
        active = [a for a in await self._records.all() if a.paused is None]
        if not active:
            return RoundResult()
        begin, end = recent_window(now, self._interval_s, self._lookback_days)
        groups = await self._group(active)
        windows = await asyncio.gather(*(self._read(ref, begin, end) for ref, _ in groups.values()))
        fired: dict[str, list[Fired]] = {}
        for (_, members), window in zip(groups.values(), windows, strict=True):
            if window is None:
                continue
            wants_typical = any(alert.stuck for alert, _ in members)
            typical = (
                judged_durations(
                    typical_durations(window.tasks), self._alerts.service.expected, window.tasks
                )
                if wants_typical
                else {}
            )
            for alert, ref in members:
                for event in events_for(alert, window.tasks, typical, now):
                    fired.setdefault(alert.id, []).append(Fired(ref, event))
        by_id = {a.id: a for a in active}
        done = await asyncio.gather(
            *(self._guarded(by_id[alert_id], events, now) for alert_id, events in fired.items())
        )
        # Forget done keys whose tasks left every window: the set stays as small as what fires.
        seen = {f.event.key(alert_id) for alert_id, events in fired.items() for f in events}
        self._done &= seen
        return RoundResult(
            alerts=len(active),
            instances=len(groups),
            unavailable=sum(1 for w in windows if w is None),
            posts=sum(posts for posts, _ in done),
            events=sum(events for _, events in done),
        )

    async def _group(
        self, alerts: list[Alert]
    ) -> dict[InstanceKey, tuple[InstanceRef, list[tuple[Alert, InstanceRef]]]]:
        """Each covered instance once, with the alerts covering it (and how each names it)."""
        covered: dict[tuple[str, tuple[str, ...]], list[InstanceRef]] = {}
        groups: dict[InstanceKey, tuple[InstanceRef, list[tuple[Alert, InstanceRef]]]] = {}
        for alert in alerts:
            scope = (alert.channel_id, alert.targets)
            if scope not in covered:
                try:
                    covered[scope] = await self._alerts.covered(*scope)
                except Exception:
                    # An instance list that cannot be read now: the next round tries again.
                    log.exception("alert %s: could not resolve its instances", alert.id)
                    covered[scope] = []
            for ref in covered[scope]:
                groups.setdefault(_key(ref), (ref, []))[1].append((alert, ref))
        return groups

    async def _read(self, ref: InstanceRef, begin: datetime, end: datetime) -> TaskWindow | None:
        key = _key(ref)
        async with self._limit:
            try:
                window = (await self._alerts.service.cache.window(ref, begin, end)).value
            except Exception as exc:
                # DMS down, throttled, or a bug: never the whole job; this instance waits a round.
                if key not in self._unavailable:
                    self._unavailable.add(key)
                    log.warning(
                        "alerts: %s cannot be read (%s: %s); trying again every %.0f s",
                        ref.display_name,
                        type(exc).__name__,
                        exc,
                        self._interval_s,
                    )
                return None
        if key in self._unavailable:
            self._unavailable.discard(key)
            log.info("alerts: %s can be read again", ref.display_name)
        return window

    async def _guarded(self, alert: Alert, fired: list[Fired], now: datetime) -> tuple[int, int]:
        try:
            counts = await self._deliver(alert, fired, now)
        except Exception:
            # A store write that failed, say: the other alerts go on; the next round retries.
            if alert.id not in self._broken:
                self._broken.add(alert.id)
                log.exception("alert %s: its round failed; the others go on", alert.id)
            return 0, 0
        self._broken.discard(alert.id)
        return counts

    async def _deliver(self, alert: Alert, fired: list[Fired], now: datetime) -> tuple[int, int]:
        fresh = []
        for f in fired:
            key = f.event.key(alert.id)
            if key in self._done:
                continue
            if await self._store.completed(key):
                self._done.add(key)
                continue
            fresh.append(f)
        if not fresh:
            return 0, 0
        batches = [[f] for f in fresh] if len(fresh) <= MAX_SEPARATE_POSTS else [fresh]
        posts = events = 0
        for batch in batches:
            covered = await self._post(alert, batch, now)
            if covered is None:
                break  # paused, or Slack failing: the rest waits for the next round
            posts += 1 if covered else 0
            events += covered
        return posts, events

    async def _post(self, alert: Alert, batch: list[Fired], now: datetime) -> int | None:
        """Post what of `batch` this replica wins; how many events it covered, None to stop."""
        won = [
            f
            for f in batch
            if await self._store.claim(f.event.key(alert.id), self.owner, CLAIM_TTL_S)
        ]
        if not won:
            return 0  # another replica is posting them
        command = self._alerts.service.settings.command
        try:
            message = (
                render_alert_event(alert.id, won[0], now, command)
                if len(won) == 1
                else render_alert_summary(alert.id, won, now, command)
            )
            posted = await self._poster.post(alert.channel_id, message)
        except BaseException:
            await self._release(alert, won)
            raise
        if isinstance(posted, Posted):
            for f in won:
                key = f.event.key(alert.id)
                await self._store.mark_done(key, self._keep_s)
                self._done.add(key)
            return len(won)
        await self._release(alert, won)
        if isinstance(posted, ChannelUnavailable):
            log.warning(
                "alert %s paused: Slack answered %s for channel %s",
                alert.id,
                posted.reason,
                alert.channel_id,
            )
            await self._records.set_paused(alert.id, posted.reason)
        else:
            log.warning(
                "alert %s: posting to %s failed (%s); the next round tries again",
                alert.id,
                alert.channel_id,
                posted.error,
            )
        return None

    async def _release(self, alert: Alert, won: list[Fired]) -> None:
        for f in won:
            await self._store.release(f.event.key(alert.id), self.owner)
