"""Slack listeners. Each module exposes `register(app, deps)`; they only ack, call a use case of
the service, and respond with what the renderer built."""

from __future__ import annotations

from dataclasses import dataclass

from slack_bolt.async_app import AsyncApp

from bot.service import TaskService
from bot.timezones import UserTimezones


@dataclass(frozen=True)
class Deps:
    service: TaskService
    timezones: UserTimezones
    command: str = "/dms-tasks"


def register_listeners(app: AsyncApp, deps: Deps) -> None:
    from handlers import actions, commands

    commands.register(app, deps)
    actions.register(app, deps)
