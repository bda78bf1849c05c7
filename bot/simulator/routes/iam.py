"""POST /v3/auth/tokens: IAM's password method with project scope, answering in IAM's own
(Keystone) shape rather than DMS's."""

from __future__ import annotations

import json
import secrets

from aiohttp import web

from bot.simulator.errors import json_response
from bot.simulator.routes import Handler
from bot.simulator.state import RunningSimulator
from bot.simulator.timestamps import iso_ms

_TITLES = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden"}


def add_routes(app: web.Application, sim: RunningSimulator) -> None:
    app.router.add_post("/v3/auth/tokens", _issue_token(sim), name="iam_tokens")


def _iam_error(status: int, message: str) -> web.Response:
    return json_response(
        {"error": {"code": status, "message": message, "title": _TITLES.get(status, "Error")}},
        status,
    )


def _issue_token(sim: RunningSimulator) -> Handler:
    async def handle(request: web.Request) -> web.Response:
        try:
            body = json.loads(await request.read() or b"null")
            auth = body["auth"]
            methods = auth["identity"]["methods"]
            user = auth["identity"]["password"]["user"]
            name, password = str(user["name"]), str(user["password"])
            domain = str(user["domain"]["name"])
            project_scope = auth["scope"]["project"]
        except (ValueError, KeyError, TypeError):
            return _iam_error(400, "The request body is malformed.")
        if "password" not in methods:
            return _iam_error(400, "Only the password method is supported here.")
        known = sim.config.iam_users.get((domain, name))
        if known is None or not secrets.compare_digest(known, password):
            return _iam_error(401, "The username or password is wrong.")
        # A project scope names the project by id, or by its region name as the SDK does.
        project_ok = project_scope.get("id") == sim.config.project_id or (
            "id" not in project_scope and project_scope.get("name") == sim.config.region
        )
        if not project_ok:
            return _iam_error(401, "The project does not exist or is not accessible.")
        token, expires = sim.issue_token(sim.config.project_id)
        issued = sim.now()
        response = json_response(
            {
                "token": {
                    "expires_at": iso_ms(expires),
                    "issued_at": iso_ms(issued),
                    "methods": ["password"],
                    "project": {
                        "id": sim.config.project_id,
                        "name": sim.config.region,
                        "domain": {"name": domain},
                    },
                    "user": {"name": name, "domain": {"name": domain}},
                }
            },
            201,
        )
        response.headers["X-Subject-Token"] = token
        return response

    return handle
