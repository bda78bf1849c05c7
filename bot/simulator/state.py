"""A started simulator's state: its data, clock, issued tokens, faults and request counts, and
how a request proves who it is."""

from __future__ import annotations

import collections
import json
import random
import secrets
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from bot.simulator.config import Faults, SimulatorConfig, check_paging
from bot.simulator.data import SimInstance, build_extra_instances, build_instances
from bot.simulator.errors import ApiError
from bot.simulator.faults import FaultState
from bot.simulator.signature import SignatureRejected, Verifier
from bot.simulator.timestamps import iso_ms

TASK_STATUSES = frozenset({"CREATED", "EXECUTING", "SUCCESS", "FAILED", "CANCELLED", "DELETED"})


class RunningSimulator:
    """A started simulator: where it listens, its data, and the knobs tests turn."""

    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        self.url = ""
        self.anchor = (config.now or datetime.now(UTC)).astimezone(UTC)
        self.instances: list[SimInstance] = build_instances(
            config.seed, self.anchor, config.bulk_tasks
        ) + build_extra_instances(
            config.seed,
            self.anchor,
            config.extra_instances,
            config.tasks_per_extra,
            config.extra_span_days,
            config.running_per_extra,
        )
        self.stats: collections.Counter[str] = collections.Counter()
        # The same API requests counted per instance (tasks routes only): instance id -> route.
        self.instance_stats: dict[str, collections.Counter[str]] = {}
        self._stats_lock = threading.Lock()
        self._tasks_lock = threading.Lock()
        self._faults = FaultState(config.faults, config.seed)
        self._paging = config.paging
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

    def remaining_faults(self) -> Faults:
        """What is left of the "next N" counters."""
        return self._faults.remaining()

    def draw_fault(self) -> tuple[str | None, Faults]:
        return self._faults.draw()

    @property
    def paging(self) -> str:
        """How the task list reads its paging arguments now (see config.PAGING_MODES)."""
        return self._paging

    def set_paging(self, mode: str) -> None:
        self._paging = check_paging(mode)

    def reset_stats(self) -> None:
        with self._stats_lock:
            self.stats.clear()
            self.instance_stats.clear()

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

    # -- tasks that happen while a test runs --------------------------------------------------

    def add_task(
        self,
        instance: str,
        name: str,
        status: str,
        *,
        created: datetime | None = None,
        user_name: str = "alice.ops",
        params: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """A new task record on `instance` (name or id), created now unless told; what a
        console action would add while the bot is watching."""
        if status not in TASK_STATUSES:
            raise ValueError(f"status must be one of {sorted(TASK_STATUSES)}")
        inst = self.instance(instance)
        moment = (created or self.now()).astimezone(UTC)
        task = {
            "id": secrets.token_hex(16),
            "name": name,
            "user_name": user_name,
            "user_id": secrets.token_hex(16),
            "params": json.dumps(params, separators=(",", ":")) if params else "",
            "status": status,
            "created_at": iso_ms(moment),
            "updated_at": iso_ms(moment),
        }
        with self._tasks_lock:
            # Records are kept newest first, as the API lists them.
            at = next(
                (n for n, t in enumerate(inst.tasks) if inst.created_of(t) <= moment),
                len(inst.tasks),
            )
            inst.tasks.insert(at, task)
        return task

    def set_task_status(self, task_id: str, status: str) -> dict[str, Any]:
        """Move a task on (EXECUTING -> SUCCESS, say); its updated_at becomes now."""
        if status not in TASK_STATUSES:
            raise ValueError(f"status must be one of {sorted(TASK_STATUSES)}")
        with self._tasks_lock:
            for inst in self.instances:
                task = inst.find_task(task_id)
                if task is not None:
                    task["status"] = status
                    task["updated_at"] = iso_ms(self.now())
                    return task
        raise KeyError(task_id)

    def count(self, key: str) -> None:
        with self._stats_lock:
            self.stats[key] += 1

    def count_for(self, instance_id: str, key: str) -> None:
        """One more `key` request about `instance_id` (GET /_sim/stats/instances)."""
        with self._stats_lock:
            self.instance_stats.setdefault(instance_id, collections.Counter())[key] += 1

    def instance_counts(self) -> dict[str, dict[str, int]]:
        """A copy of the per-instance counts: instance id -> route -> requests."""
        with self._stats_lock:
            return {key: dict(counts) for key, counts in self.instance_stats.items()}

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
        # Built per request from the live config, so a test that changes the credentials or the
        # allowed skew of a running simulator sees the change at once.
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
            # API Gateway answers every AK/SK failure with APIGW.0301; only the message differs.
            raise ApiError(
                401, "APIGW.0301", f"Incorrect IAM authentication information: {exc}"
            ) from None
