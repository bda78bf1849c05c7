"""The DMS API simulator: a real HTTP server used by tests, the terminal demo and benches."""

from bot.simulator.cli import add_cli_arguments, config_from_cli
from bot.simulator.config import (
    DEMO_AK,
    DEMO_IAM_DOMAIN,
    DEMO_IAM_PASSWORD,
    DEMO_IAM_USER,
    DEMO_PROJECT_ID,
    DEMO_REGION,
    DEMO_SK,
    Faults,
    SimulatorConfig,
)
from bot.simulator.data import SimInstance
from bot.simulator.server import SimulatorThread, serve_forever, start_simulator
from bot.simulator.state import RunningSimulator

__all__ = [
    "DEMO_AK",
    "DEMO_IAM_DOMAIN",
    "DEMO_IAM_PASSWORD",
    "DEMO_IAM_USER",
    "DEMO_PROJECT_ID",
    "DEMO_REGION",
    "DEMO_SK",
    "Faults",
    "RunningSimulator",
    "SimInstance",
    "SimulatorConfig",
    "SimulatorThread",
    "add_cli_arguments",
    "config_from_cli",
    "serve_forever",
    "start_simulator",
]
