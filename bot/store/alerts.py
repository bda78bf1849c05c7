"""Alerts kept as records of kind "alert": the typed calls the alert use cases and job make, and
the JSON each alert is kept as. Works on any Store, so both backends hold alerts alike."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from bot.domain.alerts import RECORD_KIND, Alert

from .base import Record, Store, StoreError

# Bumped when the body changes shape; a body of a newer version is refused, not misread.
BODY_VERSION = 1


def _utc_text(value: datetime) -> str:
    if value.tzinfo is None or value.utcoffset() is None:
        # A naive time would be read back shifted by the host's offset.
        raise ValueError(f"naive datetime {value.isoformat()} cannot be stored; give it tz=UTC")
    return value.astimezone(UTC).isoformat()


def encode(alert: Alert) -> str:
    return json.dumps(
        {
            "v": BODY_VERSION,
            "targets": list(alert.targets),
            "stuck": alert.stuck,
            "created_by": alert.created_by,
            "created_at": _utc_text(alert.created_at),
            "paused": alert.paused,
        },
        separators=(",", ":"),
    )


def decode(record: Record) -> Alert:
    """The alert a record holds; StoreError if it does not read back."""
    try:
        data: dict[str, Any] = json.loads(record.body)
        if data.get("v") != BODY_VERSION:
            raise ValueError(f"body version {data.get('v')!r}, this release reads {BODY_VERSION}")
        return Alert(
            id=record.id,
            channel_id=record.channel_id,
            targets=tuple(str(t) for t in data["targets"]),
            created_at=datetime.fromisoformat(data["created_at"]).astimezone(UTC),
            stuck=bool(data["stuck"]),
            created_by=str(data["created_by"]),
            paused=data["paused"],
        )
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        # A hand-edited or half-written record: say which, rather than fail somewhere later.
        raise StoreError(
            f"stored alert {record.id} does not read back ({exc!r}): {record.body[:200]}"
        ) from exc


class AlertStore:
    """Alerts in a Store."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def add(self, alert: Alert) -> None:
        """IdTaken if the id is stored already."""
        await self.store.add_record(Record(RECORD_KIND, alert.id, alert.channel_id, encode(alert)))

    async def get(self, alert_id: str) -> Alert | None:
        record = await self.store.get_record(RECORD_KIND, alert_id)
        return None if record is None else decode(record)

    async def for_channel(self, channel_id: str) -> list[Alert]:
        """The channel's alerts, oldest first."""
        return [decode(r) for r in await self.store.records(RECORD_KIND, channel_id)]

    async def all(self) -> list[Alert]:
        """Every alert, oldest first."""
        return [decode(r) for r in await self.store.records(RECORD_KIND)]

    async def remove(self, alert_id: str) -> bool:
        return await self.store.delete_record(RECORD_KIND, alert_id)

    async def set_paused(self, alert_id: str, reason: str | None) -> bool:
        """Pause it for `reason`, or resume it with None; False if it is gone.

        The body is read and written back: only a pause ever changes an alert once added, and
        two replicas pausing one alert at once write the same thing."""
        current = await self.get(alert_id)
        if current is None:
            return False
        return await self.store.update_record(
            RECORD_KIND, alert_id, encode(replace(current, paused=reason))
        )

    async def new_id(self) -> str:
        return await self.store.new_record_id(RECORD_KIND)
