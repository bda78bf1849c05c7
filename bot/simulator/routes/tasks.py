"""The background-task routes: list (with paging and a created_at window), show, delete and
progress.

Choices where the real API's behaviour is undocumented:
- An instance id that is not a UUID -> 400 DMS.00400061; a well-formed unknown one -> 404
  DMS.00404022. An unknown task id -> 404 DMS.00404023.
- begin_time/end_time select tasks with begin <= created_at < end.
- A start (or offset) past the end is an empty page that still carries the total.
- Which paging argument counts depends on the simulator's paging mode (config.PAGING_MODES);
  task_count is always the total of the window across all pages, as a string.
"""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from bot.simulator.data import SCALE_TASKS, SimInstance, parse_task_time
from bot.simulator.errors import ApiError, json_response
from bot.simulator.paging import task_page
from bot.simulator.queryargs import time_param
from bot.simulator.routes import TASK_PATH, TASKS_PATH, Handler
from bot.simulator.state import RunningSimulator

DELETABLE_STATUSES = frozenset({"SUCCESS", "FAILED", "CANCELLED"})
# The API's own instance ids are UUIDs.
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_SCALE_STEPS = ("prepare", "expand_disk", "rebalance", "finish")
_STEP_MS = 60_000
# Scale-out tasks report an estimate that stalls below 100 while still running.
_EXPECTED_S = 600.0


def add_routes(app: web.Application, sim: RunningSimulator) -> None:
    app.router.add_get(TASKS_PATH, _list_tasks(sim), name="list_tasks")
    app.router.add_get(TASK_PATH, _show_task(sim), name="show_task")
    app.router.add_delete(TASK_PATH, _delete_task(sim), name="delete_task")
    app.router.add_get(TASK_PATH + "/progress", _task_progress(sim), name="task_progress")


def instance_of(sim: RunningSimulator, request: web.Request) -> SimInstance:
    instance_id = request.match_info["instance_id"]
    if not _UUID.match(instance_id):
        raise ApiError(400, "DMS.00400061", "Invalid instance ID format.")
    for inst in sim.instances:
        if inst.instance_id == instance_id:
            return inst
    raise ApiError(404, "DMS.00404022", "This instance does not exist.")


def _task_of(sim: RunningSimulator, request: web.Request) -> tuple[SimInstance, dict[str, Any]]:
    inst = instance_of(sim, request)
    task = inst.find_task(request.match_info["task_id"])
    if task is None:
        raise ApiError(404, "DMS.00404023", "The background task does not exist.")
    return inst, task


def _list_tasks(sim: RunningSimulator) -> Handler:
    async def handle(request: web.Request) -> web.Response:
        inst = instance_of(sim, request)
        query = request.rel_url.query
        first, limit = task_page(query, sim.paging)
        begin = time_param(query, "begin_time")
        end = time_param(query, "end_time")
        selected = inst.tasks
        if begin is not None or end is not None:
            selected = [
                t
                for t in inst.tasks
                if (begin is None or begin <= inst.created_of(t))
                and (end is None or inst.created_of(t) < end)
            ]
        page = selected[first : first + limit]
        return json_response({"task_count": str(len(selected)), "tasks": page})

    return handle


def _show_task(sim: RunningSimulator) -> Handler:
    async def handle(request: web.Request) -> web.Response:
        _, task = _task_of(sim, request)
        return json_response({"task_count": "1", "tasks": [task]})

    return handle


def _delete_task(sim: RunningSimulator) -> Handler:
    async def handle(request: web.Request) -> web.Response:
        inst, task = _task_of(sim, request)
        if task.get("status") not in DELETABLE_STATUSES:
            raise ApiError(
                400, "DMS.00400062", "Only SUCCESS, FAILED or CANCELLED tasks can be deleted."
            )
        inst.tasks.remove(task)
        return web.Response(status=204)

    return handle


def _task_progress(sim: RunningSimulator) -> Handler:
    async def handle(request: web.Request) -> web.Response:
        _, task = _task_of(sim, request)
        created = parse_task_time(task["created_at"])
        active = task.get("status") in {"CREATED", "EXECUTING"}
        if active:
            elapsed = max(0.0, (sim.now() - created).total_seconds())
            percent = min(95, int(elapsed / _EXPECTED_S * 100))
            remain = max(60, int(_EXPECTED_S - elapsed))
        else:
            percent, remain = 100, 0
        steps: list[dict[str, Any]] = []
        if task.get("name") in SCALE_TASKS:
            steps = _scale_steps(int(created.timestamp() * 1000), active, percent)
        return json_response(
            {"progress_percentage": percent, "remain_time": remain, "step_list": steps}
        )

    return handle


def _scale_steps(created_ms: int, active: bool, percent: int) -> list[dict[str, Any]]:
    count = len(_SCALE_STEPS)
    done = count if not active else min(count - 1, percent * count // 100)
    steps: list[dict[str, Any]] = []
    for i, name in enumerate(_SCALE_STEPS):
        state = "SUCCESS" if i < done else ("EXECUTING" if i == done else "CREATED")
        steps.append(
            {
                "name": name,
                # The API's own spelling.
                "statue": state,
                "start_time": created_ms + i * _STEP_MS if i <= done else None,
                "end_time": created_ms + (i + 1) * _STEP_MS if i < done else None,
            }
        )
    return steps
