"""The layering, kept by CI rather than by memory: imports are read with `ast` and checked
against the arrows of the README's Architecture section, and no module grows past 500 lines."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MAX_LINES = 500


def modules(*packages: str) -> list[Path]:
    return sorted(p for package in packages for p in (ROOT / package).rglob("*.py"))


def imported(path: Path) -> set[str]:
    """Every module `path` imports, absolute, including imports inside functions."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def offending(path: Path, forbidden: tuple[str, ...]) -> list[str]:
    return sorted(
        name
        for name in imported(path)
        if any(name == f or name.startswith(f + ".") for f in forbidden)
    )


def rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


# What each layer may not import. Third-party names count too: the domain does no I/O and knows
# nothing of Slack; the DMS client knows nothing of settings, Slack or rendering.
RULES: dict[str, tuple[str, ...]] = {
    "bot/domain": (
        "bot.settings",
        "bot.dms",
        "bot.service",
        "bot.render",
        "bot.runtime",
        "bot.poster",
        "bot.jobs",
        "bot.grammar",
        "handlers",
        "slack_sdk",
        "slack_bolt",
        "httpx",
        "aiohttp",
        "starlette",
        "asyncio",
        "sqlite3",
        "os",
        "redis",
    ),
    "bot/dms": (
        "bot.settings",
        "bot.service",
        "bot.render",
        "bot.grammar",
        "bot.messages",
        "bot.report",
        "bot.runtime",
        "bot.poster",
        "handlers",
        "slack_sdk",
        "slack_bolt",
        "bot.simulator",
    ),
    "bot/grammar": ("bot.settings", "bot.dms", "bot.service", "bot.render", "handlers", "httpx"),
    "bot/render": ("bot.settings", "bot.dms", "bot.service", "handlers", "httpx", "slack_bolt"),
    "handlers": ("bot.dms", "httpx", "bot.settings", "bot.simulator"),
    # The store knows only the domain: no settings, no Slack, no DMS.
    "bot/store": (
        "bot.settings",
        "bot.service",
        "bot.dms",
        "bot.render",
        "bot.grammar",
        "bot.runtime",
        "bot.poster",
        "bot.jobs",
        "bot.digests",
        "bot.digest_scheduler",
        "handlers",
        "slack_sdk",
        "slack_bolt",
        "httpx",
        "aiohttp",
        "starlette",
    ),
}


@pytest.mark.parametrize("layer", sorted(RULES))
def test_each_layer_imports_only_what_its_arrows_allow(layer: str) -> None:
    found = {rel(path): bad for path in modules(layer) if (bad := offending(path, RULES[layer]))}
    assert found == {}


def test_the_grammar_parser_knows_no_slack_limits() -> None:
    # Only the button state, which is Slack's button value, may read Block Kit's limits.
    for path in modules("bot/grammar"):
        if path.name != "state.py":
            assert offending(path, ("bot.blockkit", "slack_sdk")) == [], rel(path)


def test_nothing_imports_handlers_or_the_cli_but_their_wiring() -> None:
    allowed = {"bot/runtime.py", "handlers"}
    for path in modules("bot", "handlers"):
        if rel(path) in allowed or rel(path).startswith("handlers/"):
            continue
        assert offending(path, ("handlers", "bot.cli")) == [], rel(path)


def test_the_simulator_imports_nothing_of_the_bot() -> None:
    for path in modules("bot/simulator"):
        bad = [
            n for n in imported(path) if n.startswith("bot.") and not n.startswith("bot.simulator")
        ]
        assert bad == [], rel(path)


def test_only_settings_reads_the_environment() -> None:
    for path in modules("bot", "handlers"):
        if rel(path) in {"bot/settings.py"} or rel(path).startswith("bot/simulator/"):
            continue
        source = path.read_text(encoding="utf-8")
        assert "os.environ" not in source and "getenv" not in source, rel(path)


def test_no_module_is_over_the_line_ceiling() -> None:
    sizes = {
        rel(p): len(p.read_text(encoding="utf-8").splitlines()) for p in modules("bot", "handlers")
    }
    assert {p: n for p, n in sizes.items() if n > MAX_LINES} == {}


def test_the_rules_see_real_imports() -> None:
    # The checker itself: a module known to import the domain is seen doing so.
    assert "bot.domain.tasks" in imported(ROOT / "bot/dms/models.py")
    assert offending(ROOT / "bot/runtime.py", ("bot.settings",)) == [
        "bot.settings",
        "bot.settings.Settings",
    ]
