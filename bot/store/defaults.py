"""Channel defaults kept as records of kind "channel-default", one per channel, the record's id
being the channel id: the typed calls `/dms-tasks default …` and every command without a target
make, and the JSON each default is kept as. Works on any Store, so both backends hold them alike
and every replica reads the one a channel set."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .base import IdTaken, Record, Store, StoreError

RECORD_KIND = "channel-default"
# Bumped when the body changes shape; a body of a newer version is refused, not misread.
BODY_VERSION = 1


@dataclass(frozen=True)
class ChannelDefault:
    """What a channel set as its default target in Slack."""

    channel_id: str
    # ("all",), or the instances as buttons carry them (an alias or an instance id each).
    targets: tuple[str, ...]
    set_by: str  # Slack user id
    set_at: datetime  # aware UTC

    @property
    def text(self) -> str:
        """The targets as a command names them: `prod-orders`, `all`, `prod-a,prod-b`."""
        return ",".join(self.targets)


def encode(default: ChannelDefault) -> str:
    if default.set_at.tzinfo is None or default.set_at.utcoffset() is None:
        # A naive time would be read back shifted by the host's offset.
        raise ValueError(f"naive datetime {default.set_at.isoformat()} cannot be stored")
    return json.dumps(
        {
            "v": BODY_VERSION,
            "targets": list(default.targets),
            "set_by": default.set_by,
            "set_at": default.set_at.astimezone(UTC).isoformat(),
        },
        separators=(",", ":"),
    )


def decode(record: Record) -> ChannelDefault:
    """The default a record holds; StoreError if it does not read back."""
    try:
        data: dict[str, Any] = json.loads(record.body)
        if data.get("v") != BODY_VERSION:
            raise ValueError(f"body version {data.get('v')!r}, this release reads {BODY_VERSION}")
        targets = tuple(str(t) for t in data["targets"])
        if not targets or not all(targets):
            raise ValueError("no targets")
        return ChannelDefault(
            channel_id=record.id,
            targets=targets,
            set_by=str(data["set_by"]),
            set_at=datetime.fromisoformat(data["set_at"]).astimezone(UTC),
        )
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        # A hand-edited or half-written record: say which, rather than fail somewhere later.
        raise StoreError(
            f"stored default of channel {record.id} does not read back ({exc!r}): "
            f"{record.body[:200]}"
        ) from exc


class StoredDefaults:
    """Channel defaults in a Store."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def get(self, channel_id: str) -> ChannelDefault | None:
        record = await self.store.get_record(RECORD_KIND, channel_id)
        return None if record is None else decode(record)

    async def set(self, default: ChannelDefault) -> None:
        """Replace the channel's default, or store its first one.

        The store has no upsert: update what is there, else add; when another replica added
        one in between (IdTaken), update that. The last writer wins, as with any setting."""
        body = encode(default)
        if await self.store.update_record(RECORD_KIND, default.channel_id, body):
            return
        try:
            await self.store.add_record(
                Record(RECORD_KIND, default.channel_id, default.channel_id, body)
            )
        except IdTaken:
            await self.store.update_record(RECORD_KIND, default.channel_id, body)

    async def clear(self, channel_id: str) -> bool:
        """True if the channel had one."""
        return await self.store.delete_record(RECORD_KIND, channel_id)

    async def all(self) -> list[ChannelDefault]:
        """Every channel's default, oldest first (for operators)."""
        return [decode(r) for r in await self.store.records(RECORD_KIND)]
