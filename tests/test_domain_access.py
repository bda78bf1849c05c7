"""Access rules as a digest or an alert needs them: for a channel with no person behind it."""

from __future__ import annotations

from bot.domain.access import AccessPolicy, AccessRule
from bot.domain.instances import InstanceRef


def ref(alias: str, instance_id: str) -> InstanceRef:
    return InstanceRef(instance_id=instance_id, project_id="p", region="r", alias=alias)


ALIASES = {
    "orders": ref("orders", "i-orders"),
    "audit": ref("audit", "i-audit"),
    "events": ref("events", "i-events"),
}
POLICY = AccessPolicy(
    {
        "orders": AccessRule(channels=("C_ONCALL",)),
        "audit": AccessRule(channels=("C_ONCALL",), users=("U_LEAD",)),
        "events": AccessRule(),
    },
    ALIASES,
)


def test_a_channel_alone_sees_what_the_whole_channel_may_see() -> None:
    assert POLICY.allows(ALIASES["orders"], "C_ONCALL")
    # Limited to certain people: not for everyone who reads a digest in the channel.
    assert not POLICY.allows(ALIASES["audit"], "C_ONCALL")
    assert POLICY.allows(ALIASES["audit"], "C_ONCALL", "U_LEAD")
    assert not POLICY.allows(ALIASES["orders"], "C_RANDOM")
    assert POLICY.visible_aliases("C_ONCALL") == ("orders",)
    assert POLICY.visible_aliases("C_ONCALL", "U_LEAD") == ("orders", "audit")


def test_an_entry_without_a_rule_is_no_allowance_once_rules_exist() -> None:
    assert not POLICY.allows(ALIASES["events"], "C_ONCALL")
    assert POLICY.channels_for(ALIASES["audit"]) == ("C_ONCALL",)


def test_with_no_rules_everything_is_open_for_channels_too() -> None:
    open_policy = AccessPolicy({"orders": AccessRule()}, ALIASES)
    assert open_policy.open
    assert open_policy.allows(ALIASES["audit"], "C_ANY")
