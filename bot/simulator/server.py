"""The DMS API simulator: a real aiohttp HTTP server speaking the background-task, instance and
IAM token APIs the way the Huawei Cloud API reference and the official SDK describe them, with
AK/SK verification and fault injection.

Choices where the real API's behaviour is undocumented (each one a guess at the realistic answer):
- Auth failures of every kind on the AK/SK path (no or bad Authorization, unknown AK, bad
  signature, X-Sdk-Date missing, unparseable or more than `max_clock_skew_s` away) are 401
  APIGW.0301: API Gateway answers every IAM-auth failure with that code and only the message
  differs.
- Tokens: unknown or revoked -> 401 DMS.10240101, expired -> 401 DMS.10240102, scoped to another
  project -> 401 DMS.10240104.
- A project other than the account's, in the path or in X-Project-Id, with valid AK/SK -> 403
  DMS.00403003: the signature is fine, the identity simply holds no permission there.
- An instance id that is not a UUID -> 400 DMS.00400061; a well-formed unknown one -> 404
  DMS.00404022. An unknown task id -> 404 DMS.00404023.
- begin_time/end_time select tasks with begin <= created_at < end.
- Stats count every API request received, per route, before faults and auth are applied; auth
  rejections also count under "rejected_auth".
"""

from __future__ import annotations

import asyncio
import collections
import json
import logging
import random
import re
import secrets
import threading
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import asdict, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from bot.simulator.config import Faults, SimulatorConfig
from bot.simulator.data import SCALE_TASKS, SimInstance, build_instances, iso_ms, parse_task_time
from bot.simulator.signature import SignatureRejected, Verifier

log = logging.getLogger(__name__)

API_ROUTES = frozenset(
    {"list_tasks", "show_task", "delete_task", "task_progress", "list_instances"}
)
DELETABLE_STATUSES = frozenset({"SUCCESS", "FAILED", "CANCELLED"})
MAX_TASK_PAGE = 100
MAX_INSTANCE_PAGE = 50
# The API's own instance ids are UUIDs.
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_API_TIME = re.compile(r"^\d{14}$")
_API_TIME_FORMAT = "%Y%m%d%H%M%S"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ApiError(Exception):
    """An error answer in the DMS shape: status, error_code, error_msg."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}")
        self.status = status
        self.code = code
        self.message = message


class _FaultState:
    """The active faults and what is left of their "next N" counters; shared across threads."""

    def __init__(self, faults: Faults, seed: int) -> None:
        self._lock = threading.Lock()
        self._rng = random.Random(f"{seed}:faults")
        self._faults = replace(faults)
        self._left = replace(faults)

    def set(self, faults: Faults) -> None:
        with self._lock:
            self._faults = replace(faults)
            self._left = replace(faults)

    def current(self) -> Faults:
        with self._lock:
            return replace(self._faults)

    def remaining(self) -> Faults:
        with self._lock:
            return replace(self._left)

    def draw(self) -> tuple[str | None, Faults]:
        """The fault for the next request (drop, throttle, error, malformed or None), counting
        it down, and the settings it was drawn under."""
        with self._lock:
            for kind, attr in (
                ("drop", "drop_first"),
                ("throttle", "throttle_first"),
                ("error", "error_first"),
                ("malformed", "malformed_first"),
            ):
                left = getattr(self._left, attr)
                if left > 0:
                    setattr(self._left, attr, left - 1)
                    return kind, replace(self._faults)
            if self._faults.error_rate > 0 and self._rng.random() < self._faults.error_rate:
                return "error", replace(self._faults)
            return None, replace(self._faults)


class RunningSimulator:
    """A started simulator: where it listens, its data, and the knobs tests turn."""

    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        self.url = ""
        self.anchor = (config.now or datetime.now(UTC)).astimezone(UTC)
        self.instances: list[SimInstance] = build_instances(
            config.seed, self.anchor, config.bulk_tasks
        )
        self.stats: collections.Counter[str] = collections.Counter()
        self._stats_lock = threading.Lock()
        self._faults = _FaultState(config.faults, config.seed)
        self._clock_offset = timedelta()
        # token -> (expires_at, project_id)
        self._tokens: dict[str, tuple[datetime, str]] = {}
        rng = random.Random(f"{config.seed}:account")
        self.account_user = (f"{rng.getrandbits(128):032x}", "dms-sim-account")

    def __repr__(self) -> str:
        return f"RunningSimulator(url={self.url!r}, instances={len(self.instances)})"

    # -- knobs -------------------------------------------------------------------------------

    def set_faults(self, faults: Faults) -> None:
        self._faults.set(faults)

    @property
    def faults(self) -> Faults:
        return self._faults.current()

    def reset_stats(self) -> None:
        with self._stats_lock:
            self.stats.clear()

    def advance_clock(self, seconds: float) -> None:
        """Move the simulator's clock (signature skew, token expiry) forward without waiting."""
        self._clock_offset += timedelta(seconds=seconds)

    def revoke_tokens(self) -> None:
        """Invalidate every issued IAM token, as a password change or an admin would."""
        self._tokens.clear()

    def now(self) -> datetime:
        return datetime.now(UTC) + self._clock_offset

    def instance(self, name_or_id: str) -> SimInstance:
        return next(i for i in self.instances if name_or_id in (i.name, i.instance_id))

    def count(self, key: str) -> None:
        with self._stats_lock:
            self.stats[key] += 1

    # -- auth --------------------------------------------------------------------------------

    def issue_token(self, project_id: str) -> tuple[str, datetime]:
        token = "MIIsim" + secrets.token_urlsafe(96)
        expires = self.now() + timedelta(seconds=self.config.token_ttl_s)
        self._tokens[token] = (expires, project_id)
        return token, expires

    def authenticate(self, request: web.Request, body: bytes) -> str:
        """The project the caller is authenticated for; raises ApiError 401 otherwise."""
        token = request.headers.get("X-Auth-Token")
        if token is not None:
            entry = self._tokens.get(token.strip())
            if entry is None:
                raise ApiError(401, "DMS.10240101", "The token is invalid.")
            expires, project = entry
            if self.now() >= expires:
                raise ApiError(401, "DMS.10240102", "The token has expired.")
            return project
        self._verify_signature(request, body)
        return request.headers.get("X-Project-Id", "").strip() or self.config.project_id

    def _verify_signature(self, request: web.Request, body: bytes) -> None:
        verifier = Verifier(
            self.config.credentials, self.config.security_tokens, self.config.max_clock_skew_s
        )
        try:
            verifier.verify(
                request.method,
                request.rel_url.raw_path,
                list(request.rel_url.query.items()),
                request.headers.get,
                body,
                self.now(),
            )
        except SignatureRejected as exc:
            raise ApiError(
                401, "APIGW.0301", f"Incorrect IAM authentication information: {exc}"
            ) from None


# -- responses ---------------------------------------------------------------------------------


def _json(data: Any, status: int = 200) -> web.Response:
    return web.Response(
        status=status,
        body=json.dumps(data, ensure_ascii=False).encode("utf-8"),
        content_type="application/json",
        charset="utf-8",
    )


def _error(err: ApiError, request_id: str, headers: dict[str, str] | None = None) -> web.Response:
    response = _json(
        {"error_code": err.code, "error_msg": err.message, "request_id": request_id}, err.status
    )
    if headers:
        response.headers.update(headers)
    return response


def _int_param(query: Any, name: str, default: int, *, low: int, high: int | None) -> int:
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, "DMS.00400062", f"Invalid request parameter: {name}.") from None
    if value < low:
        raise ApiError(400, "DMS.00400062", f"Invalid request parameter: {name}.")
    if high is not None and value > high:
        raise ApiError(400, "DMS.10240042", f"The {name} must not exceed {high}.")
    return value


def _time_param(query: Any, name: str) -> datetime | None:
    raw = query.get(name)
    if raw is None or raw == "":
        return None
    if not _API_TIME.match(raw):
        raise ApiError(400, "DMS.00400142", f"Invalid timestamp: {name}.")
    try:
        return datetime.strptime(raw, _API_TIME_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        raise ApiError(400, "DMS.00400142", f"Invalid timestamp: {name}.") from None


# -- the application ---------------------------------------------------------------------------


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
            response = _error(err, request_id)
        except web.HTTPException as exc:
            if exc.status == 404:
                err = ApiError(
                    404, "APIGW.0101", "The API does not exist or has not been published."
                )
            else:
                err = ApiError(exc.status, "APIGW.0201", exc.reason)
            response = _error(err, request_id)
        except Exception:
            log.exception("simulator handler failed (request %s)", request_id)
            response = _error(ApiError(500, "DMS.00500000", "Internal service error."), request_id)
        response.headers["X-Request-Id"] = request_id
        return response

    app = web.Application(middlewares=[gateway], client_max_size=1024 * 1024)
    # Path variables take any text but "/" (aiohttp's default also refuses braces), so odd ids
    # reach the handlers and get the API's own answers.
    base = "/v2/{project_id:[^/]+}/instances"
    task = base + "/{instance_id:[^/]+}/tasks/{task_id:[^/]+}"
    app.router.add_get(base, _list_instances(sim), name="list_instances")
    app.router.add_get(base + "/{instance_id:[^/]+}/tasks", _list_tasks(sim), name="list_tasks")
    app.router.add_get(task, _show_task(sim), name="show_task")
    app.router.add_delete(task, _delete_task(sim), name="delete_task")
    app.router.add_get(task + "/progress", _task_progress(sim), name="task_progress")
    app.router.add_post("/v3/auth/tokens", _issue_token(sim), name="iam_tokens")
    app.router.add_post("/_sim/faults", _set_faults(sim), name="sim_faults_set")
    app.router.add_get("/_sim/faults", _get_faults(sim), name="sim_faults_get")
    app.router.add_get("/_sim/stats", _get_stats(sim), name="sim_stats")
    app.router.add_post("/_sim/reset", _reset(sim), name="sim_reset")
    app.router.add_get("/_sim/instances", _get_instances(sim), name="sim_instances")
    app.router.add_post("/_sim/clock", _advance_clock(sim), name="sim_clock")
    app.router.add_post("/_sim/revoke-tokens", _revoke(sim), name="sim_revoke")
    return app


async def _api_call(
    sim: RunningSimulator, request: web.Request, handler: Handler, route: str, request_id: str
) -> web.StreamResponse:
    sim.count(route)
    fault, faults = sim._faults.draw()
    if faults.latency_ms:
        await asyncio.sleep(faults.latency_ms / 1000)
    if fault == "drop":
        sim.count("fault_drop")
        _drop(request)
        raise asyncio.CancelledError
    if fault == "throttle":
        sim.count("fault_throttle")
        return _error(
            ApiError(
                429,
                "APIGW.0308",
                "The throttling threshold has been reached: policy user "
                "over ratelimit,limit:200,time:1 second",
            ),
            request_id,
            {"Retry-After": str(faults.retry_after_s)},
        )
    if fault == "error":
        sim.count("fault_error")
        raise ApiError(500, "DMS.00500000", "Internal service error.")
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
        raw = response.body if isinstance(response, web.Response) else None
        text = bytes(raw) if isinstance(raw, bytes | bytearray) and len(raw) > 1 else b'{"task_'
        return web.Response(
            status=200,
            body=text[: max(1, len(text) // 2)],
            content_type="application/json",
            charset="utf-8",
        )
    return response


def _drop(request: web.Request) -> None:
    """Close the connection with nothing sent, as a reset load balancer does."""
    transport = request.transport
    if transport is not None:
        transport.abort()


def _instance_of(sim: RunningSimulator, request: web.Request) -> SimInstance:
    instance_id = request.match_info["instance_id"]
    if not _UUID.match(instance_id):
        raise ApiError(400, "DMS.00400061", "Invalid instance ID format.")
    for inst in sim.instances:
        if inst.instance_id == instance_id:
            return inst
    raise ApiError(404, "DMS.00404022", "This instance does not exist.")


def _task_of(sim: RunningSimulator, request: web.Request) -> tuple[SimInstance, dict[str, Any]]:
    inst = _instance_of(sim, request)
    task = inst.find_task(request.match_info["task_id"])
    if task is None:
        raise ApiError(404, "DMS.00404023", "The background task does not exist.")
    return inst, task


def _list_tasks(sim: RunningSimulator) -> Handler:
    async def handle(request: web.Request) -> web.Response:
        inst = _instance_of(sim, request)
        query = request.rel_url.query
        start = _int_param(query, "start", 1, low=1, high=None)
        limit = _int_param(query, "limit", 10, low=1, high=MAX_TASK_PAGE)
        begin = _time_param(query, "begin_time")
        end = _time_param(query, "end_time")
        selected = inst.tasks
        if begin is not None or end is not None:
            selected = [
                t
                for t in inst.tasks
                if (begin is None or begin <= inst.created_of(t))
                and (end is None or inst.created_of(t) < end)
            ]
        page = selected[start - 1 : start - 1 + limit]
        return _json({"task_count": str(len(selected)), "tasks": page})

    return handle


def _show_task(sim: RunningSimulator) -> Handler:
    async def handle(request: web.Request) -> web.Response:
        _, task = _task_of(sim, request)
        return _json({"task_count": "1", "tasks": [task]})

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
        created_ms = int(created.timestamp() * 1000)
        active = task.get("status") in {"CREATED", "EXECUTING"}
        if active:
            elapsed = max(0.0, (sim.now() - created).total_seconds())
            # Scale-out tasks report an estimate that stalls below 100 while still running.
            expected = 600.0
            percent = min(95, int(elapsed / expected * 100))
            remain = max(60, int(expected - elapsed))
        else:
            percent, remain = 100, 0
        steps: list[dict[str, Any]] = []
        if task.get("name") in SCALE_TASKS:
            names = ("prepare", "expand_disk", "rebalance", "finish")
            done = len(names) if not active else min(len(names) - 1, percent * len(names) // 100)
            step_ms = 60_000
            for i, name in enumerate(names):
                state = "SUCCESS" if i < done else ("EXECUTING" if i == done else "CREATED")
                steps.append(
                    {
                        "name": name,
                        "statue": state,
                        "start_time": created_ms + i * step_ms if i <= done else None,
                        "end_time": created_ms + (i + 1) * step_ms if i < done else None,
                    }
                )
        return _json({"progress_percentage": percent, "remain_time": remain, "step_list": steps})

    return handle


def _list_instances(sim: RunningSimulator) -> Handler:
    async def handle(request: web.Request) -> web.Response:
        query = request.rel_url.query
        offset = _int_param(query, "offset", 0, low=0, high=None)
        limit = _int_param(query, "limit", 10, low=1, high=MAX_INSTANCE_PAGE)
        engine = query.get("engine", "")
        name = query.get("name", "")
        exact = query.get("exact_match_name", "false").lower() == "true"
        wanted_id = query.get("instance_id", "")
        status = query.get("status", "")
        selected = []
        for inst in sorted(sim.instances, key=lambda i: i.created_at, reverse=True):
            if engine and engine.lower() != "kafka":
                continue
            if name and (inst.name != name if exact else name.lower() not in inst.name.lower()):
                continue
            if wanted_id and inst.instance_id != wanted_id:
                continue
            if status and inst.status != status:
                continue
            selected.append(inst.as_api(sim.account_user))
        return _json(
            {"instances": selected[offset : offset + limit], "instance_num": len(selected)}
        )

    return handle


def _iam_error(status: int, message: str) -> web.Response:
    # IAM answers in the Keystone shape, not the DMS one.
    titles = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden"}
    return _json(
        {"error": {"code": status, "message": message, "title": titles.get(status, "Error")}},
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
        project_ok = project_scope.get("id") == sim.config.project_id or (
            "id" not in project_scope and project_scope.get("name") == sim.config.region
        )
        if not project_ok:
            return _iam_error(401, "The project does not exist or is not accessible.")
        token, expires = sim.issue_token(sim.config.project_id)
        issued = sim.now()
        response = _json(
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


# -- control routes ----------------------------------------------------------------------------


def _set_faults(sim: RunningSimulator) -> Handler:
    async def handle(request: web.Request) -> web.Response:
        try:
            data = json.loads(await request.read() or b"{}")
            if not isinstance(data, dict):
                raise ValueError("the body must be a JSON object")
            faults = Faults.from_mapping(data)
        except ValueError as exc:
            return _json({"error": str(exc)}, 400)
        sim.set_faults(faults)
        return _json(asdict(faults))

    return handle


def _get_faults(sim: RunningSimulator) -> Handler:
    async def handle(request: web.Request) -> web.Response:
        return _json({"faults": asdict(sim.faults), "remaining": asdict(sim._faults.remaining())})

    return handle


def _get_stats(sim: RunningSimulator) -> Handler:
    async def handle(request: web.Request) -> web.Response:
        return _json(dict(sim.stats))

    return handle


def _reset(sim: RunningSimulator) -> Handler:
    async def handle(request: web.Request) -> web.Response:
        sim.reset_stats()
        return _json({})

    return handle


def _get_instances(sim: RunningSimulator) -> Handler:
    async def handle(request: web.Request) -> web.Response:
        return _json(
            [
                {"name": i.name, "instance_id": i.instance_id, "task_count": len(i.tasks)}
                for i in sim.instances
            ]
        )

    return handle


def _advance_clock(sim: RunningSimulator) -> Handler:
    async def handle(request: web.Request) -> web.Response:
        try:
            data = json.loads(await request.read() or b"{}")
            seconds = float(data["advance_s"])
        except (ValueError, KeyError, TypeError):
            return _json({"error": 'expected {"advance_s": <seconds>}'}, 400)
        sim.advance_clock(seconds)
        return _json({"now": iso_ms(sim.now())})

    return handle


def _revoke(sim: RunningSimulator) -> Handler:
    async def handle(request: web.Request) -> web.Response:
        sim.revoke_tokens()
        return _json({})

    return handle


# -- starters ----------------------------------------------------------------------------------


@asynccontextmanager
async def start_simulator(
    config: SimulatorConfig | None = None, host: str = "127.0.0.1", port: int = 0
) -> AsyncIterator[RunningSimulator]:
    """Serve the simulator on the current event loop for the duration of the block."""
    sim = RunningSimulator(config or SimulatorConfig())
    runner = web.AppRunner(build_app(sim), access_log=None, handle_signals=False)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        bound_host, bound_port = runner.addresses[0][:2]
        shown = f"[{bound_host}]" if ":" in bound_host else bound_host
        sim.url = f"http://{shown}:{bound_port}"
        yield sim
    finally:
        await runner.cleanup()


class SimulatorThread:
    """The simulator on its own thread and event loop, for synchronous callers."""

    def __init__(
        self, config: SimulatorConfig | None = None, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self._config = config
        self._host = host
        self._port = port
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._running: RunningSimulator | None = None
        self._failure: BaseException | None = None

    def __enter__(self) -> RunningSimulator:
        self._thread = threading.Thread(target=self._run, name="dms-simulator", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._failure is not None:
            raise RuntimeError("the DMS simulator failed to start") from self._failure
        assert self._running is not None
        return self._running

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None and self._stop is not None:
            with suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join()

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:
            self._failure = exc
        finally:
            self._ready.set()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        async with start_simulator(self._config, self._host, self._port) as sim:
            self._running = sim
            self._ready.set()
            await self._stop.wait()


async def serve_forever(config: SimulatorConfig, host: str, port: int) -> None:
    """Run the simulator until interrupted, announcing where it listens and what it holds."""
    async with start_simulator(config, host, port) as sim:
        print(f"DMS API simulator listening on {sim.url}", flush=True)
        print(f"project_id {config.project_id}  region {config.region}", flush=True)
        for inst in sim.instances:
            print(f"  {inst.instance_id}  {inst.name}  ({len(inst.tasks)} tasks)", flush=True)
        print("control: POST /_sim/faults, GET /_sim/stats, POST /_sim/reset", flush=True)
        await asyncio.Event().wait()
