"""Ways to run the DMS API simulator: on the caller's event loop, on a thread of its own for
synchronous callers, or as a process that serves until interrupted.

The simulator is a stand-in for the cloud: a real aiohttp HTTP server speaking the
background-task, instance and IAM token APIs the way the Huawei Cloud API reference and the
official SDK describe them, with AK/SK verification and fault injection. It shares no code with
the bot it serves.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

from aiohttp import web

from bot.simulator.config import SimulatorConfig
from bot.simulator.gateway import build_app
from bot.simulator.state import RunningSimulator

__all__ = ["RunningSimulator", "SimulatorThread", "build_app", "serve_forever", "start_simulator"]


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
        print(
            f"project_id {config.project_id}  region {config.region}  paging {config.paging}",
            flush=True,
        )
        for inst in sim.instances:
            print(f"  {inst.instance_id}  {inst.name}  ({len(inst.tasks)} tasks)", flush=True)
        print(
            "control: POST /_sim/faults, POST /_sim/paging, GET /_sim/stats, "
            "GET /_sim/stats/instances, POST /_sim/reset, "
            "POST /_sim/tasks, POST /_sim/tasks/{task_id}",
            flush=True,
        )
        await asyncio.Event().wait()
