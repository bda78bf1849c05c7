"""The use cases every front door shares: slash command, buttons, terminal (`try`, `demo`) and,
later, digests and alerts. Input is text or a button value plus who is asking; output is one of the
plain results in bot.report, which bot.render turns into a message."""

from __future__ import annotations

import logging
import math
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, TypeVar
from zoneinfo import ZoneInfo

from bot import messages
from bot.channel_defaults import ChannelDefaults, ChannelDefaultView
from bot.dms.cache import TaskCache
from bot.dms.errors import DmsError
from bot.domain.durations import ExpectedDurations, overdue_tasks
from bot.domain.instances import InstanceRef
from bot.domain.query import TaskQuery, refreshed
from bot.domain.tasks import Task, TaskWindow
from bot.grammar.alert_commands import is_alert_command
from bot.grammar.default_command import is_default_command
from bot.grammar.digest_commands import is_digest_command
from bot.grammar.parser import parse_command
from bot.grammar.state import ButtonState
from bot.grammar.words import HelpRequest, QueryError
from bot.ids import ActionId
from bot.instances import Answer, Instances
from bot.listing import state_target, task_matches, usual_durations
from bot.report import (
    HelpView,
    Outcome,
    ParamsView,
    Problem,
    Refusal,
    TaskReport,
    UnknownInstance,
    WhichInstance,
)
from bot.settings import Settings
from bot.timeline import Timeline

log = logging.getLogger(__name__)
_T = TypeVar("_T")


# Posts a message in a channel as the bot (the poster's `post`): how `digest add` learns at once
# whether the bot can post there, and tells the channel a digest was added.
Announce = Callable[[str, dict[str, Any]], Awaitable[Any]]


class DigestCommands(Protocol):
    async def command(
        self, text: str, requester: Requester, announce: Announce | None
    ) -> Outcome: ...


@dataclass(frozen=True)
class Requester:
    """Who is asking, and from where: access rules and time zones depend on it."""

    channel_id: str
    user_id: str
    tz: ZoneInfo


class TaskService:
    def __init__(
        self,
        settings: Settings,
        cache: TaskCache,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._settings = settings
        self._cache = cache
        # An instance's synced view starts early enough to hold every look-back for running
        # tasks (day-aligned, running_lookback_days before the window's day), so the window and
        # its look-back are one read, not two overlapping ones.
        cache.set_view_floor(settings.running_lookback_days + 1)
        self._clock = clock
        self._config = settings.load_config()
        self._expected = self._config.expected_durations
        self.instances = Instances(settings, cache)
        self.access = self.instances.access
        self._utc = ZoneInfo("UTC")
        # The digest and alert use cases, when the runtime has a store for them.
        self.digests: DigestCommands | None = None
        self.alerts: DigestCommands | None = None
        # `all` and lists of instances: one timeline merged over them.
        self.timeline = Timeline(self)
        # What a command without an instance means in a channel: set in Slack (once the
        # runtime attaches the store) or in the config file.
        self.channel_defaults = ChannelDefaults(self)

    # ---- use cases ---------------------------------------------------------------------------

    async def command(
        self, text: str, requester: Requester, announce: Announce | None = None
    ) -> Outcome | ChannelDefaultView:
        """`/dms-tasks <text>`. `announce` posts in the channel as the bot (for `digest add`)."""
        return await self._guarded(self._command(text, requester, announce))

    async def press(self, action: ActionId, state: ButtonState, requester: Requester) -> Outcome:
        """Any button of ours: what it shows next. Params shows one task's params; Share shows
        what its message showed; the others show the listing the button's state describes."""
        return await self._guarded(self._press(action, state, requester))

    # ---- implementation ----------------------------------------------------------------------

    async def _guarded(self, use_case: Awaitable[_T]) -> _T | Outcome:
        try:
            return await use_case
        except QueryError as exc:
            return Problem(summary=exc.message, example=self._example(exc.example))
        except Answer as answer:
            return answer.outcome
        except DmsError as exc:
            return messages.problem_for(exc)
        except Exception:
            # Never a stack trace in Slack and never silence: log it with an id the user can quote.
            error_id = uuid.uuid4().hex[:8]
            log.exception("unexpected error %s", error_id)
            return Problem(
                summary="Something went wrong inside the bot.",
                hint="Try again in a moment; if it keeps happening, tell the bot's admins.",
                reference=f"error id {error_id}",
            )

    async def _command(
        self, text: str, requester: Requester, announce: Announce | None = None
    ) -> Outcome | ChannelDefaultView:
        # People paste whole commands from help or a runbook into the command's text.
        stripped = text.strip()
        command = self._settings.command.lower()
        if stripped.lower().startswith(command + " ") or stripped.lower() == command:
            text = stripped[len(command) :]
        if is_digest_command(text):
            if self.digests is None:
                # Without this, "digest add …" would read as an instance called "digest".
                return Problem(
                    summary="Scheduled digests are managed in Slack, in the channel that gets "
                    "them.",
                    hint="From a terminal, operators use `dms-tasks-bot digest list` and "
                    "`dms-tasks-bot digest send <target> --channel <id>`.",
                    example=self._example("help"),
                )
            return await self.digests.command(text, requester, announce)
        if is_alert_command(text):
            if self.alerts is None:
                # Without this, "alert add …" would read as an instance called "alert".
                return Problem(
                    summary="Alerts are managed in Slack, in the channel that gets them.",
                    example=self._example("help"),
                )
            return await self.alerts.command(text, requester, announce)
        if is_default_command(text):
            return await self.channel_defaults.command(text, requester)
        parsed = parse_command(text, now=self._clock(), tz=requester.tz)
        if isinstance(parsed, HelpRequest):
            return await self._help(requester)
        parsed = self._with_me(parsed, requester)
        if parsed.several:
            return await self.timeline.command(parsed, requester)
        target, default = parsed.target, None
        if target is None:
            default = await self.channel_defaults.current(requester.channel_id)
            if default is not None and default.several:
                # `all` or a list as the channel's default: the timeline answers, as if typed.
                return await self.timeline.command(
                    replace(parsed, targets=default.targets), requester
                )
            target = default.text if default else None
        if target is None:
            if not text.strip():
                return await self._help(requester)
            # A window or filter without an instance: keep what was typed, ask which one.
            help_view = await self._help(requester)
            return WhichInstance(
                command=self._settings.command, query=parsed, instances=help_view.instances
            )
        resolved = await self.instances.resolve(
            target, requester.channel_id, requester.user_id or None
        )
        if isinstance(resolved, InstanceRef) and not self.access.allows(
            resolved, requester.channel_id, requester.user_id or None
        ):
            resolved = self._refusal(target, resolved, requester)
        if not isinstance(resolved, InstanceRef):
            # A default set in Slack that no longer works says so, and how to change it.
            return self.channel_defaults.unusable(default, resolved) if default else resolved
        query = TaskQuery(
            target=self._state_target(resolved),
            window=parsed.window,
            filters=parsed.filters,
            limit=parsed.limit,
            page=parsed.page,
        )
        return await self._report(resolved, query, requester)

    async def _press(self, action: ActionId, state: ButtonState, requester: Requester) -> Outcome:
        if action is ActionId.PARAMS or (action is ActionId.SHARE and state.task_id):
            return await self._params(state, requester)
        return await self._page(state, requester, refresh=action is ActionId.REFRESH)

    async def _page(
        self, state: ButtonState, requester: Requester, *, refresh: bool = False
    ) -> Outcome:
        query = state.query
        if refresh:
            query = replace(query, window=refreshed(query.window, self._clock()))
        if query.several:
            return await self.timeline.page(query, requester)
        resolved = await self._resolve_state_target(query, requester)
        if not isinstance(resolved, InstanceRef):
            return resolved
        return await self._report(resolved, query, requester)

    async def _params(self, state: ButtonState, requester: Requester) -> Outcome:
        query, task_id = state.query, state.task_id
        if not task_id:
            raise QueryError(
                "That button did not say which task to show.",
                "help",
            )
        if query.several:
            return await self.timeline.params(query, task_id, requester)
        resolved = await self._resolve_state_target(query, requester)
        if not isinstance(resolved, InstanceRef):
            return resolved
        return await self.task_params(resolved, query, task_id, requester)

    async def task_params(
        self, instance: InstanceRef, query: TaskQuery, task_id: str, requester: Requester
    ) -> ParamsView:
        """One task's params, from the listing's window when it is there, else by its id."""
        window = await self._cache.window(instance, query.window.begin, query.window.end)
        task = next((t for t in window.value.tasks if t.id == task_id), None)
        if task is None:
            task = (await self._cache.task(instance, task_id)).value
        return ParamsView(
            instance=instance, query=query, task=task, tz=requester.tz, now=self._clock()
        )

    async def _resolve_state_target(
        self, query: TaskQuery, requester: Requester
    ) -> InstanceRef | Outcome:
        if not query.target:
            raise QueryError("That button's value names no instance.", "help")
        return await self.resolve_carried(query.target, requester)

    async def resolve_carried(self, target: str, requester: Requester) -> InstanceRef | Outcome:
        """An instance as a button carried it (an alias or an id, never a name). Button values
        come back from the client: re-resolve and re-check access every time, so a copied or
        edited value cannot reach an instance the channel may not see."""
        resolved = await self.instances.resolve(
            target, requester.channel_id, requester.user_id or None, exact_only=True
        )
        if isinstance(resolved, InstanceRef) and not self.access.allows(
            resolved, requester.channel_id, requester.user_id
        ):
            return self._refusal(resolved.display_name, resolved, requester)
        return resolved

    def _refusal(self, label: str, instance: InstanceRef, requester: Requester) -> Refusal:
        channels = self.access.channels_for(instance)
        return Refusal(label, channels, people_only=requester.channel_id in channels)

    async def _report(
        self, instance: InstanceRef, query: TaskQuery, requester: Requester
    ) -> TaskReport:
        cached = await self._cache.window(instance, query.window.begin, query.window.end)
        window = cached.value
        now = self._clock()
        earlier, lookback = await self.running_before(instance, query.window.begin, now)
        counts = Counter(t.status_upper or "UNKNOWN" for t in window.tasks)
        # Still running from before the window first: during an incident they are the question.
        matching = tuple(t for t in (*earlier, *window.tasks) if task_matches(query.filters, t))
        pages = max(1, math.ceil(len(matching) / query.limit))
        # Tasks can disappear between clicks (deleted records): land on the last page, not past it.
        page = min(max(query.page, 1), pages)
        shown = matching[(page - 1) * query.limit : page * query.limit]
        typical = usual_durations(window, lookback, shown, self.expected)
        return TaskReport(
            instance=instance,
            query=replace(query, page=page),
            tz=requester.tz,
            now=now,
            window_counts=dict(counts),
            matched=len(matching),
            page_tasks=shown,
            pages=pages,
            fetched_at=cached.fetched_at,
            from_cache=cached.from_cache,
            overdue=overdue_tasks(shown, typical, now),
            requested_page=query.page if query.page > pages else None,
            typical=typical,
            earlier_running=earlier,
            earlier_unknown=lookback is None,
            reported_total=window.reported_total,
        )

    async def running_before(
        self, instance: InstanceRef, begin: datetime, now: datetime
    ) -> tuple[tuple[Task, ...], TaskWindow | None]:
        """The tasks not known to be finished that started before `begin`, and the look-back
        they came from (None when it could not be read)."""
        lookback = await self._lookback(instance, begin, now)
        earlier = tuple(
            t
            for t in (lookback.tasks if lookback else ())
            if t.is_active and t.created_at is not None and t.created_at < begin
        )
        return earlier, lookback

    async def _lookback(
        self, instance: InstanceRef, begin: datetime, now: datetime
    ) -> TaskWindow | None:
        """The days before `begin`, for tasks still running that started before it, and for
        usual durations. Day-aligned at the start and cut at the next whole minute at the end,
        so that every command about an instance within a minute shares one cached fetch."""
        day = begin.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        start = day - timedelta(days=self._settings.running_lookback_days)
        next_minute = now.astimezone(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)
        end = min(day + timedelta(days=1), next_minute)
        if end <= start:
            return None
        try:
            return (await self._cache.window(instance, start, max(end, begin))).value
        except DmsError as exc:
            log.info("no look-back for tasks still running: %s", exc)
            return None

    async def _help(self, requester: Requester) -> HelpView:
        visible = list(self.access.visible_aliases(requester.channel_id, requester.user_id or None))
        if self.access.open:
            # Without access rules every instance is fair game: list their names too.
            visible.extend(i.name for i in await self.instances.known() if i.name not in visible)
        return HelpView(
            command=self._settings.command,
            instances=tuple(visible),
            default_instance=await self.channel_defaults.label(requester.channel_id),
            restricted=not self.access.open,
        )

    # ---- for digests and alerts: a channel with no person behind it ---------------------

    def may_manage(self, user_id: str) -> bool:
        """Whether this person may change what the bot posts or does in a channel (digests,
        alerts, the channel's default): `[digests] managers` in the config file, when set."""
        managers = self._config.digests.managers
        return managers is None or user_id in managers

    async def channel_instances(self, channel_id: str) -> list[InstanceRef]:
        return await self.instances.for_channel(channel_id)

    async def resolve_for_channel(self, target: str, channel_id: str) -> InstanceRef | Outcome:
        """`target` as the whole channel may use it (a refusal or an unknown name otherwise)."""
        return await self._guarded_resolve(target, Requester(channel_id, "", self._utc))

    async def _guarded_resolve(self, target: str, requester: Requester) -> InstanceRef | Outcome:
        try:
            resolved = await self.instances.resolve(
                target, requester.channel_id, requester.user_id or None
            )
        except Answer as answer:
            return answer.outcome
        except DmsError as exc:
            return messages.problem_for(exc)
        if isinstance(resolved, InstanceRef) and not self.access.allows(
            resolved, requester.channel_id
        ):
            return self._refusal(target, resolved, requester)
        return resolved

    @property
    def settings(self) -> Settings:
        return self._settings

    @property
    def expected(self) -> ExpectedDurations:
        """The config file's `[expected]` bounds by task name, which come before history when a
        running task is judged (bot.domain.durations); timelines, digests and alerts pass it on
        with bot.listing's helpers."""
        return self._expected

    @property
    def cache(self) -> TaskCache:
        return self._cache

    def now(self) -> datetime:
        return self._clock()

    def _with_me(self, query: TaskQuery, requester: Requester) -> TaskQuery:
        """`user=me`: the requester's own cloud user name, from the config file. The name, not
        "me", goes into the buttons, so a shared copy means the same for whoever clicks."""
        if query.filters.user is None or query.filters.user.casefold() != "me":
            return query
        name = self._config.cloud_users.get(requester.user_id)
        if not name:
            raise QueryError(
                "I don't know your Huawei Cloud user name, so user=me means nothing yet. Use "
                "user=<your IAM user name>, or ask an admin to add "
                f'{requester.user_id or "<your Slack id>"} = "<IAM user name>" under '
                "[cloud_users] in the bot's config file.",
                "last 1h",
            )
        return replace(query, filters=replace(query.filters, user=name))

    def _example(self, text: str) -> str:
        return self.instances.example(text)

    async def _resolve(self, target: str, requester: Requester) -> InstanceRef | UnknownInstance:
        return await self.instances.resolve(target, requester.channel_id, requester.user_id or None)

    def _state_target(self, instance: InstanceRef) -> str:
        return state_target(instance)
