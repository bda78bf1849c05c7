"""Wiring: settings -> DMS client -> cache -> service -> Slack app (HTTP or Socket Mode)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx
from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.dms.auth import AkSkAuth
from bot.dms.cache import TaskCache
from bot.dms.client import DmsClient, RetryPolicy
from bot.dms.iam import IamTokenAuth
from bot.service import TaskService
from bot.settings import Settings
from bot.timezones import UserTimezones
from handlers import Deps, register_listeners

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    """The long-lived parts shared by every front door of one process."""

    settings: Settings
    client: DmsClient
    cache: TaskCache
    service: TaskService

    async def aclose(self) -> None:
        await self.client.aclose()


def _cloud_auth(settings: Settings) -> httpx.Auth:
    if settings.ak and settings.sk:
        return AkSkAuth(
            settings.ak.get_secret_value(),
            settings.sk.get_secret_value(),
            security_token=(
                settings.security_token.get_secret_value() if settings.security_token else None
            ),
        )
    assert settings.iam_username and settings.iam_password and settings.iam_domain
    region = settings.region or ""
    return IamTokenAuth(
        iam_url=settings.iam_endpoint_for(region),
        username=settings.iam_username,
        password=settings.iam_password.get_secret_value(),
        domain=settings.iam_domain,
        project_id=settings.project_id or "",
    )


def build_runtime(settings: Settings) -> Runtime:
    """Validates the cloud settings (raising SettingsError) and builds the shared stack."""
    settings.check_cloud()
    client = DmsClient(
        auth=_cloud_auth(settings),
        endpoint_for=settings.endpoint_for,
        retry=RetryPolicy(budget_s=settings.retry_budget_seconds),
        timeout=settings.timeout_seconds,
    )
    cache = TaskCache(client)
    service = TaskService(settings, cache)
    if service.access.open:
        log.warning(
            "No access rules in the config file: every channel may query every instance these "
            "credentials can see. Add channels = [...] to instances in DMS_BOT_CONFIG to restrict."
        )
    return Runtime(settings=settings, client=client, cache=cache, service=service)


def build_slack_app(settings: Settings, runtime: Runtime) -> AsyncApp:
    settings.check_slack()
    assert settings.slack_bot_token is not None
    client = AsyncWebClient(
        token=settings.slack_bot_token.get_secret_value(), base_url=settings.slack_api_url
    )
    # slack_sdk retries only connection errors by default; chat.postMessage allows about one
    # message per second per channel and answers 429 + Retry-After beyond that.
    client.retry_handlers.append(AsyncRateLimitErrorRetryHandler(max_retry_count=2))
    app = AsyncApp(
        client=client,
        signing_secret=(
            settings.slack_signing_secret.get_secret_value()
            if settings.slack_signing_secret
            else None
        ),
        # Ack returns the HTTP response at once; the listener finishes in the background.
        process_before_response=False,
    )
    deps = Deps(service=runtime.service, timezones=UserTimezones(settings.timezone()))
    register_listeners(app, deps)

    @app.error
    async def on_error(error: Exception) -> None:
        # Listeners turn every expected failure into a message; this logs what slipped past.
        log.error("unhandled error in a Slack listener: %s", type(error).__name__, exc_info=error)

    return app


def build_asgi(app: AsyncApp, runtime: Runtime) -> Starlette:
    handler = AsyncSlackRequestHandler(app)

    async def slack_events(request: Request) -> Response:
        return await handler.handle(request)

    async def healthz(_: Request) -> Response:
        return JSONResponse({"ok": True})

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        yield
        # Graceful shutdown: uvicorn stops accepting, lets in-flight requests finish, then this.
        await runtime.aclose()

    return Starlette(
        routes=[
            Route("/slack/events", slack_events, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
        ],
        lifespan=lifespan,
    )
