"""A monotonic clock that moves only when the code under test sleeps: backoff, spacing and
schedules are asserted in the code's own time, never the machine's."""

from __future__ import annotations

import asyncio


class FakeTime:
    def __init__(self, start: float = 0.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        # Let other tasks run, as a real sleep would.
        await asyncio.sleep(0)
