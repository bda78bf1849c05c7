"""The watch job: rounds over every stored watch, a look at each one that is due (under its lease,
so two replicas never look at one watch at once), and a wait until the next is due.

Each watch paces itself (bot.domain.watches.WatchLimits: 10 s after a change, growing ×1.5 to
5 min while nothing moves), and its next look is in the record, so every replica and a
restarted process agree on it. A round also comes at least every `poll_s`, so that watches
another replica started, and ends it left half done, are taken up soon.

One watch's failure (a store write, a bug) never stops the round: it is logged once, and that
watch waits with backoff of its own, kept here, while the others go on. DMS failures are not
failures of the job: the look shows them in the message ("could not check: …") and backs off.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.domain.watches import Watch, next_wait
from bot.watches import WatchService

log = logging.getLogger(__name__)

LOOKS_AT_ONCE = 10  # looks in flight at once: 200 due watches must not burst the gateway
MIN_WAIT_S = 0.5  # between rounds, whatever is due


@dataclass
class _Trouble:
    failures: int
    retry_at: datetime


class WatchRunner:
    def __init__(
        self,
        watches: WatchService,
        *,
        poll_s: float = 15.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if not poll_s > 0:
            raise ValueError(f"poll_s must be positive, got {poll_s!r}")
        self._watches = watches
        self._poll_s = poll_s
        self._sleep = sleep
        self._limit = asyncio.Semaphore(LOOKS_AT_ONCE)
        # Watches whose look raised, or whose end Slack keeps refusing: backed off here.
        self._trouble: dict[str, _Trouble] = {}

    async def run(self) -> None:
        """The job body: rounds for ever (the runtime cancels it on shutdown)."""
        while True:
            # A store that cannot list the watches raises: the job registry logs it and
            # restarts the job with backoff, as for digests.
            wait = await self.round()
            await self._sleep(max(wait, MIN_WAIT_S))

    async def round(self) -> float:
        """One look at every due watch; how long until the next is due."""
        now = self._watches.now()
        stored = await self._watches.store.all()
        due = [w for w in stored if w.due(now) and self._may_try(w, now)]
        left = await asyncio.gather(*(self._guarded(w) for w in due))
        seen = {w.id for w in stored}
        self._trouble = {k: v for k, v in self._trouble.items() if k in seen}
        after = {w.id: w for w in stored}
        for watch, result in zip(due, left, strict=True):
            if result is None:
                after.pop(watch.id, None)
            else:
                after[watch.id] = result
        wait = next_wait(list(after.values()), self._watches.now(), self._poll_s)
        for trouble in self._trouble.values():
            wait = min(wait, max(0.0, (trouble.retry_at - self._watches.now()).total_seconds()))
        return wait

    def _may_try(self, watch: Watch, now: datetime) -> bool:
        trouble = self._trouble.get(watch.id)
        return trouble is None or trouble.retry_at <= now

    async def _guarded(self, watch: Watch) -> Watch | None:
        async with self._limit:
            try:
                result = await self._watches.look(watch)
            except Exception:
                self._troubled(watch, "its look failed", exc_info=True)
                return watch
        if result is not None and result.ending is not None:
            # Ended, but Slack refused the final edit or the reply: not every round.
            self._troubled(result, "Slack refused its final edit or reply")
        else:
            self._trouble.pop(watch.id, None)
        return result

    def _troubled(self, watch: Watch, what: str, *, exc_info: bool = False) -> None:
        limits = self._watches.limits
        trouble = self._trouble.get(watch.id)
        failures = 1 if trouble is None else trouble.failures + 1
        wait = min(limits.min_interval_s * limits.growth ** (failures - 1), limits.max_interval_s)
        self._trouble[watch.id] = _Trouble(failures, self._watches.now() + timedelta(seconds=wait))
        if trouble is None:
            # Logged once per streak: a watch broken every round must not flood the log.
            log.warning(
                "watch %s: %s; trying again with backoff", watch.id, what, exc_info=exc_info
            )
