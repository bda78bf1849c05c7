"""The alert use cases: `alert add | list | remove`, judged for the channel (no person) with the
same access rules, resolution and managers as digests; and what the alert job asks of them.

`command` returns a Problem (from bot.report) or one of the outcomes in bot.domain.alerts, which
bot.render.alerts turns into a message."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from bot.digests import DigestService
from bot.domain.alerts import (
    ALL_TARGETS,
    Alert,
    AlertAdded,
    AlertListing,
    AlertOutcome,
    AlertRemoved,
    AlertView,
)
from bot.domain.instances import InstanceRef
from bot.grammar.alert_commands import AlertAdd, AlertList, AlertRemove, parse_alert_command
from bot.grammar.words import QueryError
from bot.poster import ChannelUnavailable
from bot.render.alerts import render_alert_announcement
from bot.report import Problem
from bot.service import Announce, Requester, TaskService
from bot.store import AlertStore, IdTaken

if TYPE_CHECKING:
    from bot.store import Store

# What `command` returns: an alert outcome, or a Problem in words.
Outcome = AlertOutcome | Problem

NOTICE_KEEP_S = 30 * 86400.0
ID_DRAWS = 5


class AlertService:
    def __init__(self, service: TaskService, store: Store | None = None) -> None:
        self._service = service
        self._alerts = AlertStore(store) if store is not None else None
        # Digests already judge a set of targets for a channel; alerts judge theirs the same way.
        self._digests = DigestService(service)

    def attach(self, store: Store) -> None:
        """The store, opened by the runtime at start-up (after listeners were given this)."""
        self._alerts = AlertStore(store)

    @property
    def alerts(self) -> AlertStore:
        if self._alerts is None:
            raise RuntimeError("alerts need a store")
        return self._alerts

    @property
    def service(self) -> TaskService:
        return self._service

    # ---- `alert …` ---------------------------------------------------------------------------

    async def command(
        self, text: str, requester: Requester, announce: Announce | None = None
    ) -> Outcome:
        command = self._service.settings.command
        try:
            parsed = parse_alert_command(text)
        except QueryError as exc:
            return Problem(summary=exc.message, example=f"{command} {exc.example}")
        match parsed:
            case AlertList():
                return await self._list(requester.channel_id)
            case AlertRemove():
                return await self._remove(parsed.id, requester)
            case AlertAdd():
                return await self._add(parsed, requester, announce)
        raise AssertionError(parsed)

    def _may_manage(self, requester: Requester) -> Problem | None:
        if self._service.may_manage(requester.user_id):
            return None
        return Problem(
            summary="Only certain people may add or remove alerts here.",
            hint="Ask one of the bot's admins; alert list works for everyone.",
        )

    async def covered(self, channel_id: str, targets: tuple[str, ...]) -> list[InstanceRef]:
        """The instances an alert of `channel_id` covers now (access as for the channel)."""
        refs, _ = await self._digests.targets(channel_id, targets)
        return refs

    async def _add(self, add: AlertAdd, requester: Requester, announce: Announce | None) -> Outcome:
        command = self._service.settings.command
        if refused := self._may_manage(requester):
            return refused
        refs, refused_targets = await self._digests.targets(requester.channel_id, add.targets)
        if refused_targets or not refs:
            allowed = ",".join(r.alias or r.instance_id for r in refs) or ALL_TARGETS
            return Problem(
                summary="This channel cannot have an alert on "
                + (", ".join(refused_targets) if refused_targets else "no instance at all")
                + ".",
                example=f"{command} alert add {allowed}" + (" stuck" if add.stuck else ""),
            )
        alert = Alert(
            id=await self.alerts.new_id(),
            channel_id=requester.channel_id,
            targets=add.targets,
            # The baseline: only what happens from now on fires (see bot.domain.alerts).
            created_at=self._service.now(),
            stuck=add.stuck,
            created_by=requester.user_id,
        )
        view = AlertView(alert, tuple(r.display_name for r in refs))
        if announce is not None:
            # Posting now proves the bot may post here; an alert that could never arrive would
            # fail silently, at the worst moment.
            posted = await announce(
                requester.channel_id, render_alert_announcement(view, requester.user_id)
            )
            if isinstance(posted, ChannelUnavailable):
                return Problem(
                    summary=f"I cannot post in this channel ({posted.reason}), so alerts here "
                    "would never arrive.",
                    hint="Invite the bot first (/invite @dms-tasks-bot; a DM with someone else "
                    "cannot have one), then add the alert again.",
                )
        for _ in range(ID_DRAWS):
            try:
                await self.alerts.add(alert)
                break
            except IdTaken:
                # Two replicas drew the same id at once: draw again.
                alert = replace(alert, id=await self.alerts.new_id())
        return AlertAdded(command, replace(view, alert=alert))

    async def _list(self, channel_id: str) -> AlertListing:
        everything: tuple[str, ...] | None = None
        views = []
        for alert in await self.alerts.for_channel(channel_id):
            covers: tuple[str, ...] = ()
            if ALL_TARGETS in alert.targets:
                if everything is None:
                    everything = tuple(
                        r.display_name for r in await self._service.channel_instances(channel_id)
                    )
                covers = everything
            views.append(AlertView(alert, covers))
        return AlertListing(self._service.settings.command, channel_id, tuple(views))

    async def _remove(self, alert_id: str, requester: Requester) -> Outcome:
        command = self._service.settings.command
        alert = await self.alerts.get(alert_id)
        if alert is None or alert.channel_id != requester.channel_id:
            # Another channel's alert is not this channel's to see or remove.
            return Problem(
                summary=f"This channel has no alert {alert_id}.",
                example=f"{command} alert list",
            )
        if refused := self._may_manage(requester):
            return refused
        await self.alerts.remove(alert_id)
        return AlertRemoved(alert)

    async def notices_for(self, user_id: str) -> list[str]:
        """Alerts this person added that were paused since they last heard of it; each is told
        once (a done marker in the store, shared by every replica)."""
        if self._alerts is None or not user_id:
            return []
        notices = []
        store = self._alerts.store
        for alert in await self._alerts.all():
            if alert.created_by != user_id or alert.paused is None:
                continue
            key = f"alert-paused-notice:{alert.id}"
            if await store.completed(key):
                continue
            await store.mark_done(key, NOTICE_KEEP_S)
            notices.append(
                f"Your alert {alert.id} (channel {alert.channel_id}) is paused: Slack answered "
                f"{alert.paused} when it had something to post. Invite the bot to that channel, "
                "then add the alert again (and remove the old one)."
            )
        return notices
