"""The simulator's API Gateway: the aiohttp application, and what stands in front of every DMS
API route (request id, faults, authentication, project check, the gateway's error shapes).

Choices where the real API's behaviour is undocumented (each one a guess at the realistic answer):
- Auth failures of every kind on the AK/SK path (no or bad Authorization, unknown AK, bad
  signature, X-Sdk-Date missing, unparseable or more than `max_clock_skew_s` away) are 401
  APIGW.0301: API Gateway answers every IAM-auth failure with that code and only the message
  differs.
- Tokens: unknown or revoked -> 401 DMS.10240101, expired -> 401 DMS.10240102, scoped to another
  project -> 401 DMS.10240104.
- A project other than the account's, in the path or in X-Project-Id, with valid AK/SK -> 403
  DMS.00403003: the signature is fine, the identity simply holds no permission there.
- Stats count every API request received, per route, before faults and auth are applied; auth
  rejections also count under "rejected_auth". Requests about one instance are also counted
  per instance id (GET /_sim/stats/instances).
"""

from __future__ import annotations

import logging
import uuid

from aiohttp import web

from bot.simulator import faults
from bot.simulator.errors import ApiError, error_response
from bot.simulator.routes import Handler, control, iam, instances, tasks
from bot.simulator.state import RunningSimulator

log = logging.getLogger(__name__)

# The routes that are the cloud's DMS API; IAM and /_sim routes pass the gateway untouched.
API_ROUTES = frozenset(
    {"list_tasks", "show_task", "delete_task", "task_progress", "list_instances"}
)


def build_app(sim: RunningSimulator) -> web.Application:
    @web.middleware
    async def gateway(request: web.Request, handler: Handler) -> web.StreamResponse:
        request_id = uuid.uuid4().hex
        route = request.match_info.route.name
        try:
            if route in API_ROUTES:
                response = await _api_call(sim, request, handler, route, request_id)
            else:
                response = await handler(request)
        except ApiError as err:
            response = error_response(err, request_id)
        except web.HTTPException as exc:
            if exc.status == 404:
                err = ApiError(
                    404, "APIGW.0101", "The API does not exist or has not been published."
                )
            else:
                err = ApiError(exc.status, "APIGW.0201", exc.reason)
            response = error_response(err, request_id)
        except Exception:
            log.exception("simulator handler failed (request %s)", request_id)
            response = error_response(
                ApiError(500, "DMS.00500000", "Internal service error."), request_id
            )
        response.headers["X-Request-Id"] = request_id
        return response

    app = web.Application(middlewares=[gateway], client_max_size=1024 * 1024)
    instances.add_routes(app, sim)
    tasks.add_routes(app, sim)
    iam.add_routes(app, sim)
    control.add_routes(app, sim)
    return app


async def _api_call(
    sim: RunningSimulator, request: web.Request, handler: Handler, route: str, request_id: str
) -> web.StreamResponse:
    sim.count(route)
    if instance_id := request.match_info.get("instance_id"):
        sim.count_for(instance_id, route)
    fault, settings = sim.draw_fault()
    # Faults come before the signature check, as a throttling or failing gateway answers
    # without looking at who asks.
    early = await faults.before_handler(fault, settings, request, request_id, sim.count)
    if early is not None:
        return early
    body = await request.read()
    try:
        project = sim.authenticate(request, body)
    except ApiError:
        sim.count("rejected_auth")
        raise
    path_project = request.match_info["project_id"]
    if path_project != sim.config.project_id or project != sim.config.project_id:
        if request.headers.get("X-Auth-Token") is not None:
            raise ApiError(401, "DMS.10240104", "The token does not match the project.")
        raise ApiError(403, "DMS.00403003", "You do not have permission to perform this operation.")
    response = await handler(request)
    if fault == "malformed":
        sim.count("fault_malformed")
        return faults.truncated(response)
    return response
