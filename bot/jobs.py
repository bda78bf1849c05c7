"""Background jobs of the runtime: digests, alert pollers and watches register here, and the
runtime starts, cancels and waits on them. A job that raises is logged and restarted with
backoff: one bad poll must never take the process, or the other jobs, down."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

JobBody = Callable[[], Awaitable[None]]


@dataclass(frozen=True)
class Backoff:
    """Exponential with full jitter, capped; a job that ran fine for `reset_after_s` starts
    over from `initial_s` on its next crash."""

    initial_s: float = 1.0
    max_s: float = 60.0
    reset_after_s: float = 300.0

    def delay(self, crashes: int, rng: random.Random) -> float:
        ceiling = min(self.max_s, self.initial_s * 2 ** max(crashes - 1, 0))
        return ceiling / 2 + rng.uniform(0, ceiling / 2)


@dataclass
class JobState:
    """What /healthz and, later, /metrics say about one job."""

    name: str
    crashes: int = 0
    last_error: str = ""
    running: bool = False
    task: asyncio.Task[None] | None = field(default=None, repr=False)


class JobRegistry:
    def __init__(
        self,
        *,
        backoff: Backoff | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self._backoff = backoff or Backoff()
        self._clock = clock
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._bodies: dict[str, JobBody] = {}
        self._states: dict[str, JobState] = {}
        self._started = False

    @property
    def states(self) -> tuple[JobState, ...]:
        return tuple(self._states.values())

    def add(self, name: str, body: JobBody) -> None:
        """Registers a job; it starts with the registry, or at once if that already started."""
        if name in self._bodies:
            raise ValueError(f"a job named {name!r} is already registered")
        self._bodies[name] = body
        self._states[name] = JobState(name)
        if self._started:
            self._launch(name)

    def start(self) -> None:
        self._started = True
        for name in self._bodies:
            self._launch(name)

    def _launch(self, name: str) -> None:
        state = self._states[name]
        state.task = asyncio.create_task(self._supervise(name), name=f"job:{name}")

    async def _supervise(self, name: str) -> None:
        state = self._states[name]
        crashes = 0
        while True:
            began = self._clock()
            state.running = True
            try:
                await self._bodies[name]()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if self._clock() - began >= self._backoff.reset_after_s:
                    crashes = 0
                crashes += 1
                state.crashes += 1
                state.last_error = type(exc).__name__
                delay = self._backoff.delay(crashes, self._rng)
                log.exception(
                    "job %s failed (crash %d); restarting in %.1f s", name, crashes, delay
                )
            else:
                log.info("job %s finished", name)
                return
            finally:
                state.running = False
            await self._sleep(delay)

    async def stop(self, timeout: float = 5.0) -> None:
        """Cancels every job and waits (at most `timeout`) for them to unwind."""
        tasks = [s.task for s in self._states.values() if s.task is not None and not s.task.done()]
        for task in tasks:
            task.cancel()
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=timeout)
            for task in pending:
                log.warning("job %s did not stop within %.0f s", task.get_name(), timeout)
        self._started = False
