"""The /_sim control routes: steer a running simulator (faults, paging, clock, tokens) and read its
request counts, from a test or from another process.

They stand outside the cloud's API: no auth, no faults, plain JSON answers."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from aiohttp import web

from bot.simulator.config import Faults
from bot.simulator.errors import json_response
from bot.simulator.routes import Handler
from bot.simulator.state import RunningSimulator
from bot.simulator.timestamps import iso_ms


def add_routes(app: web.Application, sim: RunningSimulator) -> None:
    app.router.add_post("/_sim/faults", _set_faults(sim), name="sim_faults_set")
    app.router.add_get("/_sim/faults", _get_faults(sim), name="sim_faults_get")
    app.router.add_post("/_sim/paging", _set_paging(sim), name="sim_paging_set")
    app.router.add_get("/_sim/paging", _get_paging(sim), name="sim_paging_get")
    app.router.add_get("/_sim/stats", _get_stats(sim), name="sim_stats")
    app.router.add_get(
        "/_sim/stats/instances", _get_instance_stats(sim), name="sim_stats_instances"
    )
    app.router.add_post("/_sim/reset", _reset(sim), name="sim_reset")
    app.router.add_get("/_sim/instances", _get_instances(sim), name="sim_instances")
    app.router.add_post("/_sim/clock", _advance_clock(sim), name="sim_clock")
    app.router.add_post("/_sim/revoke-tokens", _revoke(sim), name="sim_revoke")
    app.router.add_post("/_sim/tasks", _add_task(sim), name="sim_task_add")
    app.router.add_post("/_sim/tasks/{task_id}", _set_task_status(sim), name="sim_task_status")


async def _json_object(request: web.Request) -> dict[str, Any]:
    """The request body as a JSON object (an empty body counts as {}); ValueError otherwise."""
    data = json.loads(await request.read() or b"{}")
    if not isinstance(data, dict):
        raise ValueError("the body must be a JSON object")
    return data


def _set_faults(sim: RunningSimulator) -> Handler:
    async def handle(request: web.Request) -> web.Response:
        try:
            faults = Faults.from_mapping(await _json_object(request))
        except ValueError as exc:
            return json_response({"error": str(exc)}, 400)
        sim.set_faults(faults)
        return json_response(asdict(faults))

    return handle


def _get_faults(sim: RunningSimulator) -> Handler:
    async def handle(request: web.Request) -> web.Response:
        return json_response(
            {"faults": asdict(sim.faults), "remaining": asdict(sim.remaining_faults())}
        )

    return handle


def _set_paging(sim: RunningSimulator) -> Handler:
    async def handle(request: web.Request) -> web.Response:
        try:
            mode = (await _json_object(request))["mode"]
            if not isinstance(mode, str):
                raise ValueError("mode must be a string")
            sim.set_paging(mode)
        except KeyError:
            return json_response({"error": 'expected {"mode": "start|offset|clamp50"}'}, 400)
        except ValueError as exc:
            return json_response({"error": str(exc)}, 400)
        return json_response({"mode": sim.paging})

    return handle


def _get_paging(sim: RunningSimulator) -> Handler:
    async def handle(request: web.Request) -> web.Response:
        return json_response({"mode": sim.paging})

    return handle


def _get_stats(sim: RunningSimulator) -> Handler:
    async def handle(request: web.Request) -> web.Response:
        return json_response(dict(sim.stats))

    return handle


def _get_instance_stats(sim: RunningSimulator) -> Handler:
    async def handle(request: web.Request) -> web.Response:
        return json_response(sim.instance_counts())

    return handle


def _reset(sim: RunningSimulator) -> Handler:
    async def handle(request: web.Request) -> web.Response:
        sim.reset_stats()
        return json_response({})

    return handle


def _get_instances(sim: RunningSimulator) -> Handler:
    async def handle(request: web.Request) -> web.Response:
        return json_response(
            [
                {"name": i.name, "instance_id": i.instance_id, "task_count": len(i.tasks)}
                for i in sim.instances
            ]
        )

    return handle


def _advance_clock(sim: RunningSimulator) -> Handler:
    async def handle(request: web.Request) -> web.Response:
        try:
            seconds = float((await _json_object(request))["advance_s"])
        except (ValueError, KeyError, TypeError):
            return json_response({"error": 'expected {"advance_s": <seconds>}'}, 400)
        sim.advance_clock(seconds)
        return json_response({"now": iso_ms(sim.now())})

    return handle


def _revoke(sim: RunningSimulator) -> Handler:
    async def handle(request: web.Request) -> web.Response:
        sim.revoke_tokens()
        return json_response({})

    return handle


def _add_task(sim: RunningSimulator) -> Handler:
    async def handle(request: web.Request) -> web.Response:
        try:
            body = await _json_object(request)
            params = body.get("params")
            if params is not None and not isinstance(params, dict):
                raise ValueError("params must be an object")
            task = sim.add_task(
                str(body["instance"]),
                str(body["name"]),
                str(body.get("status", "EXECUTING")),
                user_name=str(body.get("user_name", "alice.ops")),
                params=params,
            )
        except (KeyError, StopIteration):
            return json_response(
                {
                    "error": 'expected {"instance": <name or id>, "name": <task name>, '
                    '"status"?: ..., "user_name"?: ..., "params"?: {...}} with a known instance'
                },
                400,
            )
        except ValueError as exc:
            return json_response({"error": str(exc)}, 400)
        return json_response(task)

    return handle


def _set_task_status(sim: RunningSimulator) -> Handler:
    async def handle(request: web.Request) -> web.Response:
        try:
            task = sim.set_task_status(
                request.match_info["task_id"], str((await _json_object(request))["status"])
            )
        except KeyError:
            return json_response({"error": 'expected {"status": ...} for a known task id'}, 400)
        except ValueError as exc:
            return json_response({"error": str(exc)}, 400)
        return json_response(task)

    return handle
