"""Slack listeners, wired as in Slack's starter template: each module exposes `register(app)`
and `register_listeners` wires them all. Listeners are module-level functions that ack, call one
use case of the service with the Requester the middleware built, and respond with what the
renderer made (or, for a mention, post it in the thread). They never touch the DMS client or
HTTP themselves."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from handlers import actions, commands, mentions, middleware, watch
from handlers.deps import Deps


def register_listeners(app: AsyncApp, deps: Deps) -> None:
    middleware.register(app, deps)
    commands.register(app, deps.command)
    actions.register(app)
    mentions.register(app)
    watch.register(app)
