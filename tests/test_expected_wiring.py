"""Config expectations and channel defaults through every front that shows them, on a runtime
with its store: a one-instance listing, a timeline, a digest, an alert, and `default` then a
bare command."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.channel_defaults import ChannelDefaultView
from bot.digests import DigestService
from bot.domain.alerts import AlertEvent, AlertKind
from bot.domain.durations import DurationRange
from bot.render import render_outcome, render_text
from bot.render.alerts import Fired, render_alert_event
from bot.render.digest import render_digest
from bot.report import TaskReport, TimelineReport
from bot.runtime import Runtime
from bot.service import Requester
from bot.settings import Settings, with_simulator
from bot.simulator import SimulatorConfig, start_simulator

WHO = Requester("C1", "U1", ZoneInfo("UTC"))


async def test_config_expectations_and_channel_defaults_reach_every_answer(tmp_path: Path) -> None:
    async with start_simulator(SimulatorConfig(bulk_tasks=50)) as sim:
        path = tmp_path / "bot.toml"
        path.write_text('[expected]\nextendStorage = "2h"\n', encoding="utf-8")
        settings = with_simulator(
            Settings.model_validate(
                {"DMS_BOT_CONFIG": str(path), "DMS_BOT_DB": str(tmp_path / "x.db")}
            ),
            sim.url,
        )
        runtime = Runtime(settings, with_slack=False, with_store=True)
        await runtime.start()
        try:
            service = runtime.service
            report = await service.command("prod-orders last 6h status=running", WHO)
            assert isinstance(report, TaskReport)
            text = render_text(render_outcome(report))
            assert "expected within 2 h (config)" in text, text
            tl = await service.command("prod-orders,prod-billing last 6h status=running", WHO)
            assert isinstance(tl, TimelineReport), tl
            text = render_text(render_outcome(tl))
            assert "expected within 2 h (config)" in text, text
            now = service.now()
            digest = await DigestService(service).build(
                "C1", ("prod-orders",), now - timedelta(hours=24), now
            )
            [part] = digest.instances
            assert any(u is not None and u.configured for u in part.overdue.values())
            text = render_text(render_digest(digest))
            assert "expected within 2 h (config)" in text, text
            storage = next(t for t in report.page_tasks if t.name == "extendStorage")
            fired = Fired(
                report.instance,
                AlertEvent(
                    AlertKind.STUCK, storage, DurationRange.expected_within(timedelta(hours=2))
                ),
            )
            text = render_text(render_alert_event("k3m9qa", fired, now, "/dms-tasks"))
            assert "; expected within 2 h (config)" in text, text
            # channel defaults through the runtime's store
            view = await service.command("default prod-billing", WHO)
            assert isinstance(view, ChannelDefaultView), view
            text = render_text(render_outcome(view))
            assert "default is now" in text, text
            bare = await service.command("", WHO)
            assert isinstance(bare, TaskReport) and bare.instance.name == "prod-billing"
        finally:
            await runtime.stop()
