"""`dms-tasks-bot simulate`: the simulator's command-line flags."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

from bot.simulator.config import (
    DEMO_AK,
    DEMO_PROJECT_ID,
    DEMO_SK,
    PAGING_MODES,
    Faults,
    SimulatorConfig,
    check_extras,
)


def add_cli_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8780, help="port (0 picks a free one)")
    parser.add_argument("--latency-ms", type=int, default=0, help="delay added to every response")
    parser.add_argument(
        "--throttle-first", type=int, default=0, help="answer the first N requests with 429"
    )
    parser.add_argument(
        "--retry-after", type=int, default=1, help="Retry-After seconds of those 429s"
    )
    parser.add_argument(
        "--error-first", type=int, default=0, help="answer the first N requests with 500"
    )
    parser.add_argument(
        "--malformed-first", type=int, default=0, help="truncate the first N response bodies"
    )
    parser.add_argument(
        "--drop-first", type=int, default=0, help="close the first N connections unanswered"
    )
    parser.add_argument(
        "--error-rate", type=float, default=0.0, help="probability of a random 500 (0..1)"
    )
    parser.add_argument("--seed", type=int, default=7, help="seed of the generated data")
    parser.add_argument(
        "--now",
        default=None,
        help="ISO-8601 UTC anchor of the generated data (default: start time)",
    )
    parser.add_argument(
        "--bulk-tasks", type=int, default=3000, help="tasks on the busy instance bulk-audit"
    )
    parser.add_argument(
        "--extra-instances",
        type=int,
        default=0,
        help="more instances (extra-001, …) beyond the seeded ones, for load figures",
    )
    parser.add_argument(
        "--tasks-per-extra", type=int, default=500, help="settled tasks on each extra instance"
    )
    parser.add_argument(
        "--extra-span-days",
        type=float,
        default=14.0,
        help="days before the anchor the extra instances' tasks are spread over",
    )
    parser.add_argument(
        "--running-per-extra",
        type=int,
        default=0,
        help="tasks still EXECUTING on each extra instance (started 1-3 h ago)",
    )
    parser.add_argument(
        "--paging",
        choices=PAGING_MODES,
        default="start",
        help="how the task list reads its paging arguments: start (1-based start, offset "
        "ignored), offset (0-based offset, start ignored) or clamp50 (start, limit capped at 50)",
    )
    parser.add_argument("--ak", default=None, help="access key to accept")
    parser.add_argument("--sk", default=None, help="secret key of that access key")
    parser.add_argument("--project-id", default=None, help="the project that exists")


def config_from_cli(
    ns: argparse.Namespace, env_ak: str | None, env_sk: str | None, env_project: str | None
) -> SimulatorConfig:
    """Flags win over the HUAWEICLOUD_SDK_* values handed in; the demo credentials fill the gap,
    so a bot started with the same environment signs requests this simulator accepts."""
    if ns.ak or ns.sk:
        if not (ns.ak and ns.sk):
            raise ValueError("--ak and --sk go together: give both, or neither.")
        credentials = {ns.ak: ns.sk}
    elif env_ak and env_sk:
        credentials = {env_ak: env_sk}
    else:
        credentials = {DEMO_AK: DEMO_SK}
    now = None
    if getattr(ns, "now", None):
        try:
            parsed = datetime.fromisoformat(ns.now.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(
                f"--now {ns.now[:40]!r} is not an ISO-8601 time: use e.g. 2026-12-01T09:00:00Z."
            ) from None
        now = parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    flags = {
        "latency_ms": "--latency-ms",
        "throttle_first": "--throttle-first",
        "retry_after_s": "--retry-after",
        "error_first": "--error-first",
        "malformed_first": "--malformed-first",
        "drop_first": "--drop-first",
        "error_rate": "--error-rate",
    }
    values = {
        "latency_ms": ns.latency_ms,
        "throttle_first": ns.throttle_first,
        "retry_after_s": ns.retry_after,
        "error_first": ns.error_first,
        "malformed_first": ns.malformed_first,
        "drop_first": ns.drop_first,
        "error_rate": ns.error_rate,
    }
    try:
        faults = Faults.from_mapping(values)
    except ValueError as exc:
        message = str(exc)
        for field, flag in flags.items():
            message = message.replace(field, flag)
        raise ValueError(f"{message}.") from None
    if ns.bulk_tasks < 0 or ns.bulk_tasks > 1_000_000:
        raise ValueError("--bulk-tasks must be from 0 to 1000000.")
    extras = {
        "extra_instances": ("--extra-instances", getattr(ns, "extra_instances", 0)),
        "tasks_per_extra": ("--tasks-per-extra", getattr(ns, "tasks_per_extra", 500)),
        "extra_span_days": ("--extra-span-days", getattr(ns, "extra_span_days", 14.0)),
        "running_per_extra": ("--running-per-extra", getattr(ns, "running_per_extra", 0)),
    }
    try:
        check_extras(*(value for _, value in extras.values()))
    except ValueError as exc:
        message = str(exc)
        for field, (flag, _) in extras.items():
            message = message.replace(field, flag)
        raise ValueError(f"{message}.") from None
    return SimulatorConfig(
        credentials=credentials,
        project_id=ns.project_id or env_project or DEMO_PROJECT_ID,
        seed=ns.seed,
        now=now,
        bulk_tasks=ns.bulk_tasks,
        faults=faults,
        paging=getattr(ns, "paging", "start"),
        **{field: value for field, (_, value) in extras.items()},
    )
