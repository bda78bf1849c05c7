"""What a simulator run is made of: credentials, the one project, seeded data and faults."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any

DEMO_AK = "DMSBOTDEMOAK00000000"
DEMO_SK = "dms-bot-demo-secret-key"
DEMO_PROJECT_ID = "0a1b2c3d4e5f40718293a4b5c6d7e8f9"
DEMO_REGION = "sim-region-1"
# The IAM password identity the token emulation accepts by default.
DEMO_IAM_DOMAIN = "dms-bot-demo-domain"
DEMO_IAM_USER = "dms-bot-demo-user"
DEMO_IAM_PASSWORD = "dms-bot-demo-password"
# IAM hands out tokens that live 24 h.
DEFAULT_TOKEN_TTL_S = 24 * 3600

# How the gateway reads the task list's paging arguments. Nothing public settles what the live
# gateway does, so the simulator can play each plausible reading:
# - "start": `start` is the 1-based position of the first record, `offset` is ignored;
# - "offset": `offset` is the 0-based position and `start` is ignored, so a client paging with
#   `start` gets the first page again and again;
# - "clamp50": as "start", but `limit` is silently capped at 50.
PAGING_MODES = ("start", "offset", "clamp50")


def check_paging(mode: str) -> str:
    """The mode itself when it is one of PAGING_MODES; ValueError otherwise."""
    if mode not in PAGING_MODES:
        raise ValueError(f"paging must be one of {', '.join(PAGING_MODES)}, not {mode!r}")
    return mode


MAX_EXTRA_INSTANCES = 1000
MAX_TASKS_PER_EXTRA = 100_000


def check_extras(instances: int, tasks: int, span_days: float, running: int) -> None:
    """ValueError naming the first of the extra-instance settings that is out of range."""
    if not 0 <= instances <= MAX_EXTRA_INSTANCES:
        raise ValueError(f"extra_instances must be from 0 to {MAX_EXTRA_INSTANCES}")
    if not 0 <= tasks <= MAX_TASKS_PER_EXTRA:
        raise ValueError(f"tasks_per_extra must be from 0 to {MAX_TASKS_PER_EXTRA}")
    if not 1 <= span_days <= 365:
        raise ValueError("extra_span_days must be from 1 to 365")
    if not 0 <= running <= min(100, tasks):
        raise ValueError("running_per_extra must be from 0 to 100, and at most tasks_per_extra")


@dataclass
class Faults:
    """Misbehaviour injected in front of the DMS API routes (never the /_sim control routes).

    The "next N" counters count down from the moment the faults are set. When several apply to
    the same request they are tried in this order: drop, throttle, error, malformed.
    """

    latency_ms: int = 0
    throttle_first: int = 0
    retry_after_s: int = 1
    error_first: int = 0
    malformed_first: int = 0
    drop_first: int = 0
    error_rate: float = 0.0

    @classmethod
    def from_mapping(cls, data: dict[str, Any]) -> Faults:
        """Faults from a JSON object; unknown keys and wrong types are refused."""
        known = {f.name: f.type for f in fields(cls)}
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise ValueError(f"unknown fault fields: {', '.join(unknown)}")
        values: dict[str, Any] = {}
        for name, value in data.items():
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"{name} must be a number")
            if name == "error_rate":
                if not 0.0 <= float(value) <= 1.0:
                    raise ValueError("error_rate must be within 0..1")
                values[name] = float(value)
            else:
                if int(value) != value or value < 0:
                    raise ValueError(f"{name} must be a non-negative integer")
                values[name] = int(value)
        return cls(**values)


def _demo_credentials() -> dict[str, str]:
    return {DEMO_AK: DEMO_SK}


def _demo_iam_users() -> dict[tuple[str, str], str]:
    return {(DEMO_IAM_DOMAIN, DEMO_IAM_USER): DEMO_IAM_PASSWORD}


@dataclass
class SimulatorConfig:
    """One simulated account: the AK/SK pairs and IAM users it accepts, its one project, and
    the seed and time anchor of its data."""

    credentials: dict[str, str] = field(default_factory=_demo_credentials)
    project_id: str = DEMO_PROJECT_ID
    seed: int = 7
    # Aware UTC anchor of the seeded data; None means the moment the server starts.
    now: datetime | None = None
    bulk_tasks: int = 3000
    faults: Faults = field(default_factory=Faults)
    max_clock_skew_s: int = 900
    # (domain name, user name) -> password, for POST /v3/auth/tokens.
    iam_users: dict[tuple[str, str], str] = field(default_factory=_demo_iam_users)
    token_ttl_s: int = DEFAULT_TOKEN_TTL_S
    region: str = DEMO_REGION
    # ak -> the X-Security-Token its temporary credentials must carry.
    security_tokens: dict[str, str] = field(default_factory=dict)
    paging: str = "start"
    # Extra instances beyond the seeded six (extra-001, extra-002, …), for load figures: each
    # holds `tasks_per_extra` tasks, `running_per_extra` of them still EXECUTING (started one to
    # three hours ago) and the others settled over the `extra_span_days` before the anchor. They
    # draw from RNGs of their own, so the seeded instances and their data stay as they are.
    extra_instances: int = 0
    tasks_per_extra: int = 500
    extra_span_days: float = 14.0
    running_per_extra: int = 0

    def __post_init__(self) -> None:
        check_paging(self.paging)
        check_extras(
            self.extra_instances,
            self.tasks_per_extra,
            self.extra_span_days,
            self.running_per_extra,
        )

    def __repr__(self) -> str:
        # Secret keys and passwords stay out of logs and test failure output.
        return (
            f"SimulatorConfig(aks={sorted(self.credentials)}, project_id={self.project_id!r}, "
            f"seed={self.seed}, now={self.now!r}, bulk_tasks={self.bulk_tasks}, "
            f"faults={self.faults!r}, token_ttl_s={self.token_ttl_s}, paging={self.paging!r}"
            + (
                f", extra_instances={self.extra_instances}, tasks_per_extra="
                f"{self.tasks_per_extra}, extra_span_days={self.extra_span_days}, "
                f"running_per_extra={self.running_per_extra}"
                if self.extra_instances
                else ""
            )
            + ")"
        )
