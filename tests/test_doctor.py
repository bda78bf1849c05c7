"""`dms-tasks-bot doctor` against the simulator: each paging mode the gateway might have, wrong
credentials, and an alias whose instance does not exist."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from bot.doctor import run_doctor
from bot.settings import Settings, with_simulator
from bot.simulator import RunningSimulator, SimulatorConfig, start_simulator


@pytest.fixture(params=["start", "offset", "clamp50"])
async def sim(request: pytest.FixtureRequest) -> AsyncIterator[RunningSimulator]:
    async with start_simulator(SimulatorConfig(bulk_tasks=200, paging=request.param)) as running:
        yield running


def settings_for(sim: RunningSimulator, tmp_path: Path, config: str | None = None) -> Settings:
    values: dict[str, object] = {"DMS_RETRY_BUDGET": 0.2, "DMS_TIMEOUT": 2}
    if config is not None:
        path = tmp_path / "bot.toml"
        path.write_text(config, encoding="utf-8")
        values["DMS_BOT_CONFIG"] = str(path)
    return with_simulator(Settings.model_validate(values), sim.url)


async def doctor(settings: Settings) -> tuple[int, list[str]]:
    out = io.StringIO()
    code = await run_doctor(settings, out)
    return code, out.getvalue().splitlines()


async def test_doctor_names_how_the_gateway_pages(sim: RunningSimulator, tmp_path: Path) -> None:
    orders = next(i for i in sim.instances if i.name == "prod-orders").instance_id
    code, lines = await doctor(
        settings_for(sim, tmp_path, f'[instances.orders]\ninstance_id = "{orders}"\n')
    )
    assert code == 0, lines
    assert lines[0].startswith("✔ settings read")
    assert any(line.startswith("✔ credentials and project") for line in lines), lines
    assert any(line.startswith("✔ alias orders: answers") for line in lines), lines
    paging = "\n".join(lines)
    mode = sim.config.paging
    if mode == "offset":
        assert "ignores start and pages with offset, 0-based" in paging
    else:
        assert "pages with start, 1-based" in paging
    if mode == "clamp50":
        assert "at most 50 tasks a page" in paging
    else:
        assert "tasks a page" not in paging


async def test_doctor_with_wrong_credentials_says_what_to_fix(
    tmp_path: Path,
) -> None:
    async with start_simulator(SimulatorConfig(bulk_tasks=10)) as sim:
        settings = settings_for(sim, tmp_path).model_copy(update={"sk": SecretStr("wrong-sk")})
        code, lines = await doctor(settings)
    assert code == 1
    [failure] = [line for line in lines if line.startswith("✘")]
    assert "APIGW.0301" in failure
    assert "HUAWEICLOUD_SDK_AK / HUAWEICLOUD_SDK_SK" in failure
    assert "wrong-sk" not in "\n".join(lines)


async def test_doctor_flags_an_alias_whose_instance_is_missing(tmp_path: Path) -> None:
    async with start_simulator(SimulatorConfig(bulk_tasks=10)) as sim:
        missing = "00000000-0000-4000-8000-000000000000"
        config = f'[instances.ghost]\ninstance_id = "{missing}"\n'
        code, lines = await doctor(settings_for(sim, tmp_path, config))
    assert code == 1
    assert any(line.startswith("✘ alias ghost") for line in lines), lines
