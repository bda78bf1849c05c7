"""The terminal front door: `try` and `demo` take the handler's path and print its message."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

from pydantic import SecretStr

from bot.blockkit import check_message
from bot.settings import Settings, with_simulator
from bot.simulator import (
    SimulatorConfig,
    start_simulator,
)
from bot.terminal import run_demo

REPO = Path(__file__).resolve().parent.parent


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HUAWEICLOUD_", "DMS_"))}
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_try_json_prints_the_exact_slack_payload_from_the_embedded_simulator() -> None:
    result = run_cli("try", "prod-orders last 24h limit=5", "--json", "--tz", "Europe/Berlin")
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["response_type"] == "ephemeral"
    assert payload["text"].startswith("prod-orders")
    check_message(payload)
    assert "embedded DMS simulator" in result.stderr


def test_try_bad_input_explains_and_fails() -> None:
    result = run_cli("try", "prod-orders last 5x")
    assert result.returncode == 1
    assert '"last 5x"' in result.stdout and "Try:" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


def test_bad_configuration_names_the_variable() -> None:
    result = run_cli("serve")
    assert result.returncode == 2
    assert "HUAWEICLOUD_SDK_AK" in result.stderr
    assert "Traceback" not in result.stderr


async def test_demo_presses_buttons_by_number() -> None:
    async with start_simulator(SimulatorConfig(bulk_tasks=50)) as sim:
        settings = with_simulator(Settings.model_validate({}), sim.url)
        assert isinstance(settings.sk, SecretStr)
        # 1: Watch of the queued first row (Slack only); 2: Params of the first row with
        # params; then Back; then a typo; then 99: no such button.
        script = io.StringIO("1\n2\n1\n/dms-tasks prod-ordres\n99\nq\n")
        out = io.StringIO()
        code = await run_demo(settings, tz="UTC", channel="CTERMINAL", stdin=script, out=out)
    text = out.getvalue()
    assert code == 0
    first, params, back = text.split("── only visible to you")[1:4]
    assert "prod-orders" in first and "Page 1 of" in first
    assert "Back to list" in params
    assert "Page 1 of" in back
    assert 'I don\'t know an instance called "prod-ordres"' in text
    assert "There is no button 99" in text
    assert "Watch works in Slack" in text
