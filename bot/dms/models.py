"""Wire shapes of the DMS API that are not domain records, tolerant of what the API sends.

Quirks handled here (see the DMS API reference and the official SDK's models):
- `task_count` is a string in the docs, an int in some responses, and sometimes missing;
- `begin_time` / `end_time` are `YYYYMMDDHHmmss` in UTC;
- `params` is a JSON document inside a string, an empty string, or not JSON at all (kept as
  text on `Task`, in bot/domain/tasks.py).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from bot.domain.tasks import Task

# The API caps a page of tasks at 100 (DMS.10240042 beyond that).
MAX_PAGE_SIZE = 100
# GET /instances caps a page at 50.
MAX_INSTANCE_PAGE_SIZE = 50
# begin_time / end_time: `YYYYMMDDHHmmss`, read as UTC.
API_TIME_FORMAT = "%Y%m%d%H%M%S"


def format_api_time(moment: datetime) -> str:
    """An aware datetime as the API's `YYYYMMDDHHmmss` in UTC."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        # A naive time would be read as UTC by the API and silently shift the window.
        raise ValueError("begin/end must be timezone-aware datetimes")
    return moment.astimezone(UTC).strftime(API_TIME_FORMAT)


def parse_count(value: Any) -> int | None:
    """A count the API sends as a string, an int or not at all; None when it is not usable."""
    if value is None or isinstance(value, bool):
        return None
    try:
        count = int(str(value).strip())
    except ValueError:
        return None
    return count if count >= 0 else None


class TaskPage(BaseModel):
    """One page of GET /tasks: the tasks on it and the total across all pages."""

    model_config = ConfigDict(frozen=True)

    tasks: tuple[Task, ...] = ()
    # None when the response carried no usable task_count.
    total: int | None = None
    start: int = 1
    limit: int = 10

    @classmethod
    def from_api(cls, body: dict[str, Any], *, start: int, limit: int) -> TaskPage:
        raw_tasks = body.get("tasks") or []
        tasks = tuple(Task.model_validate(t) for t in raw_tasks if isinstance(t, dict))
        return cls(tasks=tasks, total=parse_count(body.get("task_count")), start=start, limit=limit)
