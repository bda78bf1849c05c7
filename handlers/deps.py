"""What listeners need from the runtime, put into every request's context by the middleware."""

from __future__ import annotations

from dataclasses import dataclass

from slack_bolt.context.async_context import AsyncBoltContext

from bot.alerts import AlertService
from bot.digests import DigestService
from bot.poster import SlackPoster
from bot.service import Requester, TaskService
from bot.timezones import UserTimezones
from bot.watches import WatchService
from bot.work import WorkTracker

DEPS = "dms_deps"
REQUESTER = "dms_requester"


@dataclass(frozen=True)
class Deps:
    service: TaskService
    timezones: UserTimezones
    work: WorkTracker
    poster: SlackPoster
    command: str
    digests: DigestService | None = None
    alerts: AlertService | None = None
    watches: WatchService | None = None

    @staticmethod
    def of(context: AsyncBoltContext) -> Deps:
        deps: Deps = context[DEPS]
        return deps


def requester_of(context: AsyncBoltContext) -> Requester:
    requester: Requester = context[REQUESTER]
    return requester
