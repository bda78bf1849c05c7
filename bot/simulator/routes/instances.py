"""GET /v2/{project_id}/instances: the project's instances, filtered and paged with a 0-based
offset as that API documents."""

from __future__ import annotations

from collections.abc import Mapping

from aiohttp import web

from bot.simulator.errors import json_response
from bot.simulator.model import SimInstance
from bot.simulator.queryargs import int_param
from bot.simulator.routes import INSTANCES_PATH, Handler
from bot.simulator.state import RunningSimulator

MAX_INSTANCE_PAGE = 50


def add_routes(app: web.Application, sim: RunningSimulator) -> None:
    app.router.add_get(INSTANCES_PATH, _list_instances(sim), name="list_instances")


def _matches(inst: SimInstance, query: Mapping[str, str]) -> bool:
    engine = query.get("engine", "")
    name = query.get("name", "")
    exact = query.get("exact_match_name", "false").lower() == "true"
    wanted_id = query.get("instance_id", "")
    status = query.get("status", "")
    if engine and engine.lower() != "kafka":
        return False
    if name and (inst.name != name if exact else name.lower() not in inst.name.lower()):
        return False
    if wanted_id and inst.instance_id != wanted_id:
        return False
    return not (status and inst.status != status)


def _list_instances(sim: RunningSimulator) -> Handler:
    async def handle(request: web.Request) -> web.Response:
        query = request.rel_url.query
        offset = int_param(query, "offset", 0, low=0, high=None)
        limit = int_param(query, "limit", 10, low=1, high=MAX_INSTANCE_PAGE)
        selected = [
            inst.as_api(sim.account_user)
            for inst in sorted(sim.instances, key=lambda i: i.created_at, reverse=True)
            if _matches(inst, query)
        ]
        return json_response(
            {"instances": selected[offset : offset + limit], "instance_num": len(selected)}
        )

    return handle
