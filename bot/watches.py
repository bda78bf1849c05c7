"""The watch use cases: Watch (start following a task), Stop watching, and one look at a watch,
which the watch job (bot/watch_runner.py) runs for every watch that is due.

A watch posts a message it owns and edits it (chat.update) as the task moves on; when the task
ends, the message shows the end and one reply in its thread mentions whoever asked.

Exactly once, across replicas and restarts (claims as in bot/store/base.py):
- the id is the same for one person and task everywhere (bot.domain.watches.watch_id), so the
  store's insert decides that a task is watched once per person, double clicks included;
- every look, edit and end of a watch runs under its lease, `watch:<id>:poll`, a claim with a
  short expiry: one replica at a time, and a dead one's lease lapses;
- an end is first written into the record (`ending`), then the message is edited, then the
  reply is posted under its own claim and done marker, then the record goes. A restart at any
  point resumes from the record: the edit is idempotent, the reply's marker keeps it single;
- Stop leaves a done marker (no record write can overwrite it) and ends the watch at once if
  it gets the lease; otherwise whoever holds the lease sees the marker as its look ends.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, Protocol

from bot import messages
from bot.dms.errors import DmsError, DmsNotFoundError
from bot.dms.models import TaskProgress
from bot.domain.instances import InstanceRef
from bot.domain.tasks import Task
from bot.domain.watches import (
    ANNOUNCED,
    AlreadyFinished,
    AlreadyWatched,
    Ending,
    EndReason,
    NotWatching,
    Progress,
    Stopping,
    StopRefused,
    StopValue,
    TooManyWatches,
    Watch,
    WatchLimits,
    WatchOutcome,
    WatchStarted,
    WatchValue,
    ended,
    task_duration,
    wants_progress,
    watch_id,
)
from bot.instances import Answer
from bot.poster import (
    ChannelUnavailable,
    MessageGone,
    Posted,
    PostOutcome,
    Updated,
    UpdateOutcome,
)
from bot.render.watch import render_watch, render_watch_reply
from bot.report import Outcome, Problem, Refusal
from bot.service import Requester, TaskService

log = logging.getLogger(__name__)

# A look takes two DMS reads (each within DMS_RETRY_BUDGET) and an edit; a lease that lapses
# mid-look costs at most a second edit, never a second reply (that has its own claim).
LEASE_TTL_S = 120.0
# Longer than a post can wait (the poster waits out at most 3 Retry-Afters of 120 s).
REPLY_CLAIM_TTL_S = 600.0
REPLY_KEEP_S = 3 * 86400.0
# A record inserted by a Watch click whose process died before posting its message.
UNPOSTED_GRACE = timedelta(minutes=5)
# An end whose edit Slack keeps refusing is given up after this, rather than tried for ever.
FINISH_GIVE_UP = timedelta(hours=1)

StartOutcome = WatchOutcome | Outcome
ProgressReader = Callable[[InstanceRef, str], Awaitable[TaskProgress | None]]


class WatchStore(Protocol):
    """Where watches live, shared by every replica: records of kind "watch" (bodies are
    `Watch.to_json()`) and the store's claims. Every operation may raise when the backend
    fails; the job logs it and tries again."""

    async def add(self, watch: Watch) -> bool:
        """Insert; False, storing nothing, if a watch with its id is stored already."""
        ...

    async def get(self, watch_id: str) -> Watch | None: ...

    async def all(self) -> list[Watch]:
        """Every watch, oldest first."""
        ...

    async def update(self, watch: Watch) -> bool:
        """Replace a stored watch; False, storing nothing, if it is gone."""
        ...

    async def remove(self, watch_id: str) -> bool: ...

    async def claim(self, key: str, owner: str, ttl_s: float) -> bool: ...

    async def release(self, key: str, owner: str) -> None: ...

    async def completed(self, key: str) -> bool: ...

    async def mark_done(self, key: str, keep_s: float) -> None: ...


class WatchPoster(Protocol):
    """What watches ask of bot.poster.SlackPoster."""

    async def post(self, channel: str, message: dict[str, Any], **extra: Any) -> PostOutcome: ...

    async def update(self, channel: str, ts: str, message: dict[str, Any]) -> UpdateOutcome: ...

    async def permalink(self, channel: str, ts: str) -> str | None: ...


def _progress(progress: TaskProgress | None) -> Progress | None:
    if progress is None:
        return None
    step = progress.current_step
    return Progress(progress.percentage, progress.remain_s, step.name if step else None)


def visible(watch: Watch) -> tuple[Any, ...]:
    """What a reader of the live message would see change: an edit is made only when it did.
    (The elapsed time counts in whole minutes, as it is written.)"""
    task = watch.task
    spent = task_duration(task, watch.checked_at or watch.started_at) if task else None
    minutes = int(spent.total_seconds() // 60) if spent is not None else None
    # A failed look says when it tries again: that changes with the backoff.
    retry = watch.interval_s if watch.error else None
    return (task.status_upper if task else None, watch.progress, watch.error, retry, minutes)


class WatchService:
    def __init__(
        self,
        service: TaskService,
        poster: WatchPoster,
        store: WatchStore | None = None,
        *,
        progress: ProgressReader | None = None,
        limits: WatchLimits | None = None,
        owner: str | None = None,
    ) -> None:
        self._service = service
        self._poster = poster
        self._store = store
        self._read_progress = progress
        self.limits = limits or WatchLimits()
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"

    def attach(self, store: WatchStore) -> None:
        """The store, opened by the runtime at start-up (after listeners were given this)."""
        self._store = store

    @property
    def store(self) -> WatchStore:
        if self._store is None:
            raise RuntimeError("watches need a store")
        return self._store

    @property
    def ready(self) -> bool:
        return self._store is not None

    def now(self) -> datetime:
        return self._service.now()

    # ---- Watch -------------------------------------------------------------------------------

    async def start(
        self, value: WatchValue, requester: Requester, *, thread_ts: str | None = None
    ) -> StartOutcome:
        """A Watch click: re-check the target for the clicker, then post the watch's message
        where they clicked (in the thread, when the click came from one), or in their DM when
        the bot cannot post there or the instance is limited to certain people."""
        resolved = await self._resolve(value.target, requester)
        if not isinstance(resolved, InstanceRef):
            return resolved
        store = self.store
        wid = watch_id(requester.user_id, resolved, value.task_id)
        existing = await store.get(wid)
        if existing is not None:
            return await self._already(existing)
        # Counted from what is stored: two clicks at the same instant on two replicas can pass
        # the bound by one, which is harmless; a bound that never holds is not.
        watches = await store.all()
        mine = tuple(w for w in watches if w.user_id == requester.user_id and w.ending is None)
        if len(mine) >= self.limits.per_user:
            return TooManyWatches(self.limits.per_user, True, mine)
        if len(watches) >= self.limits.overall:
            return TooManyWatches(self.limits.overall, False)
        try:
            task = (await self._service.cache.task(resolved, value.task_id)).value
        except DmsNotFoundError:
            return Problem(
                summary=f"I can't find that task on {resolved.display_name}: it may have been "
                "deleted.",
                hint="Refresh the listing to see what runs now.",
            )
        except DmsError as exc:
            return messages.problem_for(exc)
        now = self.now()
        if ended(task):
            return AlreadyFinished(resolved, task, now)
        watch = Watch(
            id=wid,
            user_id=requester.user_id,
            asked_in=requester.channel_id,
            target=value.target,
            instance=resolved,
            task_id=value.task_id,
            started_at=now.replace(microsecond=0),
        ).seen(task, await self._progress_of(resolved, task, None), now, self.limits)
        if not await store.add(watch):
            # A double click, or the same person on another replica, a moment ago.
            found = await store.get(wid)
            return await self._already(found or watch)
        try:
            return await self._post_first(watch, requester, thread_ts)
        except BaseException:
            await store.remove(wid)
            raise

    async def _post_first(
        self, watch: Watch, requester: Requester, thread_ts: str | None
    ) -> StartOutcome:
        message = render_watch(watch, self.now(), self.limits)
        # Everyone in the conversation reads the message: the whole channel must be allowed.
        public = self._service.access.allows(watch.instance, requester.channel_id)
        dm_reason: str | None = None if public else "restricted"
        posted: PostOutcome | None = None
        if public:
            extra = {"thread_ts": thread_ts} if thread_ts else {}
            posted = await self._poster.post(requester.channel_id, message, **extra)
            if isinstance(posted, ChannelUnavailable):
                dm_reason = "not_in_channel"
        if dm_reason is not None:
            # chat.postMessage with a user id opens the app's DM with them.
            posted = await self._poster.post(requester.user_id, message)
        if not isinstance(posted, Posted):
            assert posted is not None
            await self.store.remove(watch.id)
            error = posted.reason if isinstance(posted, ChannelUnavailable) else posted.error
            return Problem(
                summary="I could not post the watch's message, so nothing is watched.",
                hint="Invite the bot to this channel (/invite @dms-tasks-bot), or try again in "
                "a moment.",
                reference=f"Slack error {error}" if error else None,
            )
        watch = replace(
            watch,
            channel_id=posted.channel,
            message_ts=posted.ts,
            thread_ts=None if dm_reason else thread_ts,
            in_dm=dm_reason is not None,
        )
        await self.store.update(watch)
        return WatchStarted(watch, dm_reason)

    async def _already(self, watch: Watch) -> AlreadyWatched:
        link = None
        if watch.posted:
            link = await self._poster.permalink(watch.channel_id, watch.message_ts)
        return AlreadyWatched(watch, link)

    async def _resolve(self, target: str, requester: Requester) -> InstanceRef | Outcome:
        # Button values come back from the client: resolve exactly and judge access for this
        # person in this conversation, as every button click is judged (TaskService).
        service = self._service
        try:
            resolved = await service.instances.resolve(
                target, requester.channel_id, requester.user_id or None, exact_only=True
            )
        except Answer as answer:
            return answer.outcome
        except DmsError as exc:
            return messages.problem_for(exc)
        if not isinstance(resolved, InstanceRef):
            return resolved
        if not service.access.allows(resolved, requester.channel_id, requester.user_id or None):
            channels = service.access.channels_for(resolved)
            return Refusal(
                resolved.display_name, channels, people_only=requester.channel_id in channels
            )
        return resolved

    # ---- Stop watching -----------------------------------------------------------------------

    async def stop(self, value: StopValue, requester: Requester) -> WatchOutcome | None:
        """A Stop watching click: None when the message now says it stopped."""
        watch = await self.store.get(value.watch_id)
        if watch is None or watch.generation != value.generation or watch.ending is not None:
            return NotWatching()
        if requester.user_id != watch.user_id:
            return StopRefused(watch)
        await self.store.mark_done(watch.stop_key, self.limits.lifetime.total_seconds() + 86400)
        won, _ = await self._leased(watch)
        return None if won else Stopping(watch)

    # ---- a look ------------------------------------------------------------------------------

    async def look(self, watch: Watch) -> Watch | None:
        """One look at a due watch, under its lease: the watch as it was left (its next look
        is `next_check_at`), or None when it has ended or another replica is at it. Raises
        what the store raises."""
        won, after = await self._leased(watch)
        if not won or after is None or after.ending is not None:
            return after if won else None
        # A Stop pressed while the lease was held could not end it: it is ended now.
        if await self.store.completed(after.stop_key):
            won, after = await self._leased(after)
        return after if won else None

    async def _leased(self, watch: Watch) -> tuple[bool, Watch | None]:
        store = self.store
        if not await store.claim(watch.lease_key, self.owner, LEASE_TTL_S):
            return False, None
        try:
            return True, await self._look(watch.id)
        finally:
            await store.release(watch.lease_key, self.owner)

    async def _look(self, wid: str) -> Watch | None:
        store, now = self.store, self.now()
        watch = await store.get(wid)  # as stored now, not as the round read it
        if watch is None:
            return None
        if watch.ending is not None:
            return await self._finish(watch)
        if not watch.posted:
            if now - watch.started_at > UNPOSTED_GRACE:
                await store.remove(wid)  # its Watch click died before posting
                return None
            return watch
        if await store.completed(watch.stop_key):
            return await self._end(watch, Ending(EndReason.STOPPED, now, watch.user_id))
        if now >= watch.expires_at(self.limits):
            return await self._end(watch, Ending(EndReason.EXPIRED, now))
        if not self._allowed(watch):
            return await self._end(watch, Ending(EndReason.NO_ACCESS, now))
        try:
            task = (await self._service.cache.task(watch.instance, watch.task_id)).value
        except DmsNotFoundError:
            return await self._end(watch, Ending(EndReason.GONE, now))
        except DmsError as exc:
            log.info("watch %s: could not check task %s: %s", wid, watch.task_id, exc)
            return await self._save(watch, watch.failed(_words(exc), now, self.limits))
        progress = await self._progress_of(watch.instance, task, watch.progress)
        fresh = watch.seen(task, progress, self.now(), self.limits)
        if ended(task):
            return await self._end(fresh, Ending(EndReason.FINISHED, self.now()))
        if await store.completed(watch.stop_key):
            return await self._end(fresh, Ending(EndReason.STOPPED, self.now(), watch.user_id))
        return await self._save(watch, fresh)

    def _allowed(self, watch: Watch) -> bool:
        # The access rules are read at start-up: a restart with new rules judges again.
        access = self._service.access
        if not access.allows(watch.instance, watch.asked_in, watch.user_id or None):
            return False
        return watch.in_dm or access.allows(watch.instance, watch.asked_in)

    async def _progress_of(
        self, instance: InstanceRef, task: Task, before: Progress | None
    ) -> Progress | None:
        if self._read_progress is None or not wants_progress(task):
            return None
        try:
            return _progress(await self._read_progress(instance, task.id))
        except DmsError as exc:
            # The status is what a watch is for: a progress call that fails keeps what it had.
            log.info("no progress for task %s: %s", task.id, exc)
            return before

    async def _save(self, before: Watch, fresh: Watch) -> Watch | None:
        if not await self.store.update(fresh):
            return None  # removed meanwhile
        if visible(before) == visible(fresh):
            return fresh
        edited = await self._poster.update(
            fresh.channel_id, fresh.message_ts, render_watch(fresh, self.now(), self.limits)
        )
        if isinstance(edited, MessageGone):
            # Someone deleted the message: nobody wants to read about this task any more.
            return await self._end(fresh, Ending(EndReason.MESSAGE_GONE, self.now()))
        if not _edited(edited):
            log.warning("watch %s: its message could not be edited (%s)", fresh.id, edited)
        return fresh

    async def _end(self, watch: Watch, ending: Ending) -> Watch | None:
        watch = replace(watch, ending=ending)
        if not await self.store.update(watch):
            return None
        log.info("watch %s ended: %s", watch.id, ending.reason)
        return await self._finish(watch)

    async def _finish(self, watch: Watch) -> Watch | None:
        """The final edit, the reply, then the record goes; the watch (still ending) when
        Slack failed and a later look must try again."""
        assert watch.ending is not None
        now = self.now()
        edit_ok, message_gone = True, watch.ending.reason is EndReason.MESSAGE_GONE
        if not message_gone:
            edited = await self._poster.update(
                watch.channel_id, watch.message_ts, render_watch(watch, now, self.limits)
            )
            message_gone = isinstance(edited, MessageGone)
            # A channel the bot was removed from takes no edit now or later; the reply may
            # still reach the asker's DM.
            edit_ok = _edited(edited) or isinstance(edited, MessageGone | ChannelUnavailable)
        replied = True
        if watch.ending.reason in ANNOUNCED and not message_gone:
            replied = await self._reply(watch, now)
        if (edit_ok and replied) or now - watch.ending.at > FINISH_GIVE_UP:
            if not (edit_ok and replied):
                log.warning("watch %s: gave up on its final edit or reply", watch.id)
            await self.store.remove(watch.id)
            return None
        return watch

    async def _reply(self, watch: Watch, now: datetime) -> bool:
        """The end's reply in the thread, once; True when it is done (here or elsewhere)."""
        store, key = self.store, watch.reply_key
        if await store.completed(key):
            return True
        if not await store.claim(key, self.owner, REPLY_CLAIM_TTL_S):
            return False  # another replica is replying: it is done once its marker is there
        try:
            message = render_watch_reply(watch, now, self.limits)
            posted = await self._poster.post(
                watch.channel_id, message, thread_ts=watch.reply_thread
            )
            if isinstance(posted, ChannelUnavailable) and not watch.in_dm:
                posted = await self._poster.post(watch.user_id, message)
        except BaseException:
            await store.release(key, self.owner)
            raise
        if isinstance(posted, Posted):
            await store.mark_done(key, REPLY_KEEP_S)
            return True
        await store.release(key, self.owner)
        if isinstance(posted, ChannelUnavailable):
            log.warning("watch %s: nowhere to reply (%s)", watch.id, posted.reason)
            return True
        log.warning("watch %s: its reply failed (%s); trying again", watch.id, posted.error)
        return False


def _edited(outcome: UpdateOutcome) -> bool:
    return isinstance(outcome, Updated)


def _words(exc: DmsError) -> str:
    problem = messages.problem_for(exc)
    return problem.summary + (f" ({problem.reference})" if problem.reference else "")
