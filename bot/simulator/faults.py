"""Fault injection in front of the DMS API routes: which fault the next request gets, and what
each fault does to it."""

from __future__ import annotations

import asyncio
import random
import threading
from collections.abc import Callable
from dataclasses import replace

from aiohttp import web

from bot.simulator.config import Faults
from bot.simulator.errors import ApiError, error_response

# The order in which "next N" counters are used up when several are set.
_COUNTED = (
    ("drop", "drop_first"),
    ("throttle", "throttle_first"),
    ("error", "error_first"),
    ("malformed", "malformed_first"),
)


class FaultState:
    """The active faults and what is left of their "next N" counters.

    Tests set faults from their own thread while the server's loop draws them: a lock keeps a
    counter from being spent twice."""

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
            for kind, attr in _COUNTED:
                left = getattr(self._left, attr)
                if left > 0:
                    setattr(self._left, attr, left - 1)
                    return kind, replace(self._faults)
            if self._faults.error_rate > 0 and self._rng.random() < self._faults.error_rate:
                return "error", replace(self._faults)
            return None, replace(self._faults)


async def before_handler(
    fault: str | None,
    faults: Faults,
    request: web.Request,
    request_id: str,
    count: Callable[[str], None],
) -> web.Response | None:
    """Apply the latency and a fault that replaces the answer; None lets the request through.

    Raises ApiError for an injected 500, and CancelledError once the connection is dropped."""
    if faults.latency_ms:
        await asyncio.sleep(faults.latency_ms / 1000)
    if fault == "drop":
        count("fault_drop")
        _drop(request)
        raise asyncio.CancelledError
    if fault == "throttle":
        count("fault_throttle")
        return error_response(
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
        count("fault_error")
        raise ApiError(500, "DMS.00500000", "Internal service error.")
    return None


def truncated(response: web.StreamResponse) -> web.Response:
    """The answer cut in half, as a proxy that loses the connection mid-body would deliver."""
    raw = response.body if isinstance(response, web.Response) else None
    # A bodiless answer (204) still has to come out as broken JSON.
    text = bytes(raw) if isinstance(raw, bytes | bytearray) and len(raw) > 1 else b'{"task_'
    return web.Response(
        status=200,
        body=text[: max(1, len(text) // 2)],
        content_type="application/json",
        charset="utf-8",
    )


def _drop(request: web.Request) -> None:
    """Close the connection with nothing sent, as a reset load balancer does."""
    transport = request.transport
    if transport is not None:
        transport.abort()
