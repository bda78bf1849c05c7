"""A channel's default target set from Slack (`/dms-tasks default …`): the grammar, the store's
typed view on SQLite and a real Redis, and the use cases through the real service, cache and
client against the DMS simulator with a real SQLite store (restarts and replicas being another
store object and another service on the same file)."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.blockkit import check_message, unescape
from bot.channel_defaults import ChannelDefaultView, DefaultChange
from bot.dms.auth import AkSkAuth
from bot.dms.cache import TaskCache
from bot.dms.client import DmsClient, RetryPolicy
from bot.domain.query import TaskQuery
from bot.grammar.default_command import (
    DefaultClear,
    DefaultSet,
    DefaultShow,
    is_default_command,
    parse_default_command,
)
from bot.grammar.parser import parse_command
from bot.grammar.words import QueryError
from bot.render import render_help, render_text
from bot.render.notices import render_channel_default
from bot.report import HelpView, Problem, TaskReport, TimelineReport, WhichInstance
from bot.service import Requester, TaskService
from bot.settings import Settings, SettingsError, with_simulator
from bot.simulator import DEMO_AK, DEMO_SK, RunningSimulator, SimulatorConfig, start_simulator
from bot.store import ChannelDefault, RedisStore, Store, StoredDefaults, StoreError, open_store
from tests.redis_server import redis_server

ONCALL = "C0ONCALL"  # its config file default is prod-orders
BILLING = "C0BILLING"  # may see billing only; no config default
NOWHERE = "C0NOWHERE"  # may see nothing
LEAD = "U0LEAD"
MANAGER = "U0MANAGER"
BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 3, 14, 12, 0, tzinfo=UTC)


def who(channel: str = ONCALL, user: str = "U0ALICE") -> Requester:
    return Requester(channel, user, BERLIN)


# ---- grammar ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("default", DefaultShow()),
        ("DEFAULT", DefaultShow()),
        ("default help", DefaultShow()),
        ("default clear", DefaultClear()),
        ("default none", DefaultClear()),
        ("default None", DefaultClear()),
        ("default prod-orders", DefaultSet(("prod-orders",))),
        ("default all", DefaultSet(("all",))),
        ("default prod-orders,billing,prod-orders", DefaultSet(("prod-orders", "billing"))),
        ("default billing,all", DefaultSet(("all",))),
    ],
)
def test_default_commands_read(text: str, parsed: object) -> None:
    assert is_default_command(text)
    assert parse_default_command(text) == parsed


@pytest.mark.parametrize(
    "text",
    [
        "default prod-orders last 1h",
        "default clear now",
        "default last 1h",
        "default status=failed",
        "default running",
        "default <@U123>",
        "default " + ",".join(f"i{n}" for n in range(21)),
    ],
)
def test_bad_default_commands_get_a_corrected_command_that_parses(text: str) -> None:
    with pytest.raises(QueryError) as caught:
        parse_default_command(text)
    example = caught.value.example
    if is_default_command(example):
        parse_default_command(example)
    else:
        # "default last 1h" means a question about the default: the window alone.
        assert isinstance(parse_command(example, now=NOW, tz=BERLIN), TaskQuery)


def test_other_commands_are_not_default_commands() -> None:
    for text in ("", "defaults", "prod-orders default", "'default'", "digest list"):
        assert not is_default_command(text)


def test_an_alias_called_default_cannot_exist(tmp_path: Path) -> None:
    config = tmp_path / "bot.toml"
    config.write_text('[instances.default]\ninstance_id = "x"\n', encoding="utf-8")
    settings = Settings.model_validate({"DMS_BOT_CONFIG": str(config)})
    with pytest.raises(SettingsError, match="alias 'default' cannot be typed"):
        settings.load_config()


# ---- the store's typed view ------------------------------------------------------------------


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with redis_server(tmp_path_factory.mktemp("redis")) as url:
        yield url


@pytest.fixture(params=["sqlite", "redis"])
async def two_stores(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[Store, Store]]:
    """Two store objects on the same data: two replicas, or one process and its restart."""
    if request.param == "sqlite":
        stores = [await open_store(str(tmp_path / "bot.db"), None) for _ in range(2)]
    else:
        url = request.getfixturevalue("redis_url")
        prefix = f"test-{tmp_path.name[-12:]}:"
        stores = [await RedisStore.open(url, prefix=prefix) for _ in range(2)]
    yield stores[0], stores[1]
    for store in stores:
        await store.close()


async def test_a_default_is_shared_replaced_and_cleared_across_stores(
    two_stores: tuple[Store, Store],
) -> None:
    one, other = (StoredDefaults(s) for s in two_stores)
    assert await one.get(ONCALL) is None
    first = ChannelDefault(ONCALL, ("billing",), LEAD, NOW)
    await one.set(first)
    assert await other.get(ONCALL) == first
    # No upsert in the store: a second set replaces, from either replica.
    second = ChannelDefault(ONCALL, ("all",), MANAGER, NOW.replace(hour=13))
    await other.set(second)
    assert await one.get(ONCALL) == second
    assert [d.channel_id for d in await one.all()] == [ONCALL]
    # One record per channel, kept under the channel it belongs to.
    records = await two_stores[0].records("channel-default", ONCALL)
    assert [r.id for r in records] == [ONCALL]
    assert await other.clear(ONCALL) is True
    assert await one.get(ONCALL) is None
    assert await one.clear(ONCALL) is False


async def test_a_damaged_default_is_reported_and_can_still_be_replaced(
    two_stores: tuple[Store, Store],
) -> None:
    store = two_stores[0]
    view = StoredDefaults(store)
    await view.set(ChannelDefault(ONCALL, ("billing",), LEAD, NOW))
    await store.update_record("channel-default", ONCALL, '{"v": 99}')
    with pytest.raises(StoreError, match=f"default of channel {ONCALL} does not read back"):
        await view.get(ONCALL)
    await view.set(ChannelDefault(ONCALL, ("prod-orders",), LEAD, NOW))
    found = await view.get(ONCALL)
    assert found is not None and found.targets == ("prod-orders",)


def test_a_naive_time_is_never_stored() -> None:
    from bot.store.defaults import encode

    with pytest.raises(ValueError, match="naive"):
        encode(ChannelDefault(ONCALL, ("billing",), LEAD, NOW.replace(tzinfo=None)))


# ---- the use cases against the simulator -----------------------------------------------------


def config_text(sim: RunningSimulator, managers: list[str] | None) -> str:
    def iid(name: str) -> str:
        return sim.instance(name).instance_id

    lines = [
        "[instances.prod-orders]",
        f'instance_id = "{iid("prod-orders")}"',
        f'channels = ["{ONCALL}"]',
        "[instances.billing]",
        f'instance_id = "{iid("prod-billing")}"',
        f'channels = ["{ONCALL}", "{BILLING}"]',
        "[instances.audit]",
        f'instance_id = "{iid("bulk-audit")}"',
        f'channels = ["{ONCALL}"]',
        f'users = ["{LEAD}"]',
        "[instances.events]",
        f'instance_id = "{iid("staging-events")}"',
        f"[channels.{ONCALL}]",
        'default_instance = "prod-orders"',
    ]
    if managers is not None:
        lines += ["[digests]", f"managers = {json.dumps(managers)}"]
    return "\n".join(lines) + "\n"


@dataclass
class Rig:
    sim: RunningSimulator
    tmp_path: Path
    clients: list[DmsClient] = field(default_factory=list)
    stores: list[Store] = field(default_factory=list)

    def settings(self, managers: list[str] | None = None, config: str | None = None) -> Settings:
        path = self.tmp_path / f"bot-{len(self.clients)}.toml"
        path.write_text(config or config_text(self.sim, managers), encoding="utf-8")
        base = Settings.model_validate({"DMS_BOT_CONFIG": str(path), "DMS_RETRY_BUDGET": 0.2})
        return with_simulator(base, self.sim.url)

    async def service(
        self, *, managers: list[str] | None = None, store: bool = True, config: str | None = None
    ) -> TaskService:
        """A process's service: its own client, cache and store object, on the one SQLite file
        (as a restarted process or another replica has)."""
        settings = self.settings(managers, config)
        client = DmsClient(
            auth=AkSkAuth(DEMO_AK, DEMO_SK),
            endpoint_for=settings.endpoint_for,
            retry=RetryPolicy(budget_s=0.2),
        )
        self.clients.append(client)
        service = TaskService(settings, TaskCache(client))
        if store:
            opened = await open_store(str(self.tmp_path / "bot.db"), None)
            self.stores.append(opened)
            service.channel_defaults.attach(opened)
        return service


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    async with start_simulator(SimulatorConfig(bulk_tasks=50)) as sim:
        made = Rig(sim, tmp_path)
        try:
            yield made
        finally:
            for store in made.stores:
                await store.close()
            for client in made.clients:
                await client.aclose()


def shown(view: object) -> str:
    """What a default view says, as the terminal shows it, after checking it as Block Kit."""
    assert isinstance(view, ChannelDefaultView), view
    message = render_channel_default(view)
    check_message(message)
    return unescape(render_text(message).replace("*", ""))


async def test_default_shows_the_config_files_and_where_it_comes_from(rig: Rig) -> None:
    service = await rig.service()
    view = await service.command("default", who())
    assert isinstance(view, ChannelDefaultView) and view.change is DefaultChange.SHOWN
    assert view.slack is None and view.config == "prod-orders" and view.effective == "prod-orders"
    text = shown(view)
    assert "This channel's default is prod-orders, from the bot's config file." in text
    assert "/dms-tasks default prod-orders" in text
    none_here = await service.command("default", who(BILLING))
    assert isinstance(none_here, ChannelDefaultView) and none_here.effective is None
    assert "This channel has no default instance" in shown(none_here)
    # The hint names an instance this channel can use.
    assert "/dms-tasks default billing" in shown(none_here)


async def test_a_default_set_in_slack_overrides_the_config_and_survives_a_restart(
    rig: Rig,
) -> None:
    service = await rig.service()
    view = await service.command("default billing", who(user=LEAD))
    assert isinstance(view, ChannelDefaultView) and view.change is DefaultChange.SET
    assert view.slack is not None and view.slack.targets == ("billing",)
    assert view.slack.set_by == LEAD and view.covers == ("billing",)
    text = shown(view)
    assert "This channel's default is now billing." in text
    assert "It takes the place of the config file's prod-orders" in text
    for command in ("", "last 1h", "status=failed", "running"):
        report = await service.command(command, who())
        assert isinstance(report, TaskReport), (command, report)
        assert report.instance is not None and report.instance.alias == "billing"
        # Buttons carry the instance itself, never "the default".
        assert report.query.target == "billing"
    # Another replica, or the same process restarted: the same default.
    restarted = await rig.service()
    report = await restarted.command("last 6h", who())
    assert isinstance(report, TaskReport) and report.instance is not None
    assert report.instance.alias == "billing"
    again = await restarted.command("default", who())
    assert isinstance(again, ChannelDefaultView) and again.slack == view.slack
    text = shown(again)
    raw = render_channel_default(again)["blocks"][0]["text"]["text"]
    assert f"set here by <@{LEAD}> on <!date^" in raw
    assert "It overrides the config file's prod-orders." in text
    # Naming an instance still names it.
    named = await restarted.command("prod-orders last 1h", who())
    assert isinstance(named, TaskReport) and named.instance is not None
    assert named.instance.alias == "prod-orders"
    # Help shows the default in force.
    help_view = await restarted.command("help", who())
    assert isinstance(help_view, HelpView) and help_view.default_instance == "billing"


async def test_clear_falls_back_to_the_config_files_default(rig: Rig) -> None:
    service = await rig.service()
    nothing = await service.command("default clear", who())
    assert isinstance(nothing, ChannelDefaultView)
    assert nothing.change is DefaultChange.NOTHING_TO_CLEAR
    assert "no default set here to clear" in shown(nothing)
    await service.command("default billing", who())
    cleared = await (await rig.service()).command("default none", who())
    assert isinstance(cleared, ChannelDefaultView) and cleared.change is DefaultChange.CLEARED
    assert cleared.removed is not None and cleared.removed.targets == ("billing",)
    assert cleared.effective == "prod-orders"
    text = shown(cleared)
    assert "Removed this channel's default billing." in text
    assert "from the bot's config file" in text
    report = await service.command("last 1h", who())
    assert isinstance(report, TaskReport) and report.instance is not None
    assert report.instance.alias == "prod-orders"


async def test_a_channel_without_a_config_default_gets_one_and_loses_it(rig: Rig) -> None:
    service = await rig.service()
    assert isinstance(await service.command("last 1h", who(BILLING)), WhichInstance)
    assert isinstance(await service.command("", who(BILLING)), HelpView)
    await service.command("default billing", who(BILLING))
    report = await service.command("", who(BILLING))
    assert isinstance(report, TaskReport) and report.instance is not None
    assert report.instance.alias == "billing"
    cleared = await service.command("default clear", who(BILLING))
    assert isinstance(cleared, ChannelDefaultView)
    assert "go back" not in shown(cleared) and "no default instance" in shown(cleared)
    assert isinstance(await service.command("last 1h", who(BILLING)), WhichInstance)


async def test_all_and_lists_are_defaults_the_timeline_answers(rig: Rig) -> None:
    service = await rig.service()
    view = await service.command("default all", who())
    assert isinstance(view, ChannelDefaultView) and view.slack is not None
    assert view.slack.targets == ("all",)
    assert set(view.covers) == {"prod-orders", "billing"}  # audit is limited to certain people
    assert "every instance this channel may see: now prod-orders, billing" in shown(view)
    everything = await service.command("last 1h", who(user=LEAD))
    assert isinstance(everything, TimelineReport) and everything.everything
    # Judged for whoever asks: the lead sees audit too.
    assert {p.instance.display_name for p in everything.parts} == {
        "prod-orders",
        "billing",
        "audit",
    }
    listed = await service.command("default billing,prod-orders", who())
    assert isinstance(listed, ChannelDefaultView) and listed.slack is not None
    assert listed.slack.targets == ("billing", "prod-orders")
    timeline = await service.command("status=failed", who())
    assert isinstance(timeline, TimelineReport) and not timeline.everything
    assert timeline.query.targets == ("billing", "prod-orders")
    assert timeline.query.filters.statuses == frozenset({"FAILED"})
    assert "billing, prod-orders" in shown(listed)


async def test_a_name_is_kept_as_the_instance_it_resolved_to(rig: Rig) -> None:
    # Without access rules, names resolve through the API; the default keeps the id.
    service = await rig.service(config='default_timezone = "UTC"\n')
    view = await service.command("default prod-billing", who(NOWHERE))
    assert isinstance(view, ChannelDefaultView) and view.slack is not None
    [kept] = view.slack.targets
    assert kept == rig.sim.instance("prod-billing").instance_id
    assert view.covers == ("prod-billing",)
    assert "This channel's default is now prod-billing." in shown(view)
    report = await service.command("last 1h", who(NOWHERE))
    assert isinstance(report, TaskReport) and report.instance is not None
    assert report.instance.instance_id == kept
    ghost = await service.command("default 00000000-0000-4000-8000-000000000000", who(NOWHERE))
    assert isinstance(ghost, Problem) and "no such instance in the project" in ghost.summary
    # Shown by its name, after a restart too (from the instance list, not the record).
    again = await (await rig.service(config='default_timezone = "UTC"\n')).command(
        "default", who(NOWHERE)
    )
    assert isinstance(again, ChannelDefaultView) and again.covers == ("prod-billing",)
    assert "This channel's default is prod-billing, set here by" in shown(again)


def example_of(problem: object) -> str:
    assert isinstance(problem, Problem), problem
    assert problem.example.startswith("/dms-tasks default ")
    return problem.example.removeprefix("/dms-tasks ")


async def test_targets_the_channel_may_not_see_are_refused_with_a_command_that_works(
    rig: Rig,
) -> None:
    service = await rig.service()
    cases = {
        # (typed, channel): what the corrected command sets
        ("default prod-orders", BILLING): "default billing",
        ("default audit", ONCALL): "default prod-orders",  # limited to certain people
        ("default events", ONCALL): "default prod-orders",  # no rule: not allowed anywhere
        ("default biling", ONCALL): "default billing",  # a typo: did you mean
        ("default billing,prod-orders", BILLING): "default billing",
        ("default 00000000-0000-4000-8000-000000000000", ONCALL): "default prod-orders",
    }
    for (typed, channel), corrected in cases.items():
        # The lead may see audit, but a default is for the whole channel.
        problem = await service.command(typed, who(channel, LEAD))
        assert example_of(problem) == corrected, (typed, problem)
        assert isinstance(problem, Problem)
        assert "This channel's default cannot be" in problem.summary
        fixed = await service.command(corrected, who(channel, LEAD))
        assert isinstance(fixed, ChannelDefaultView), (corrected, fixed)
        assert fixed.change is DefaultChange.SET
    nothing = await service.command("default all", who(NOWHERE))
    assert isinstance(nothing, Problem) and "No Kafka instance" in nothing.summary
    # The channel's default is whatever was last set successfully.
    assert (await service.channel_defaults.current(ONCALL)).text == "prod-orders"  # type: ignore[union-attr]


async def test_bad_words_after_default_get_a_corrected_command(rig: Rig) -> None:
    service = await rig.service()
    problem = await service.command("default billing last 1h", who(BILLING))
    assert isinstance(problem, Problem) and problem.example == "/dms-tasks default billing"
    question = await service.command("default last 1h", who())
    assert isinstance(question, Problem) and question.example == "/dms-tasks last 1h"
    odd = await service.command("default <bad>", who(BILLING))
    assert isinstance(odd, Problem) and odd.example == "/dms-tasks default billing"


async def test_managers_decide_who_may_set_and_clear_it(rig: Rig) -> None:
    service = await rig.service(managers=[MANAGER])
    refused = await service.command("default billing", who(user=LEAD))
    assert isinstance(refused, Problem) and "Only certain people" in refused.summary
    assert isinstance(await service.command("default clear", who(user=LEAD)), Problem)
    shown_to_all = await service.command("default", who(user=LEAD))
    assert isinstance(shown_to_all, ChannelDefaultView)
    done = await service.command("default billing", who(user=MANAGER))
    assert isinstance(done, ChannelDefaultView) and done.change is DefaultChange.SET
    assert isinstance(await service.command("default clear", who(user=MANAGER)), ChannelDefaultView)


async def test_without_a_store_only_the_config_files_default_applies(rig: Rig) -> None:
    service = await rig.service(store=False)
    view = await service.command("default", who())
    assert isinstance(view, ChannelDefaultView) and not view.settable
    assert "sets its own default in Slack" in shown(view)
    problem = await service.command("default billing", who())
    assert isinstance(problem, Problem) and "set in Slack" in problem.summary
    report = await service.command("last 1h", who())
    assert isinstance(report, TaskReport) and report.instance is not None
    assert report.instance.alias == "prod-orders"


async def test_a_default_the_config_no_longer_allows_is_named_with_how_to_change_it(
    rig: Rig,
) -> None:
    service = await rig.service()
    await service.command("default billing", who(BILLING))
    # The config file changes: billing is taken away from C0BILLING.
    narrowed = config_text(rig.sim, None).replace(f'["{ONCALL}", "{BILLING}"]', f'["{ONCALL}"]')
    after = await rig.service(config=narrowed)
    problem = await after.command("last 1h", who(BILLING))
    assert isinstance(problem, Problem), problem
    assert "This channel's default, billing (set in Slack), is not available here." in (
        problem.summary
    )
    assert "/dms-tasks default clear" in problem.hint
    # Gone from the config file altogether: no longer an instance it knows.
    renamed = config_text(rig.sim, None).replace("[instances.billing]", "[instances.invoices]")
    gone = await (await rig.service(config=renamed)).command("", who(BILLING))
    assert isinstance(gone, Problem) and "is no longer an instance I know" in gone.summary
    # A config file's own default is refused as it always was.
    fine = await after.command("last 1h", who(ONCALL, "U0SOMEONE"))
    assert isinstance(fine, TaskReport) and fine.instance is not None
    assert fine.instance.alias == "prod-orders"


async def test_a_store_that_cannot_be_read_is_said_and_never_guessed_around(rig: Rig) -> None:
    service = await rig.service()
    await service.command("default billing", who())
    await rig.stores[-1].close()
    problem = await service.command("last 1h", who())
    assert isinstance(problem, Problem), problem
    assert "could not read this channel's default" in problem.summary
    assert problem.example == "/dms-tasks prod-orders last 1h"
    # Help still answers, with the config file's default.
    help_view = await service.command("help", who())
    assert isinstance(help_view, HelpView) and help_view.default_instance == "prod-orders"


# ---- help ------------------------------------------------------------------------------------


def test_help_names_the_default_command_with_examples_that_parse() -> None:
    for view in (
        HelpView("/dms-tasks", ("billing", "prod-orders")),
        HelpView("/dms-tasks", ("billing",), default_instance="prod-a,prod-b"),
        HelpView("/dms-tasks", ()),
    ):
        text = render_text(render_help(view))
        line = next(x for x in text.splitlines() if "this channel's default" in x)
        examples = re.findall(r"`/dms-tasks (default[^`]*)`", unescape(line))
        assert len(examples) == 3, line
        for example in examples:
            parse_default_command(example)
    first = render_text(render_help(HelpView("/dms-tasks", ("billing",))))
    assert "/dms-tasks default billing" in first
