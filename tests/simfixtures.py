"""Helpers for the simulator's own tests: signed clients and paths."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx

from bot.dms.auth import AkSkAuth
from bot.simulator import DEMO_AK, DEMO_PROJECT_ID, DEMO_SK, RunningSimulator
from bot.simulator.data import parse_task_time

# A fixed anchor so that the seeded data is the same in every run.
FIXED_NOW = datetime(2025, 3, 14, 12, 0, 0, tzinfo=UTC)


def signed_client(
    sim: RunningSimulator,
    *,
    ak: str = DEMO_AK,
    sk: str = DEMO_SK,
    project_id: str = DEMO_PROJECT_ID,
    clock: Callable[[], datetime] | None = None,
) -> httpx.AsyncClient:
    auth = AkSkAuth(ak, sk, clock=clock) if clock else AkSkAuth(ak, sk)
    return httpx.AsyncClient(
        base_url=sim.url, auth=auth, headers={"X-Project-Id": project_id}, timeout=10
    )


def instance_id(sim: RunningSimulator, name: str) -> str:
    return sim.instance(name).instance_id


def tasks_path(instance: str, project_id: str = DEMO_PROJECT_ID) -> str:
    return f"/v2/{project_id}/instances/{instance}/tasks"


def created(task: dict[str, Any]) -> datetime:
    return parse_task_time(task["created_at"])


def api_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%d%H%M%S")
