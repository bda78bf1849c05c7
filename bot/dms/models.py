"""Wire shapes of the DMS API that are not domain records, tolerant of what the API sends.

Quirks handled here (see the DMS API reference and the official SDK's models):
- `task_count` is a string in the docs, an int in some responses, and sometimes missing;
- `begin_time` / `end_time` are `YYYYMMDDHHmmss` in UTC;
- `params` is a JSON document inside a string, an empty string, or not JSON at all (kept as
  text on `Task`, in bot/domain/tasks.py);
- GET .../tasks/{id}/progress answers `{progress_percentage, remain_time, step_list}` for scale
  tasks. The official SDK types both numbers as int and documents neither unit; remain_time is
  read as seconds (inferred: the console shows minutes, and an estimate of "600" for a
  ten-minute expansion reads right only as seconds). Each step's status is spelled `statue`
  (COMPLETED / IN_PROGRESS / FAILED / WAITING in the SDK's docs), its times are epoch ms.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from bot.domain.tasks import Task, parse_api_time

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


def _number(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(str(value).strip())
    except ValueError:
        return None
    return number if number == number and abs(number) != float("inf") else None


class ProgressStep(BaseModel):
    """One step of a scale task (prepare, expand disk, rebalance, …)."""

    model_config = ConfigDict(frozen=True)

    name: str
    status: str = ""  # as the API spells it: COMPLETED, IN_PROGRESS, … (or SUCCESS, EXECUTING)
    started_at: datetime | None = None
    ended_at: datetime | None = None

    @property
    def in_progress(self) -> bool:
        return self.status.upper() in {"IN_PROGRESS", "EXECUTING", "RUNNING"}


class TaskProgress(BaseModel):
    """What GET .../tasks/{task_id}/progress says about a running scale task."""

    model_config = ConfigDict(frozen=True)

    percentage: int  # 0..100
    remain_s: int | None = None  # None when the API sent no usable estimate
    steps: tuple[ProgressStep, ...] = ()

    @property
    def current_step(self) -> ProgressStep | None:
        return next((s for s in self.steps if s.in_progress), None)

    @classmethod
    def from_api(cls, body: dict[str, Any]) -> TaskProgress | None:
        """The progress in `body`, or None when it carries no percentage (a task that reports
        no progress)."""
        percentage = _number(body.get("progress_percentage"))
        if percentage is None:
            return None
        remain = _number(body.get("remain_time"))
        steps = []
        for raw in body.get("step_list") or ():
            if not isinstance(raw, dict) or not str(raw.get("name") or "").strip():
                continue
            steps.append(
                ProgressStep(
                    name=str(raw["name"]),
                    status=str(raw.get("statue") or raw.get("status") or ""),
                    started_at=parse_api_time(raw.get("start_time")),
                    ended_at=parse_api_time(raw.get("end_time")),
                )
            )
        return cls(
            percentage=int(min(max(percentage, 0.0), 100.0)),
            remain_s=int(remain) if remain is not None and remain >= 0 else None,
            steps=tuple(steps),
        )
