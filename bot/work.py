"""Work the process has acknowledged and still owes an answer for.

With `process_before_response=False` Bolt answers Slack at ack() and runs the rest of the
listener as a background task that nothing else waits for. Listeners run their answer inside
`track()`, so that on SIGTERM the runtime can stop taking new work and still let what was acked
finish, within a bound."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class WorkTracker:
    def __init__(self) -> None:
        self.accepting = True
        self._active = 0
        self._idle = asyncio.Event()
        self._idle.set()

    @property
    def active(self) -> int:
        return self._active

    @asynccontextmanager
    async def track(self) -> AsyncIterator[None]:
        self._active += 1
        self._idle.clear()
        try:
            yield
        finally:
            self._active -= 1
            if self._active == 0:
                self._idle.set()

    def stop_accepting(self) -> None:
        self.accepting = False

    async def drain(self, timeout_s: float) -> bool:
        """Waits for tracked work to finish; False when some was still running at the bound."""
        try:
            await asyncio.wait_for(self._idle.wait(), timeout_s)
        except TimeoutError:
            return False
        return True
