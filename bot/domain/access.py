"""Which conversation (and person) may see which instance.

With no rules at all, everything the credentials can see is allowed (the runtime logs a warning
at start-up). Once any instance carries a rule, anything not explicitly allowed is refused, and
instances outside the configured aliases (by id or name) are refused too.

A digest or an alert is posted for a channel with no person behind it: `allows(instance,
channel)` with no user answers for everyone in that channel, so an instance limited to certain
people is refused there.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from bot.domain.instances import InstanceRef


@dataclass(frozen=True)
class AccessRule:
    """One alias's rule: None means "any"; both None is no rule at all."""

    channels: tuple[str, ...] | None = None
    users: tuple[str, ...] | None = None

    @property
    def is_rule(self) -> bool:
        return self.channels is not None or self.users is not None


class AccessPolicy:
    def __init__(self, rules: Mapping[str, AccessRule], aliases: Mapping[str, InstanceRef]) -> None:
        """`rules` by alias as configured; `aliases` by lower-cased alias."""
        self._rules = dict(rules)
        self._aliases = dict(aliases)

    @property
    def open(self) -> bool:
        return not any(rule.is_rule for rule in self._rules.values())

    def _rules_for(self, instance: InstanceRef) -> list[AccessRule]:
        return [
            self._rules.get(ref.alias or alias, AccessRule())
            for alias, ref in self._aliases.items()
            if ref.instance_id == instance.instance_id and ref.project_id == instance.project_id
        ]

    def allows(self, instance: InstanceRef, channel_id: str, user_id: str | None = None) -> bool:
        """Whether `user_id` in `channel_id` may see `instance`; with no user, whether the
        whole channel may."""
        if self.open:
            return True
        for rule in self._rules_for(instance):
            if not rule.is_rule:
                # Once any rule exists, an entry without one is not an allowance.
                continue
            channel_ok = rule.channels is None or channel_id in rule.channels
            if user_id is None:
                user_ok = rule.users is None
            else:
                user_ok = rule.users is None or user_id in rule.users
            if channel_ok and user_ok:
                return True
        return False

    def channels_for(self, instance: InstanceRef) -> tuple[str, ...]:
        channels: list[str] = []
        for rule in self._rules_for(instance):
            channels.extend(c for c in rule.channels or () if c not in channels)
        return tuple(channels)

    def visible_aliases(self, channel_id: str, user_id: str | None = None) -> tuple[str, ...]:
        return tuple(
            ref.alias or alias
            for alias, ref in self._aliases.items()
            if self.allows(ref, channel_id, user_id)
        )
