"""A channel's default target: what a bare `/dms-tasks`, or a window or filter typed without an
instance, means in that channel.

Two places can set it. The config file's `[channels.<id>] default_instance` (checked at start-up),
and `/dms-tasks default <target>` in the channel itself, kept in the store (a record of kind
"channel-default" whose id is the channel id), so that it survives restarts and every replica
reads the same one. The one set in Slack wins; `default clear` removes it, and the config file's
applies again.

- A default set in Slack is for everyone in the channel, so it is judged for the channel with no
  person behind it (as digests and alerts are): an instance limited to certain people, one the
  channel may not see, or one nobody knows is refused with a command that would work.
- It may be one instance, `all` (every instance the channel may see, judged at each use), or a
  list joined by commas, which the timeline answers (bot/timeline.py). Instances are kept as
  buttons carry them (an alias or an instance id), never as a name that could later mean another.
- Who may set or clear it: `[digests] managers` when the config file names them (they already
  decide what the bot does in a channel on everyone's behalf, and a default changes what every
  bare command there shows), else anyone who may use the bot in the channel. Anyone may see it.
- At each use the default is resolved and checked again, for whoever asks: a config change that
  takes an instance away from the channel refuses it then, naming it as the channel's default.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from bot.dms.errors import DmsError
from bot.domain.digests import ALL_TARGETS
from bot.domain.instances import INSTANCE_ID_PATTERN, InstanceRef
from bot.grammar.default_command import (
    USAGE,
    DefaultClear,
    DefaultSet,
    DefaultShow,
    parse_default_command,
)
from bot.grammar.words import SHARED_VALUES_BUDGET, QueryError, shared_values_cost
from bot.instances import Answer
from bot.listing import state_target
from bot.report import Outcome, Problem, Refusal, UnknownInstance
from bot.store.base import StoreError
from bot.store.defaults import ChannelDefault, StoredDefaults

if TYPE_CHECKING:
    from bot.service import Requester, TaskService
    from bot.store import Store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EffectiveDefault:
    """The default that applies in a channel now, and where it comes from."""

    targets: tuple[str, ...]  # one instance, ("all",), or several
    slack: ChannelDefault | None = None  # set in Slack; None: from the config file

    @property
    def several(self) -> bool:
        return len(self.targets) > 1 or self.targets == (ALL_TARGETS,)

    @property
    def text(self) -> str:
        return ",".join(self.targets)


class DefaultChange(StrEnum):
    SHOWN = "shown"  # `default`
    SET = "set"
    CLEARED = "cleared"
    NOTHING_TO_CLEAR = "nothing-to-clear"  # `default clear` where none was set in Slack


@dataclass(frozen=True)
class ChannelDefaultView:
    """What `/dms-tasks default …` did, and the channel's default now."""

    command: str  # the slash command, as configured
    channel_id: str
    change: DefaultChange
    slack: ChannelDefault | None  # the one set in Slack, after the change
    config: str | None  # the config file's default_instance for this channel
    covers: tuple[str, ...] = ()  # the instances the Slack-set one stands for now, by name
    removed: ChannelDefault | None = None  # CLEARED: the one removed
    settable: bool = True  # False where there is no store (the terminal)
    example: str = "prod-orders"  # an instance this channel may use, for the hints

    @property
    def effective(self) -> str | None:
        """The default a bare command uses now, as a command names it."""
        return self.slack.text if self.slack is not None else self.config


DefaultsOutcome = ChannelDefaultView | Problem


class ChannelDefaults:
    """The use cases of `default …`, and the default TaskService asks for when a command names no
    instance. Built with the service; the runtime attaches the store at start-up."""

    def __init__(self, service: TaskService, store: Store | None = None) -> None:
        self._service = service
        self._stored = StoredDefaults(store) if store is not None else None

    def attach(self, store: Store) -> None:
        """The store, opened by the runtime at start-up (after listeners were given the
        service)."""
        self._stored = StoredDefaults(store)

    # ---- what a command without a target means --------------------------------------------

    def configured(self, channel_id: str) -> str | None:
        """The config file's default_instance for the channel."""
        channel = self._service.settings.load_config().channels.get(channel_id)
        return channel.default_instance if channel else None

    async def current(self, channel_id: str) -> EffectiveDefault | None:
        """The default in force: the one set in Slack, else the config file's, else None.
        Raises Answer with a Problem when the store cannot be read: guessing the config file's
        instance instead could show another instance than the channel chose."""
        slack = await self._slack(channel_id)
        if slack is not None:
            return EffectiveDefault(slack.targets, slack)
        configured = self.configured(channel_id)
        return EffectiveDefault((configured,)) if configured else None

    async def label(self, channel_id: str) -> str | None:
        """The default as a command names it, for help; the config file's when the store
        cannot be read (help always answers)."""
        try:
            found = await self.current(channel_id)
        except Answer:
            return self.configured(channel_id)
        return found.text if found else None

    def unusable(self, default: EffectiveDefault, why: Outcome) -> Outcome:
        """A default set in Slack that no longer resolves, or that this person may not see:
        say that it is the channel's default, and how to change it. A config file's default
        was checked at start-up; its refusal stands as it is."""
        if default.slack is None:
            return why
        command = self._service.settings.command
        if isinstance(why, Refusal):
            reason = "is limited to certain people" if why.people_only else "is not available here"
        elif isinstance(why, UnknownInstance):
            reason = "is no longer an instance I know"
        elif isinstance(why, Problem):
            return why
        else:
            reason = "cannot be used"
        return Problem(
            summary=f"This channel's default, {default.text} (set in Slack), {reason}.",
            hint=f"Name the instance in the command, set another default with {command} "
            f"default <instance>, or remove this one with {command} default clear.",
            example=f"{command} default {self._example_target(default.slack.channel_id)}",
        )

    # ---- `default …` -----------------------------------------------------------------------

    async def command(self, text: str, requester: Requester) -> DefaultsOutcome:
        command = self._service.settings.command
        try:
            parsed = parse_default_command(text)
        except QueryError as exc:
            example = exc.example
            if example == USAGE:
                example = f"default {self._example_target(requester.channel_id)}"
            return Problem(summary=exc.message, example=f"{command} {example}")
        if isinstance(parsed, DefaultShow):
            slack = await self._slack(requester.channel_id)
            covers = await self._covers(slack) if slack is not None else ()
            return self._view(requester.channel_id, DefaultChange.SHOWN, slack, covers=covers)
        if self._stored is None or not requester.channel_id:
            return Problem(
                summary="A channel's default is set in Slack, in that channel.",
                hint="Here only the config file's [channels.<id>] default_instance applies.",
                example=f"{command} default",
            )
        if refused := self._may_change(requester):
            return refused
        if isinstance(parsed, DefaultClear):
            return await self._clear(requester)
        assert isinstance(parsed, DefaultSet)
        return await self._set(parsed, requester)

    async def _set(self, parsed: DefaultSet, requester: Requester) -> DefaultsOutcome:
        command = self._service.settings.command
        channel = requester.channel_id
        if parsed.targets == (ALL_TARGETS,):
            refs = await self._service.channel_instances(channel)
            if not refs and not self._service.access.open:
                return Problem(
                    summary="No Kafka instance is available in this channel, so all would "
                    "show nothing here.",
                    hint="Ask an admin to add this channel to an instance's `channels` in the "
                    "bot's config.",
                )
            carried: tuple[str, ...] = (ALL_TARGETS,)
            covers = tuple(r.display_name for r in refs)
        else:
            found = await self._resolve(parsed.targets, channel)
            if isinstance(found, Problem):
                return found
            carried = tuple(state_target(r) for r in found)
            covers = tuple(r.display_name for r in found)
            if len(carried) > 1 and shared_values_cost(carried, None, None) > (
                SHARED_VALUES_BUDGET
            ):
                return Problem(
                    summary="Those instances are too long to carry in an answer's buttons: "
                    "list fewer, by their aliases, or make all the default.",
                    example=f"{command} default {ALL_TARGETS}",
                )
        default = ChannelDefault(channel, carried, requester.user_id, self._service.now())
        try:
            await self.stored.set(default)
        except StoreError as exc:
            log.error("could not store the default of %s: %s", channel, exc)
            return _store_problem("saved")
        log.info("channel %s default set to %s by %s", channel, default.text, requester.user_id)
        return self._view(channel, DefaultChange.SET, default, covers=covers)

    async def _clear(self, requester: Requester) -> DefaultsOutcome:
        channel = requester.channel_id
        try:
            removed = await self.stored.get(channel)
        except StoreError:
            removed = None  # a damaged record: clearing it is the way out
        try:
            gone = await self.stored.clear(channel)
        except StoreError as exc:
            log.error("could not clear the default of %s: %s", channel, exc)
            return _store_problem("removed")
        if not gone:
            return self._view(channel, DefaultChange.NOTHING_TO_CLEAR, None)
        log.info("channel %s default cleared by %s", channel, requester.user_id)
        return self._view(channel, DefaultChange.CLEARED, None, removed=removed)

    async def _resolve(
        self, targets: tuple[str, ...], channel_id: str
    ) -> list[InstanceRef] | Problem:
        """Each target as the whole channel may use it; a Problem with a corrected command
        when any cannot be."""
        refs: list[InstanceRef] = []
        fixed: list[str] = []
        refused: list[str] = []
        for target in targets:
            resolved = await self._service.resolve_for_channel(target, channel_id)
            if isinstance(resolved, InstanceRef) and not await self._exists(resolved):
                refused.append(f"{target} (no such instance in the project)")
            elif isinstance(resolved, InstanceRef):
                if all(r.instance_id.lower() != resolved.instance_id.lower() for r in refs):
                    refs.append(resolved)
                    fixed.append(state_target(resolved))
            elif isinstance(resolved, Refusal):
                why = "limited to certain people" if resolved.people_only else "not available"
                refused.append(f"{target} ({why} in this channel)")
            elif isinstance(resolved, UnknownInstance):
                if resolved.suggestions:
                    fixed.append(resolved.suggestions[0])
                    refused.append(
                        f"{target} (no such instance; did you mean {resolved.suggestions[0]}?)"
                    )
                else:
                    refused.append(f"{target} (no such instance)")
            else:
                refused.append(f"{target} ({resolved.summary})")
        if not refused:
            return refs
        command = self._service.settings.command
        fixes = list(dict.fromkeys(fixed)) or [self._example_target(channel_id)]
        return Problem(
            summary="This channel's default cannot be " + "; ".join(refused) + ".",
            hint="A default is for everyone here, so it must be an instance this whole channel "
            "may see.",
            example=f"{command} default {','.join(fixes)}",
        )

    def _may_change(self, requester: Requester) -> Problem | None:
        if self._service.may_manage(requester.user_id):
            return None
        return Problem(
            summary="Only certain people may set or clear this channel's default.",
            hint="Ask one of the bot's admins ([digests] managers in its config); "
            f"{self._service.settings.command} default shows it to everyone.",
        )

    # ---- helpers ---------------------------------------------------------------------------

    async def _exists(self, ref: InstanceRef) -> bool:
        """An instance id that is no alias is taken on trust when a command names it (the API
        answers for it); a default is used again and again, so it must be one the default
        project lists, when the project's instances can be listed at all."""
        if ref.alias is not None:
            return True
        listed = await self._service.instances.known()
        return not listed or any(i.instance_id.lower() == ref.instance_id.lower() for i in listed)

    async def _covers(self, default: ChannelDefault) -> tuple[str, ...]:
        """The instances a stored default stands for now, by name, for showing it: ids read
        better as the names the API gives them. Best effort: what cannot be looked up shows
        as it is kept."""
        instances = self._service.instances
        try:
            if default.targets == (ALL_TARGETS,):
                refs = await self._service.channel_instances(default.channel_id)
                return tuple(r.display_name for r in refs)
            if any(INSTANCE_ID_PATTERN.match(t) for t in default.targets):
                await instances.known()  # the names of ids, from the (cached) instance list
            names = []
            for target in default.targets:
                found = await instances.resolve(target, default.channel_id, None, exact_only=True)
                names.append(found.display_name if isinstance(found, InstanceRef) else target)
            return tuple(names)
        except (Answer, DmsError) as exc:
            log.info("could not name the default of %s: %s", default.channel_id, exc)
            return ()

    @property
    def stored(self) -> StoredDefaults:
        if self._stored is None:
            raise RuntimeError("channel defaults set in Slack need a store")
        return self._stored

    async def _slack(self, channel_id: str) -> ChannelDefault | None:
        if self._stored is None or not channel_id:
            return None
        try:
            return await self._stored.get(channel_id)
        except StoreError as exc:
            log.error("could not read the default of %s: %s", channel_id, exc)
            command = self._service.settings.command
            raise Answer(
                Problem(
                    summary="I could not read this channel's default instance from the bot's "
                    "store.",
                    hint=f"Name the instance in the command meanwhile, or set the default "
                    f"again ({command} default <instance>); if it goes on, the bot's admins "
                    "should check the store (DMS_BOT_DB or REDIS_URL).",
                    example=f"{command} {self._example_target(channel_id)} last 1h",
                )
            ) from None

    def _view(
        self,
        channel_id: str,
        change: DefaultChange,
        slack: ChannelDefault | None,
        *,
        covers: tuple[str, ...] = (),
        removed: ChannelDefault | None = None,
    ) -> ChannelDefaultView:
        return ChannelDefaultView(
            command=self._service.settings.command,
            channel_id=channel_id,
            change=change,
            slack=slack,
            config=self.configured(channel_id),
            covers=covers,
            removed=removed,
            settable=self._stored is not None,
            example=self._example_target(channel_id, besides=slack.text if slack else None),
        )

    def _example_target(self, channel_id: str, besides: str | None = None) -> str:
        """An instance this channel may use, for corrected commands and hints: its config
        default, else its first alias, else `all`; one other than `besides` when there is."""
        configured = self.configured(channel_id)
        choices = [c for c in (configured, *self._service.access.visible_aliases(channel_id)) if c]
        others = [c for c in choices if besides is None or c.lower() != besides.lower()]
        return (others or choices or [ALL_TARGETS])[0]


def _store_problem(what: str) -> Problem:
    return Problem(
        summary=f"The channel's default could not be {what}: the bot's store did not answer.",
        hint="Try again in a minute; if it goes on, the bot's admins should check the store "
        "(DMS_BOT_DB or REDIS_URL).",
    )
