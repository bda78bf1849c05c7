"""Subscriptions and results as JSON text, the same for every backend.

A subscription is kept as three parts: its body (fixed once added) and its pause reason and
last result, which runs and pauses update on their own, so that two replicas updating one of
each never overwrite the other's change."""

from __future__ import annotations

import json
from datetime import UTC, datetime, time
from typing import Any

from bot.domain.digests import Days, DigestResult, ResultKind, Subscription

from .base import StoreError


def _utc_text(value: datetime) -> str:
    if value.tzinfo is None or value.utcoffset() is None:
        # Storing a naive time would silently shift it by the host's offset when read back.
        raise ValueError(f"naive datetime {value.isoformat()} cannot be stored; give it tz=UTC")
    return value.astimezone(UTC).isoformat()


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def encode_body(sub: Subscription) -> str:
    return json.dumps(
        {
            "id": sub.id,
            "channel_id": sub.channel_id,
            "targets": list(sub.targets),
            # isoformat keeps seconds, microseconds and any offset, so `at` comes back equal.
            "at": sub.at.isoformat(),
            "tz": sub.tz,
            "days": sub.days.value,
            "quiet": sub.quiet,
            "created_by": sub.created_by,
            "created_at": None if sub.created_at is None else _utc_text(sub.created_at),
        },
        separators=(",", ":"),
    )


def encode_result(result: DigestResult | None) -> str | None:
    if result is None:
        return None
    return json.dumps(
        {
            "kind": result.kind.value,
            "at": _utc_text(result.at),
            "due": _utc_text(result.due),
            "detail": result.detail,
        },
        separators=(",", ":"),
    )


def _decode_result(text: str) -> DigestResult:
    data: dict[str, Any] = json.loads(text)
    return DigestResult(
        kind=ResultKind(data["kind"]),
        at=_utc(data["at"]),
        due=_utc(data["due"]),
        detail=data["detail"],
    )


def decode(body: str, paused: str | None, last_result: str | None) -> Subscription:
    """The subscription from its stored parts; StoreError if they do not read back."""
    try:
        data: dict[str, Any] = json.loads(body)
        created_at = data["created_at"]
        return Subscription(
            id=data["id"],
            channel_id=data["channel_id"],
            targets=tuple(data["targets"]),
            at=time.fromisoformat(data["at"]),
            tz=data["tz"],
            days=Days(data["days"]),
            quiet=data["quiet"],
            created_by=data["created_by"],
            created_at=None if created_at is None else _utc(created_at),
            paused=paused,
            last_result=None if last_result is None else _decode_result(last_result),
        )
    except (ValueError, KeyError, TypeError) as exc:
        # A hand-edited or half-written record: say which, rather than fail somewhere later.
        shown = body[:200]
        raise StoreError(f"a stored subscription does not read back ({exc!r}): {shown}") from exc
