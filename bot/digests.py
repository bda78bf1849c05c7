"""The digest use case: what happened to a channel's instances over a period, built from the
same cache, client and access rules as a command, and judged for the channel (no person)."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from datetime import datetime

from bot import messages
from bot.dms.errors import DmsError
from bot.domain.digests import ALL_TARGETS
from bot.domain.durations import overdue_tasks, typical_durations
from bot.domain.instances import InstanceRef
from bot.domain.query import whole_seconds
from bot.domain.tasks import TaskStatus
from bot.labels import task_label
from bot.report import DigestReport, InstanceDigest, Problem, Refusal, UnknownInstance
from bot.service import TaskService

log = logging.getLogger(__name__)

# Instances read at once for one digest: a digest of 20 instances must not burst the gateway.
CONCURRENCY = 5
BUSIEST = 3


class DigestService:
    def __init__(self, service: TaskService) -> None:
        self._service = service
        self._limit = asyncio.Semaphore(CONCURRENCY)

    async def targets(
        self, channel_id: str, targets: tuple[str, ...]
    ) -> tuple[list[InstanceRef], list[str]]:
        """The instances a digest covers, and the targets it cannot (with why)."""
        if ALL_TARGETS in targets:
            return await self._service.channel_instances(channel_id), []
        refs: list[InstanceRef] = []
        refused: list[str] = []
        for target in targets:
            resolved = await self._service.resolve_for_channel(target, channel_id)
            if isinstance(resolved, InstanceRef):
                if all(r.instance_id != resolved.instance_id for r in refs):
                    refs.append(resolved)
            elif isinstance(resolved, Refusal):
                refused.append(f"{target} (not available in this channel)")
            elif isinstance(resolved, UnknownInstance):
                refused.append(f"{target} (no such instance)")
            elif isinstance(resolved, Problem):
                refused.append(f"{target} ({resolved.summary})")
        return refs, refused

    async def build(
        self,
        channel_id: str,
        targets: tuple[str, ...],
        begin: datetime,
        end: datetime,
        *,
        quiet: bool = False,
    ) -> DigestReport:
        # Whole seconds: the API takes them, and the Open buttons carry them.
        begin, end = whole_seconds(begin), whole_seconds(end)
        refs, refused = await self.targets(channel_id, targets)
        now = self._service.now()
        parts = await asyncio.gather(*(self._instance(ref, begin, end, now) for ref in refs))
        return DigestReport(
            begin=begin,
            end=end,
            now=now,
            instances=tuple(parts),
            refused=tuple(refused),
            quiet=quiet,
        )

    async def _instance(
        self, instance: InstanceRef, begin: datetime, end: datetime, now: datetime
    ) -> InstanceDigest:
        cache = self._service.cache
        async with self._limit:
            try:
                window = (await cache.window(instance, begin, end)).value
            except DmsError as exc:
                # One instance failing never hides the others.
                log.info("digest: %s unavailable: %s", instance.display_name, exc)
                return InstanceDigest(
                    instance=instance, unavailable=messages.problem_for(exc).summary
                )
            previous_total: int | None
            try:
                previous = (await cache.window(instance, begin - (end - begin), begin)).value
                previous_total = len(previous.tasks)
            except DmsError:
                previous_total = None
            earlier, lookback = await self._service.running_before(instance, begin, now)
        tasks = window.tasks
        running = (*earlier, *(t for t in tasks if t.is_active))
        typical = typical_durations(lookback.tasks if lookback else tasks)
        names = Counter(task_label(t.name) for t in tasks)
        return InstanceDigest(
            instance=instance,
            counts=dict(Counter(t.status_upper or "UNKNOWN" for t in tasks)),
            previous_total=previous_total,
            failed=tuple(t for t in tasks if t.status_upper == TaskStatus.FAILED),
            running=running,
            started_earlier=frozenset(t.id for t in earlier),
            overdue=overdue_tasks(running, typical, now),
            busiest=tuple(names.most_common(BUSIEST)),
            shortfall=max((window.reported_total or 0) - len(tasks), 0),
        )
