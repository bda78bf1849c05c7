"""The simulator is a stand-in for the cloud: it imports nothing of the bot it serves, and its
modules stay small enough to read in one sitting."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import bot.simulator

PACKAGE = Path(bot.simulator.__file__).parent
MODULES = sorted(PACKAGE.rglob("*.py"))
MAX_LINES = 400


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_module_imports_nothing_of_the_bot(path: Path) -> None:
    bot_imports = {
        name
        for name in imported_modules(path)
        if (name == "bot" or name.startswith("bot."))
        and not (name == "bot.simulator" or name.startswith("bot.simulator."))
    }
    assert not bot_imports


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_module_stays_under_the_size_limit(path: Path) -> None:
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{path.name} has {lines} lines"


def test_importing_and_starting_the_simulator_loads_no_bot_module() -> None:
    script = (
        "import sys\n"
        "from bot.simulator import SimulatorConfig, SimulatorThread\n"
        "with SimulatorThread(SimulatorConfig(bulk_tasks=5)):\n"
        "    pass\n"
        "print(' '.join(m for m in sys.modules if m.startswith('bot.')))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        cwd=PACKAGE.parent.parent,
    )
    loaded = done.stdout.split()
    assert loaded and all(name.startswith("bot.simulator") for name in loaded), loaded
