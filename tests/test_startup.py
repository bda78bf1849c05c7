"""Bad settings, for every entry point: one clear message on stderr naming what to fix, exit
code 2, no traceback, and no secret echoed. Each case runs the real `dms-tasks-bot` process."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.simulator import DEMO_AK, DEMO_PROJECT_ID, DEMO_SK, SimulatorConfig, SimulatorThread
from tests.slack_mock import BOT_TOKEN

REPO = Path(__file__).resolve().parent.parent
CLOUD = {
    "HUAWEICLOUD_SDK_AK": DEMO_AK,
    "HUAWEICLOUD_SDK_SK": DEMO_SK,
    "HUAWEICLOUD_SDK_PROJECT_ID": DEMO_PROJECT_ID,
    "DMS_REGION": "cn-north-4",
}
SLACK = {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": "secret-for-startup-tests"}


def run(*args: str, env: dict[str, str], stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        cwd=REPO,
        env={"PYTHONPATH": str(REPO), **env},
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def assert_refused(result: subprocess.CompletedProcess[str], *words: str) -> None:
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert "Traceback" not in output, output
    for word in words:
        assert word in result.stderr, result.stderr


@pytest.fixture
def not_utf8(tmp_path: Path) -> Path:
    path = tmp_path / "latin1.toml"
    path.write_bytes('default_timezone = "Europe/Zürich"\n'.encode("latin-1"))
    return path


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield holder.getsockname()[1]


ENTRY_POINTS = [
    ("serve",),
    ("try", "help"),
    ("demo",),
    ("doctor",),
]


@pytest.mark.parametrize("entry", ENTRY_POINTS)
def test_a_directory_as_the_config_file_is_named(entry: tuple[str, ...], tmp_path: Path) -> None:
    result = run(*entry, env={**CLOUD, **SLACK, "DMS_BOT_CONFIG": str(tmp_path)})
    assert_refused(result, "DMS_BOT_CONFIG", "directory")


@pytest.mark.parametrize("entry", ENTRY_POINTS)
def test_a_config_file_that_is_not_utf8_is_named(entry: tuple[str, ...], not_utf8: Path) -> None:
    result = run(*entry, env={**CLOUD, **SLACK, "DMS_BOT_CONFIG": str(not_utf8)})
    assert_refused(result, "DMS_BOT_CONFIG", "UTF-8")


@pytest.mark.parametrize("entry", ENTRY_POINTS)
def test_an_endpoint_with_a_password_is_refused_without_echoing_it(
    entry: tuple[str, ...],
) -> None:
    endpoint = "ftp://admin:hunter2@dms.example.test"
    result = run(*entry, env={**CLOUD, **SLACK, "DMS_ENDPOINT": endpoint})
    assert_refused(result, "DMS_ENDPOINT")
    assert "hunter2" not in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("endpoint", "words"),
    [
        ("dms.cn-north-4.myhuaweicloud.com", ("DMS_ENDPOINT", "https://")),
        ("https://", ("DMS_ENDPOINT", "host")),
        ("https://dms.example.test:99999", ("DMS_ENDPOINT", "port")),
        ("https://dms.example.test/?x=1", ("DMS_ENDPOINT", "query")),
    ],
)
def test_endpoints_are_checked_at_start_up(endpoint: str, words: tuple[str, ...]) -> None:
    assert_refused(run("try", "help", env={**CLOUD, "DMS_ENDPOINT": endpoint}), *words)


def test_an_empty_config_variable_means_unset() -> None:
    # `docker run --env-file` writes DMS_BOT_CONFIG= as an empty value.
    with SimulatorThread(SimulatorConfig(bulk_tasks=10)) as sim:
        result = run("try", "help", env={**CLOUD, "DMS_ENDPOINT": sim.url, "DMS_BOT_CONFIG": ""})
    assert result.returncode == 0, result.stderr
    assert "How to ask" in result.stdout


def test_an_endpoint_without_a_region_serves_instance_ids() -> None:
    with SimulatorThread(SimulatorConfig(bulk_tasks=10)) as sim:
        instance = next(i for i in sim.instances if i.name == "prod-orders").instance_id
        env = {k: v for k, v in CLOUD.items() if k != "DMS_REGION"}
        result = run("try", f"{instance} last 7d", env={**env, "DMS_ENDPOINT": sim.url})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no default project or region" not in result.stdout


@pytest.mark.parametrize(
    ("args", "env", "words"),
    [
        (("serve", "--port", "70000"), {}, ("--port", "70000")),
        (("serve",), {"PORT": "70000"}, ("PORT",)),
        (("simulate", "--port", "70000"), {}, ("--port",)),
    ],
)
def test_ports_out_of_range_are_named(
    args: tuple[str, ...], env: dict[str, str], words: tuple[str, ...]
) -> None:
    assert_refused(run(*args, env={**CLOUD, **SLACK, **env}), *words)


def test_a_port_in_use_is_named(busy_port: int) -> None:
    result = run("serve", "--host", "127.0.0.1", "--port", str(busy_port), env={**CLOUD, **SLACK})
    assert_refused(result, "--port", str(busy_port), "in use")
    result = run("serve", "--host", "127.0.0.1", env={**CLOUD, **SLACK, "PORT": str(busy_port)})
    assert_refused(result, "PORT", "in use")


@pytest.mark.parametrize(
    ("flags", "words"),
    [
        (("--now", "garbage"), ("--now", "ISO-8601")),
        (("--error-rate", "2"), ("--error-rate",)),
        (("--error-rate", "-0.5"), ("--error-rate",)),
        (("--latency-ms", "-1"), ("--latency-ms",)),
        (("--ak", "only-an-ak"), ("--ak", "--sk")),
    ],
)
def test_bad_simulator_flags_are_named(flags: tuple[str, ...], words: tuple[str, ...]) -> None:
    assert_refused(run("simulate", "--port", "0", *flags, env={}), *words)


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"this is not a database, it is a note someone saved here\n" * 40, ("DMS_BOT_DB",)),
        (None, ("DMS_BOT_DB",)),  # a directory where the file should be
    ],
)
def test_a_damaged_digest_store_stops_serve_and_is_named(
    tmp_path: Path, content: bytes | None, words: tuple[str, ...]
) -> None:
    db = tmp_path / "digests.db"
    if content is None:
        db.mkdir()
    else:
        db.write_bytes(content)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = run(
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        env={**CLOUD, **SLACK, "DMS_BOT_DB": str(db)},
    )
    assert_refused(result, *words)
    # Never silently replaced.
    assert content is None or db.read_bytes() == content
