"""A real redis-server for the store's tests, on a free loopback port, stopped afterwards.

Readiness is seen by connecting and getting PONG, retried in short steps up to a bound, never by
sleeping a fixed time. Without redis-server on PATH the Redis tests skip on a workstation and
fail under CI (CI set): CI must never pass by skipping them."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

MISSING = (
    "redis-server is not on PATH; scripts/install-test-deps installs it "
    "(Debian's redis-server package)"
)
START_TIMEOUT_S = 10.0
STEP_S = 0.02
PORT_ATTEMPTS = 5


def require_redis_server() -> str:
    found = shutil.which("redis-server")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail(MISSING, pytrace=False)
        pytest.skip(MISSING)
    return found


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def answers_ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            # NOAUTH is an answer too: a server started with --requirepass is up.
            return sock.recv(64).startswith((b"+PONG", b"-NOAUTH"))
    except OSError:
        return False


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _start(
    binary: str, workdir: Path, port: int, extra: tuple[str, ...]
) -> subprocess.Popen[bytes] | None:
    """The running server, or None when it exited (the port was taken in between)."""
    log = workdir / f"redis-{port}.log"
    process = subprocess.Popen(
        # No persistence: every start is empty, and nothing is written outside workdir.
        [
            *(binary, "--port", str(port), "--bind", "127.0.0.1"),
            *("--save", "", "--appendonly", "no", "--dir", str(workdir), "--logfile", str(log)),
            *extra,
        ],
        cwd=workdir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return None
        if answers_ping(port):
            return process
        time.sleep(STEP_S)
    _stop(process)
    output = log.read_text(errors="replace") if log.exists() else ""
    pytest.fail(f"redis-server on port {port} did not answer PING in {START_TIMEOUT_S}s\n{output}")


@contextmanager
def redis_server(workdir: Path, *extra: str) -> Iterator[str]:
    """Yields the server's URL, redis://127.0.0.1:<port>/0; `extra` are more server options."""
    binary = require_redis_server()
    for _ in range(PORT_ATTEMPTS):
        port = free_port()
        process = _start(binary, workdir, port, extra)
        if process is not None:
            break
    else:
        pytest.fail(f"redis-server would not start in {PORT_ATTEMPTS} tries; see logs in {workdir}")
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        _stop(process)
