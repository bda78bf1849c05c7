"""Several instances at once: `/dms-tasks all last 1h`, `/dms-tasks prod-a,prod-b since 09:00`.

One timeline merged over the instances, newest first, each task with its instance: the tasks
still running from before the window first (during an incident they are the question), then
the window's. Each instance is read through the same cache and look-back as a listing of one,
a few at a time; one whose API call fails is named as unavailable and the others still appear.
A listed target that does not exist, or that this channel (or person) may not see, is named and
shows no task data. Buttons carry `all` or the resolved list (aliases and ids), and Params the
task's instance too; every click resolves and checks every instance again.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from bot import messages
from bot.dms.cache import Cached
from bot.dms.errors import DmsAuthError, DmsError
from bot.domain.digests import ALL_TARGETS
from bot.domain.durations import overdue_tasks
from bot.domain.instances import InstanceRef
from bot.domain.query import TaskQuery
from bot.domain.tasks import Task, TaskWindow
from bot.grammar.words import SHARED_VALUES_BUDGET, QueryError, shared_values_cost
from bot.instances import Answer
from bot.listing import state_target, task_matches, usual_durations
from bot.report import (
    InstancePart,
    NotShown,
    Outcome,
    Problem,
    TimelineReport,
    TimelineRow,
    UnknownInstance,
)

if TYPE_CHECKING:
    from bot.service import Requester, TaskService

log = logging.getLogger(__name__)

# Instances read at once for one answer. Each read is a window and a look-back, and a cold one
# pages up to 10 requests in flight (bot/dms/paging.py): 8 at once keeps `all` over 50 instances
# well under the gateway's default 200 requests per second per API, while the answer still
# takes only a few round trips' time. Warm reads come from the cache and cost nothing.
MAX_CONCURRENT_READS = 8

_NO_TIME = datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True)
class _Scope:
    refs: tuple[InstanceRef, ...]  # what may be shown, in order
    carried: tuple[str, ...]  # the targets as buttons carry them: ("all",), or aliases and ids
    not_shown: tuple[NotShown, ...] = ()
    note: str = ""


@dataclass(frozen=True)
class _Read:
    instance: InstanceRef
    cached: Cached[TaskWindow] | None = None
    earlier: tuple[Task, ...] = ()
    lookback: TaskWindow | None = None
    problem: Problem | None = None


@dataclass(frozen=True)
class _Entry:
    task: Task
    part: int  # which read it came from
    earlier: bool


class Timeline:
    """The use cases of a listing over several instances, for TaskService."""

    def __init__(self, service: TaskService) -> None:
        self._service = service

    async def command(self, query: TaskQuery, requester: Requester) -> Outcome:
        scope = await self._scope(query.targets, requester, typed=True)
        filters = query.filters
        if not query.everything and (
            shared_values_cost(scope.carried, filters.name_glob, filters.user)
            > SHARED_VALUES_BUDGET
        ):
            # Names typed short can stand for instance ids of 36 characters each.
            return Problem(
                summary="Those instances are too long to carry in the answer's buttons "
                "(with name= and user=): list fewer, by their aliases, or ask about all.",
                example=self._service.instances.example(f"{ALL_TARGETS} last 1h"),
            )
        return await self._answer(scope, replace(query, targets=scope.carried), requester)

    async def page(self, query: TaskQuery, requester: Requester) -> Outcome:
        """Prev, Next, Refresh, Back, Show failed & running and Share: the same instances,
        resolved and checked again (a button's value is never trusted to widen access)."""
        scope = await self._scope(query.targets, requester, typed=False)
        return await self._answer(scope, replace(query, targets=scope.carried, on=None), requester)

    async def params(self, query: TaskQuery, task_id: str, requester: Requester) -> Outcome:
        on = query.on
        if not on or (not query.everything and on not in query.targets):
            raise QueryError("That button did not say which instance its task is on.", "help")
        resolved = await self._service.resolve_carried(on, requester)
        if not isinstance(resolved, InstanceRef):
            return resolved
        return await self._service.task_params(resolved, query, task_id, requester)

    # ---- implementation ----------------------------------------------------------------------

    async def _answer(
        self, scope: _Scope, query: TaskQuery, requester: Requester
    ) -> TimelineReport | Problem:
        if not scope.refs:
            return self._nothing_to_show(scope, query)
        now = self._service.now()
        bound = asyncio.Semaphore(MAX_CONCURRENT_READS)
        reads = await asyncio.gather(*(self._read(r, query, now, bound) for r in scope.refs))
        return self._report(scope, query, requester, reads, now)

    async def _read(
        self, instance: InstanceRef, query: TaskQuery, now: datetime, bound: asyncio.Semaphore
    ) -> _Read:
        begin, end = query.window.begin, query.window.end
        async with bound:
            try:
                cached = await self._service.cache.window(instance, begin, end)
            except DmsError as exc:
                # One instance failing never hides the others.
                log.info("timeline: %s unavailable: %s", instance.display_name, exc)
                return _Read(instance, problem=messages.problem_for(exc))
            earlier, lookback = await self._service.running_before(instance, begin, now)
        return _Read(instance, cached, earlier, lookback)

    def _report(
        self,
        scope: _Scope,
        query: TaskQuery,
        requester: Requester,
        reads: Sequence[_Read],
        now: datetime,
    ) -> TimelineReport:
        parts: list[InstancePart] = []
        earlier: list[_Entry] = []
        later: list[_Entry] = []
        counts: Counter[str] = Counter()
        for n, read in enumerate(reads):
            if read.cached is None:
                problem = read.problem or Problem(summary="It could not be read.")
                parts.append(
                    InstancePart(
                        read.instance, unavailable=problem.summary, reference=problem.reference
                    )
                )
                continue
            window = read.cached.value
            mine = Counter(t.status_upper or "UNKNOWN" for t in window.tasks)
            counts.update(mine)
            before = [_Entry(t, n, True) for t in read.earlier if task_matches(query.filters, t)]
            inside = [_Entry(t, n, False) for t in window.tasks if task_matches(query.filters, t)]
            earlier.extend(before)
            later.extend(inside)
            parts.append(
                InstancePart(
                    read.instance,
                    counts=dict(mine),
                    matched=len(before) + len(inside),
                    earlier=len(read.earlier),
                    earlier_unknown=read.lookback is None,
                    shortfall=max((window.reported_total or 0) - len(window.tasks), 0),
                )
            )
        merged = [*_newest_first(earlier), *_newest_first(later)]
        pages = max(1, math.ceil(len(merged) / query.limit))
        # Tasks can disappear between clicks (deleted records): land on the last page, not past it.
        page = min(max(query.page, 1), pages)
        shown = merged[(page - 1) * query.limit : page * query.limit]
        readable = [r.cached for r in reads if r.cached is not None]
        return TimelineReport(
            instance=None,
            query=replace(query, page=page),
            tz=requester.tz,
            now=now,
            window_counts=dict(counts),
            matched=len(merged),
            page_tasks=tuple(e.task for e in shown),
            pages=pages,
            fetched_at=min((c.fetched_at for c in readable), default=now),
            from_cache=any(c.from_cache for c in readable),
            requested_page=query.page if query.page > pages else None,
            earlier_running=tuple(t for r in reads for t in r.earlier),
            earlier_unknown=any(p.earlier_unknown for p in parts if not p.unavailable),
            everything=query.everything,
            parts=tuple(parts),
            rows=self._rows(shown, reads, now),
            not_shown=scope.not_shown,
            note=scope.note,
        )

    def _rows(
        self, shown: Sequence[_Entry], reads: Sequence[_Read], now: datetime
    ) -> tuple[TimelineRow, ...]:
        """The page's rows, each judged overdue by its own instance's usual durations."""
        overdue = {}
        for n in sorted({e.part for e in shown}):
            read = reads[n]
            if read.cached is None:
                continue
            tasks = [e.task for e in shown if e.part == n]
            typical = usual_durations(
                read.cached.value, read.lookback, tasks, self._service.expected
            )
            overdue[n] = overdue_tasks(tasks, typical, now)
        rows = []
        for entry in shown:
            instance = reads[entry.part].instance
            flagged = overdue.get(entry.part, {})
            rows.append(
                TimelineRow(
                    instance=instance,
                    carried=state_target(instance),
                    task=entry.task,
                    started_earlier=entry.earlier,
                    overdue=entry.task.id in flagged,
                    usual=flagged.get(entry.task.id),
                )
            )
        return tuple(rows)

    async def _scope(
        self, targets: tuple[str, ...], requester: Requester, *, typed: bool
    ) -> _Scope:
        """The instances the targets stand for. Typed ones are resolved as a command resolves
        its target (names, with "did you mean"); carried ones (a click) only as aliases and
        ids. Either way each is checked against the access rules here and now."""
        instances, access = self._service.instances, self._service.access
        channel, user = requester.channel_id, requester.user_id or None
        if targets == (ALL_TARGETS,):
            refs, note = await instances.every(channel, user)
            return _Scope(tuple(refs), (ALL_TARGETS,), note=note)
        refs: list[InstanceRef] = []
        carried: list[str] = []
        not_shown: list[NotShown] = []
        seen: set[tuple[str, str]] = set()
        for target in targets:
            try:
                resolved = await instances.resolve(target, channel, user, exact_only=not typed)
            except Answer as answer:
                outcome = answer.outcome
                reason = outcome.summary if isinstance(outcome, Problem) else "unknown"
                not_shown.append(NotShown(target, reason))
                continue
            except DmsAuthError:
                raise
            except DmsError as exc:
                summary = messages.problem_for(exc).summary
                not_shown.append(NotShown(target, f"could not be looked up: {summary}"))
                continue
            if isinstance(resolved, UnknownInstance):
                not_shown.append(NotShown(target, _unknown_words(resolved)))
                continue
            key = (resolved.instance_id.lower(), resolved.project_id)
            if key in seen:
                continue
            seen.add(key)
            carried.append(state_target(resolved))
            if access.allows(resolved, channel, user):
                refs.append(resolved)
            elif channel in access.channels_for(resolved):
                not_shown.append(NotShown(target, "limited to certain people"))
            else:
                not_shown.append(NotShown(target, "not available in this channel"))
        return _Scope(tuple(refs), tuple(carried), tuple(not_shown))

    def _nothing_to_show(self, scope: _Scope, query: TaskQuery) -> Problem:
        example = self._service.instances.example
        if query.everything:
            return Problem(
                summary="No Kafka instance is available in this channel."
                + (f" I could not list the project's instances: {scope.note}" * bool(scope.note)),
                hint="Ask an admin to add this channel to an instance's `channels` in the bot's "
                "config, or use the command in a channel that has one.",
                example=example("help"),
            )
        named = "; ".join(f"{n.label} ({n.reason})" for n in scope.not_shown[:10])
        more = len(scope.not_shown) - 10
        return Problem(
            summary=f"None of those instances can be shown here: {named}"
            + (f"; and {more} more" if more > 0 else "")
            + ".",
            example=example("help"),
        )


def _newest_first(entries: list[_Entry]) -> list[_Entry]:
    # Stable: tasks that started at the same moment keep their instance's order and the API's.
    return sorted(entries, key=lambda e: e.task.created_at or _NO_TIME, reverse=True)


def _unknown_words(unknown: UnknownInstance) -> str:
    if not unknown.suggestions:
        return "no such instance"
    return "no such instance; did you mean " + " or ".join(unknown.suggestions[:2]) + "?"
