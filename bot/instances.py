"""Which instance a target means: aliases from the config file, instance ids, and names
resolved through the list-instances API (with "did you mean"), under the access rules."""

from __future__ import annotations

import difflib
import logging

from bot import messages
from bot.dms.cache import TaskCache
from bot.dms.errors import DmsAuthError, DmsError
from bot.domain.access import AccessPolicy
from bot.domain.instances import INSTANCE_ID_PATTERN, InstanceRef
from bot.domain.tasks import Instance
from bot.report import Outcome, UnknownInstance
from bot.settings import Settings

log = logging.getLogger(__name__)


class Answer(Exception):
    """Raised deep in a use case to answer with `outcome` at once."""

    def __init__(self, outcome: Outcome) -> None:
        super().__init__(type(outcome).__name__)
        self.outcome = outcome


class Instances:
    def __init__(self, settings: Settings, cache: TaskCache) -> None:
        self._settings = settings
        self._cache = cache
        self._aliases = settings.instance_refs()
        self.access = AccessPolicy(settings.access_rules(), self._aliases)
        self._names: dict[str, str] = {}  # instance id -> name, from instance lists seen

    def example(self, text: str) -> str:
        """A command people can type: the grammar's examples are the text after its name."""
        return f"{self._settings.command} {text}".rstrip()

    async def known(self) -> list[Instance]:
        """The default project's instances, for help; empty when they cannot be listed (the
        identity may lack dms:instance:list). Rejected credentials are not swallowed: the user
        must learn of them rather than see an empty list."""
        project, region = self._settings.project_id, self._settings.default_region
        if not (project and region):
            return []
        try:
            cached = await self._cache.instances(project, region)
        except DmsAuthError:
            raise
        except DmsError as exc:
            log.info("could not list instances for names: %s", exc)
            return []
        self._remember_names(cached.value)
        return cached.value

    def _remember_names(self, instances: list[Instance]) -> None:
        self._names.update({i.instance_id.lower(): i.name for i in instances if i.name})

    async def for_channel(self, channel_id: str) -> list[InstanceRef]:
        """Every instance the whole channel may see: its aliases and, with no access rules,
        every instance of the default project."""
        refs = [r for r in self._aliases.values() if self.access.allows(r, channel_id)]
        if self.access.open:
            project, region = self._settings.project_id, self._settings.default_region
            known = {r.instance_id.lower() for r in refs}
            for instance in await self.known():
                if project and region and instance.instance_id.lower() not in known:
                    refs.append(
                        InstanceRef(
                            instance_id=instance.instance_id,
                            project_id=project,
                            region=region,
                            name=instance.name,
                        )
                    )
        return refs

    async def every(self, channel_id: str, user_id: str | None) -> tuple[list[InstanceRef], str]:
        """`all`: every instance this person may see in this channel, aliases first (as
        configured), then, with no access rules, the default project's other instances by
        name; and why those could not be listed, when they could not (credentials that are
        rejected are not swallowed: every instance would fail the same way)."""
        refs: list[InstanceRef] = []
        seen: set[tuple[str, str]] = set()
        for ref in self._aliases.values():
            key = (ref.instance_id.lower(), ref.project_id)
            if key not in seen and self.access.allows(ref, channel_id, user_id):
                seen.add(key)
                refs.append(ref)
        project, region = self._settings.project_id, self._settings.default_region
        if not (self.access.open and project and region):
            return refs, ""
        try:
            listed = (await self._cache.instances(project, region)).value
        except DmsAuthError:
            raise
        except DmsError as exc:
            log.info("could not list instances for all: %s", exc)
            return refs, messages.problem_for(exc).summary
        self._remember_names(listed)
        others = [i for i in listed if (i.instance_id.lower(), project) not in seen]
        for instance in sorted(others, key=lambda i: (i.name.lower(), i.instance_id)):
            seen.add((instance.instance_id.lower(), project))
            refs.append(
                InstanceRef(
                    instance_id=instance.instance_id,
                    project_id=project,
                    region=region,
                    name=instance.name or None,
                )
            )
        return refs, ""

    async def resolve(
        self, target: str, channel_id: str, user_id: str | None, *, exact_only: bool = False
    ) -> InstanceRef | UnknownInstance:
        alias = self._aliases.get(target.lower())
        if alias is not None:
            return alias
        if INSTANCE_ID_PATTERN.match(target):
            for ref in self._aliases.values():
                if ref.instance_id.lower() == target.lower():
                    return ref
            project, region = self._default_location()
            # Names come only from instance lists already fetched: an id must not cost a second
            # API call (a second failed signature with a bad SK, a second retry budget).
            return InstanceRef(
                instance_id=target.lower(),
                project_id=project,
                region=region,
                name=self._names.get(target.lower()),
            )
        if exact_only:
            return UnknownInstance(typed=target, suggestions=(), example=self.example("help"))
        return await self._resolve_name(target, channel_id, user_id)

    def _default_location(self) -> tuple[str, str]:
        project, region = self._settings.project_id, self._settings.default_region
        if not project or not region:
            raise Answer(messages.no_default_location())
        return project, region

    async def _resolve_name(
        self, name: str, channel_id: str, user_id: str | None
    ) -> InstanceRef | UnknownInstance:
        visible = self.access.visible_aliases(channel_id, user_id)
        candidates: list[str] = list(visible)
        found: InstanceRef | None = None
        # With access rules, only configured aliases are reachable: listing instances would only
        # reveal names the channel may not use.
        if self.access.open:
            project, region = self._default_location()
            instances = (await self._cache.instances(project, region)).value
            self._remember_names(instances)
            exact = [i for i in instances if i.name == name] or [
                i for i in instances if i.name.lower() == name.lower()
            ]
            if exact:
                found = InstanceRef(
                    instance_id=exact[0].instance_id,
                    project_id=project,
                    region=region,
                    name=exact[0].name,
                )
            candidates.extend(i.name for i in instances)
        if found is not None:
            return found
        lowered = {c.lower(): c for c in candidates}
        close = difflib.get_close_matches(name.lower(), list(lowered), n=3, cutoff=0.6)
        suggestions = tuple(lowered[c] for c in close)
        return UnknownInstance(
            typed=name,
            suggestions=suggestions,
            example=self.example(f"{suggestions[0]} last 1h" if suggestions else "help"),
        )
