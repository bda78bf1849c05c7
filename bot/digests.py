"""The digest use case: what happened to a channel's instances over a period, built from the
same cache, client and access rules as a command, and judged for the channel (no person)."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from dataclasses import replace
from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING

from bot import messages
from bot.dms.errors import DmsError
from bot.domain.digests import ALL_TARGETS, Subscription
from bot.domain.durations import overdue_tasks, typical_durations
from bot.domain.instances import InstanceRef
from bot.domain.query import whole_seconds
from bot.domain.schedule import next_due
from bot.domain.tasks import TaskStatus
from bot.grammar.digest_commands import (
    DigestAdd,
    DigestList,
    DigestPreview,
    DigestRemove,
    parse_digest_command,
)
from bot.grammar.words import QueryError
from bot.labels import task_label
from bot.listing import judged_durations
from bot.poster import ChannelUnavailable
from bot.render.digest_admin import render_digest_announcement
from bot.report import (
    DigestAdded,
    DigestListing,
    DigestPreviewView,
    DigestRemoved,
    DigestReport,
    DigestScheduled,
    InstanceDigest,
    Outcome,
    Problem,
    Refusal,
    UnknownInstance,
)
from bot.service import Announce, Requester, TaskService
from bot.store.base import IdTaken

if TYPE_CHECKING:
    from bot.store import Store

log = logging.getLogger(__name__)

# Instances read at once for one digest: a digest of 20 instances must not burst the gateway.
CONCURRENCY = 5
BUSIEST = 3


DEFAULT_AT = time(9, 0)
PREVIEW_PERIOD = timedelta(hours=24)
NOTICE_KEEP_S = 30 * 86400.0


class DigestService:
    def __init__(self, service: TaskService, store: Store | None = None) -> None:
        self._service = service
        self._store = store
        self._limit = asyncio.Semaphore(CONCURRENCY)

    def attach(self, store: Store) -> None:
        """The store, opened by the runtime at start-up (after listeners were given this)."""
        self._store = store

    @property
    def store(self) -> Store:
        if self._store is None:
            raise RuntimeError("digests need a store")
        return self._store

    # ---- `digest …` --------------------------------------------------------------------------

    async def command(
        self, text: str, requester: Requester, announce: Announce | None = None
    ) -> Outcome:
        command = self._service.settings.command
        try:
            parsed = parse_digest_command(text)
        except QueryError as exc:
            return Problem(summary=exc.message, example=f"{command} {exc.example}")
        match parsed:
            case DigestList():
                return await self._list(requester.channel_id)
            case DigestPreview():
                end = self._service.now()
                report = await self.build(
                    requester.channel_id, parsed.targets, end - PREVIEW_PERIOD, end
                )
                return DigestPreviewView(report)
            case DigestRemove():
                return await self._remove(parsed.id, requester)
            case DigestAdd():
                return await self._add(parsed, requester, announce)
        raise AssertionError(parsed)

    def _may_manage(self, requester: Requester) -> Problem | None:
        if self._service.may_manage(requester.user_id):
            return None
        return Problem(
            summary="Only certain people may add or remove digests here.",
            hint="Ask one of the bot's admins; digest list and preview work for everyone.",
        )

    async def _add(
        self, add: DigestAdd, requester: Requester, announce: Announce | None
    ) -> Outcome:
        command = self._service.settings.command
        if refused := self._may_manage(requester):
            return refused
        refs, refused_targets = await self.targets(requester.channel_id, add.targets)
        if refused_targets or not refs:
            allowed = ",".join(r.alias or r.instance_id for r in refs) or "all"
            return Problem(
                summary="This channel cannot have a digest of "
                + (", ".join(refused_targets) if refused_targets else "no instance at all")
                + ".",
                example=f"{command} digest add {allowed} at {(add.at or DEFAULT_AT):%H:%M}",
            )
        now = self._service.now()
        sub = Subscription(
            id=await self.store.new_id(),
            channel_id=requester.channel_id,
            targets=add.targets,
            at=add.at or DEFAULT_AT,
            tz=add.tz or requester.tz.key,
            days=add.days,
            quiet=add.quiet,
            created_by=requester.user_id,
            created_at=now,
        )
        scheduled = DigestScheduled(sub, next_due(sub, now), tuple(r.display_name for r in refs))
        if announce is not None:
            posted = await announce(
                requester.channel_id, render_digest_announcement(scheduled, requester.user_id)
            )
            if isinstance(posted, ChannelUnavailable):
                return Problem(
                    summary=f"I cannot post in this channel ({posted.reason}), so a digest here "
                    "would never arrive.",
                    hint="Invite the bot first (/invite @dms-tasks-bot; a DM with someone else "
                    "cannot have one), then add the digest again.",
                )
        for _ in range(5):
            try:
                await self.store.add(sub)
                break
            except IdTaken:
                # Two replicas drew the same id at once: draw again.
                sub = replace(sub, id=await self.store.new_id())
        else:
            return Problem(
                summary="The digest could not be saved: the store kept refusing new ids.",
                hint="Try again in a minute; if it goes on, the bot's admins should check the "
                "store (DMS_BOT_DB or REDIS_URL).",
            )
        scheduled = replace(scheduled, subscription=sub)
        return DigestAdded(command, scheduled)

    async def _list(self, channel_id: str) -> DigestListing:
        now = self._service.now()
        subs = await self.store.for_channel(channel_id)
        everything: tuple[str, ...] | None = None
        scheduled = []
        for sub in subs:
            covers: tuple[str, ...] = ()
            if ALL_TARGETS in sub.targets:
                if everything is None:
                    everything = tuple(
                        r.display_name for r in await self._service.channel_instances(channel_id)
                    )
                covers = everything
            nxt = None if sub.paused else next_due(sub, now)
            scheduled.append(DigestScheduled(sub, nxt, covers))
        return DigestListing(self._service.settings.command, channel_id, tuple(scheduled))

    async def _remove(self, digest_id: str, requester: Requester) -> Outcome:
        command = self._service.settings.command
        sub = await self.store.get(digest_id)
        if sub is None or sub.channel_id != requester.channel_id:
            # A digest of another channel is not this channel's to see or remove.
            return Problem(
                summary=f"This channel has no digest {digest_id}.",
                example=f"{command} digest list",
            )
        if refused := self._may_manage(requester):
            return refused
        await self.store.remove(digest_id)
        return DigestRemoved(sub)

    async def notices_for(self, user_id: str) -> list[str]:
        """Digests this person added that were paused since they last heard of it; each is
        told once (a done marker in the store, shared by every replica)."""
        if self._store is None or not user_id:
            return []
        notices = []
        for sub in await self.store.all():
            if sub.created_by != user_id or sub.paused is None:
                continue
            key = f"digest-paused-notice:{sub.id}"
            if await self.store.completed(key):
                continue
            await self.store.mark_done(key, NOTICE_KEEP_S)
            notices.append(
                f"Your digest {sub.id} (channel {sub.channel_id}) is paused: Slack answered "
                f"{sub.paused} when it was due. Invite the bot to that channel, then add the "
                "digest again (and remove the old one)."
            )
        return notices

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
            silent=quiet and self._service.settings.load_config().digests.quiet_posts == "nothing",
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
        typical = judged_durations(
            typical_durations(lookback.tasks if lookback else tasks),
            self._service.expected,
            running,
        )
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
