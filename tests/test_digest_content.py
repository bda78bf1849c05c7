"""What a digest says, built through the real service, cache and client against the simulator,
and rendered within Slack's limits for any data."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from bot.blockkit import check_posted_message
from bot.digests import DigestService
from bot.domain.digests import ALL_TARGETS
from bot.domain.query import Anchor
from bot.grammar.state import decode_state
from bot.ids import ActionId
from bot.render import message_buttons, render_digest, render_text
from bot.report import InstanceDigest
from bot.runtime import Runtime
from bot.settings import Settings, with_simulator
from bot.simulator import RunningSimulator, SimulatorConfig, start_simulator
from tests.render_builders import INSTANCE, NOW, all_text, make_task

ONCALL = "C_ONCALL"


@pytest.fixture
async def sim() -> AsyncIterator[RunningSimulator]:
    async with start_simulator(SimulatorConfig(bulk_tasks=400)) as running:
        yield running


@pytest.fixture
async def runtime(sim: RunningSimulator, tmp_path: Path) -> AsyncIterator[Runtime]:
    ids = {i.name: i.instance_id for i in sim.instances}
    config = tmp_path / "bot.toml"
    config.write_text(
        f"""
[instances.prod-orders]
instance_id = "{ids["prod-orders"]}"
channels = ["{ONCALL}"]
[instances.billing]
instance_id = "{ids["prod-billing"]}"
channels = ["{ONCALL}"]
[instances.ghost]
instance_id = "00000000-0000-4000-8000-000000000000"
channels = ["{ONCALL}"]
[instances.audit]
instance_id = "{ids["bulk-audit"]}"
channels = ["{ONCALL}"]
users = ["U_LEAD"]
""",
        encoding="utf-8",
    )
    settings = Settings.model_validate({"DMS_BOT_CONFIG": str(config), "DMS_RETRY_BUDGET": 0.2})
    running = Runtime(with_simulator(settings, sim.url), with_slack=False)
    yield running
    await running.stop()


async def test_a_digest_counts_each_instance_and_survives_one_failing(
    runtime: Runtime,
) -> None:
    digests = DigestService(runtime.service)
    end = runtime.service.now()
    report = await digests.build(ONCALL, (ALL_TARGETS,), end - timedelta(hours=24), end)
    parts = {p.instance.display_name: p for p in report.instances}
    # `all` is every instance the whole channel may see: not the one limited to certain people.
    assert set(parts) == {"prod-orders", "billing", "ghost"}
    assert parts["ghost"].unavailable
    assert not parts["prod-orders"].unavailable and parts["prod-orders"].total > 0
    # The storage expansion that started 3 h ago is still running, and is in the digest.
    assert any(t.name == "extendStorage" for t in parts["prod-orders"].running)
    message = render_digest(report)
    assert message is not None
    check_posted_message(message)
    text = render_text(message)
    assert "*ghost*  unavailable" in text
    assert "<!date^" in all_text(message)
    opened = [b for b in message_buttons(message) if b["action_id"].startswith(ActionId.OPEN_LIST)]
    assert opened, "an Open button for each instance that could be read"
    query, _ = decode_state(opened[0]["value"])
    assert query.window.anchor is Anchor.FIXED
    assert (query.window.begin, query.window.end) == (report.begin, report.end)


async def test_named_targets_the_channel_may_not_see_are_named_not_shown(
    runtime: Runtime,
) -> None:
    digests = DigestService(runtime.service)
    end = runtime.service.now()
    report = await digests.build(
        ONCALL, ("prod-orders", "audit", "nope"), end - timedelta(hours=24), end
    )
    assert [p.instance.display_name for p in report.instances] == ["prod-orders"]
    assert any("audit" in r for r in report.refused) and any("nope" in r for r in report.refused)


def test_a_quiet_digest_with_nothing_to_report_is_one_line() -> None:
    from bot.report import DigestReport

    report = DigestReport(
        begin=NOW - timedelta(days=1),
        end=NOW,
        now=NOW,
        instances=(InstanceDigest(instance=INSTANCE),),
        quiet=True,
    )
    message = render_digest(report)
    assert message is not None
    assert len(message["blocks"]) == 1
    assert "Nothing happened on prod-orders" in render_text(message)
    loud = render_text(render_digest(replace(report, quiet=False)) or {})
    assert "*prod-orders*  no tasks" in loud
    # `[digests] quiet_posts = "nothing"`: a quiet digest with nothing to say posts nothing.
    assert render_digest(replace(report, silent=True)) is None
    assert render_digest(replace(report, silent=True, quiet=False)) is not None


async def test_quiet_posts_nothing_in_the_config_makes_quiet_digests_silent(
    sim: RunningSimulator, tmp_path: Path
) -> None:
    config = tmp_path / "silent.toml"
    config.write_text('[digests]\nquiet_posts = "nothing"\n', encoding="utf-8")
    settings = Settings.model_validate({"DMS_BOT_CONFIG": str(config)})
    silent = Runtime(with_simulator(settings, sim.url), with_slack=False)
    try:
        digests = DigestService(silent.service)
        end = silent.service.now() - timedelta(days=300)
        begin = end - timedelta(hours=1)
        report = await digests.build(ONCALL, (ALL_TARGETS,), begin, end, quiet=True)
        assert report.silent and report.nothing_happened
        assert render_digest(report) is None
        loud = await digests.build(ONCALL, (ALL_TARGETS,), begin, end)
        assert not loud.silent and render_digest(loud) is not None
    finally:
        await silent.stop()


def test_thousands_of_tasks_are_summarised_within_slacks_limits() -> None:
    from bot.report import DigestReport

    failed = tuple(
        make_task(n % 100, name=f"kafkaResetConsumerOffset{n}", status="FAILED", params={"g": n})
        for n in range(3000)
    )
    running = tuple(
        make_task(n % 100, name="extendStorage", status="EXECUTING", took=None) for n in range(500)
    )
    parts = tuple(
        InstanceDigest(
            instance=INSTANCE.model_copy(update={"alias": f"instance-{i:02d}"}),
            counts={"FAILED": 3000, "SUCCESS": 9000},
            previous_total=100,
            failed=failed,
            running=running,
            busiest=(("Reset consumer offset", 3000),),
        )
        for i in range(50)
    )
    report = DigestReport(begin=NOW - timedelta(days=1), end=NOW, now=NOW, instances=parts)
    message = render_digest(report)
    assert message is not None
    check_posted_message(message)
    text = render_text(message)
    assert "more: Open full list" in text
    assert "▲ +11900 vs the period before" in text


def test_params_nested_too_deeply_leave_a_digest_line_without_them() -> None:
    from bot.report import DigestReport

    deep = "[" * 5000 + "]" * 5000
    task = make_task(1, status="FAILED", params=f'{{"a": {deep}}}')
    report = DigestReport(
        begin=NOW - timedelta(days=1),
        end=NOW,
        now=NOW,
        instances=(InstanceDigest(instance=INSTANCE, counts={"FAILED": 1}, failed=(task,)),),
    )
    message = render_digest(report)
    assert message is not None
    check_posted_message(message)
