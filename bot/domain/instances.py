"""Which Kafka instance a question is about, and what may be typed to name one."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict

# Words the command reads as something other than an instance. An alias may not be one of them,
# or it could never be typed as a target.
WINDOW_WORDS = ("last", "since", "between", "today", "yesterday")
HELP_WORDS = frozenset({"help", "?", "-h", "--help"})
# `digest …` and `alert …` manage digests and alerts, `default …` the channel's default, `all`
# means every instance, `running` lists what runs now.
COMMAND_WORDS = frozenset({"digest", "alert", "alerts", "all", "running", "default"})
RESERVED_WORDS = frozenset({*WINDOW_WORDS, *HELP_WORDS, *COMMAND_WORDS})

# Aliases are typed as the first word of a command, so they must be one word and must not read
# as a window, help or a filter.
ALIAS_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")

# Real DMS instance ids are UUIDs; anything else typed as a target is an alias or a name.
INSTANCE_ID_PATTERN = re.compile(
    r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I
)


def is_typeable_alias(alias: str) -> bool:
    return bool(ALIAS_PATTERN.match(alias)) and alias.lower() not in RESERVED_WORDS


class InstanceRef(BaseModel):
    """Where one Kafka instance lives: enough to build the tasks URL and sign for it."""

    model_config = ConfigDict(frozen=True)

    instance_id: str
    project_id: str
    region: str
    alias: str | None = None
    name: str | None = None

    @property
    def display_name(self) -> str:
        return self.alias or self.name or self.instance_id
