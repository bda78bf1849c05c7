"""Background task records and instances as the bot understands them, tolerant of what the real
API actually sends (see bot/dms/models.py for the wire quirks):
- statuses beyond the documented six must be kept, not rejected;
- timestamps come with or without milliseconds;
- fields may be missing, and extra fields appear.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator


class TaskStatus(StrEnum):
    CREATED = "CREATED"
    EXECUTING = "EXECUTING"
    SUCCESS = "SUCCESS"
    FAILED = "FAILED"
    DELETED = "DELETED"
    CANCELLED = "CANCELLED"


# A task in one of these states may still change; a window holding one is never "settled".
ACTIVE_STATUSES = frozenset({TaskStatus.CREATED, TaskStatus.EXECUTING})
# The statuses known to be final. Anything else (a ROLLING_BACK the docs never listed, an empty
# status) may still change, so it counts and shows as in progress, never as done.
FINISHED_STATUSES = frozenset(
    {TaskStatus.SUCCESS, TaskStatus.FAILED, TaskStatus.DELETED, TaskStatus.CANCELLED}
)


def is_finished(status: str) -> bool:
    return status.strip().upper() in FINISHED_STATUSES


def parse_api_time(value: Any) -> datetime | None:
    """ISO-8601 with or without milliseconds/zone, `YYYYMMDDHHmmss`, or epoch milliseconds;
    always aware UTC, or None when it is none of these."""
    if value is None or value == "":
        return None
    if isinstance(value, str) and len(value.strip()) == 14 and value.strip().isdigit():
        # The API's own query format, YYYYMMDDHHmmss in UTC: some answers echo it back. As epoch
        # milliseconds it would read as a moment in 2603.
        try:
            return datetime.strptime(value.strip(), "%Y%m%d%H%M%S").replace(tzinfo=UTC)
        except ValueError:
            return None
    if isinstance(value, int | float) or (isinstance(value, str) and value.isdigit()):
        try:
            return datetime.fromtimestamp(int(value) / 1000, tz=UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            return None
    else:
        return None
    if parsed.tzinfo is None:
        # The API documents every timestamp as UTC even when the zone designator is missing.
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


class Task(BaseModel):
    """One background task record."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: str = ""
    name: str = ""
    user_name: str = ""
    user_id: str = ""
    params_raw: str = Field(default="", alias="params")
    status: str = ""
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @field_validator("id", "name", "user_name", "user_id", "status", mode="before")
    @classmethod
    def _text(cls, value: Any) -> str:
        return "" if value is None else str(value)

    @field_validator("params_raw", mode="before")
    @classmethod
    def _params_text(cls, value: Any) -> str:
        if value is None:
            return ""
        if isinstance(value, str):
            return value
        # Some gateways hand back the object already decoded; keep it as the JSON text it was.
        return json.dumps(value, ensure_ascii=False)

    @field_validator("created_at", "updated_at", mode="before")
    @classmethod
    def _time(cls, value: Any) -> datetime | None:
        return parse_api_time(value)

    @property
    def status_upper(self) -> str:
        return self.status.upper()

    @property
    def is_active(self) -> bool:
        """Not known to be finished: queued, running, or a status the API never documented."""
        return not is_finished(self.status)

    @property
    def params(self) -> Any:
        """The decoded params document; the raw text when it is not JSON; None when empty."""
        text = self.params_raw.strip()
        if not text:
            return None
        try:
            return json.loads(text)
        except ValueError:
            return self.params_raw

    @property
    def has_params(self) -> bool:
        value = self.params
        return value not in (None, {}, [], "")


class TaskWindow(BaseModel):
    """Every task of an instance inside [begin, end), fetched across all pages."""

    model_config = ConfigDict(frozen=True)

    tasks: tuple[Task, ...]
    begin: datetime | None
    end: datetime | None
    fetched_at: datetime
    # The API's task_count for the window (None when it sent none). More than len(tasks) means
    # the API returned fewer tasks than it counted, even after paging every way it could be read.
    reported_total: int | None = None

    @property
    def settled(self) -> bool:
        """True when nothing in this window can change any more (see cache lifetimes)."""
        return (
            self.end is not None
            and self.end <= self.fetched_at
            and not any(t.is_active for t in self.tasks)
        )


class Instance(BaseModel):
    """One entry of GET /v2/{project_id}/instances."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    instance_id: str
    name: str = ""
    engine: str = ""
    engine_version: str = ""
    status: str = ""
    specification: str = ""
    created_at: datetime | None = None

    @field_validator("name", "engine", "engine_version", "status", "specification", mode="before")
    @classmethod
    def _text(cls, value: Any) -> str:
        return "" if value is None else str(value)

    @field_validator("created_at", mode="before")
    @classmethod
    def _time(cls, value: Any) -> datetime | None:
        return parse_api_time(value)
