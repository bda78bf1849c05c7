"""The one owner of everything long-lived in a process: settings, the DMS client and its cache,
the service, the Slack Web client, the Bolt app, Socket Mode, the poster and the background jobs.

`dms-tasks-bot serve` builds one `Runtime` and serves `runtime.asgi()` with uvicorn: one Starlette
lifespan starts and stops it all, and the HTTP server (`/healthz`, later `/metrics`) runs on PORT
in both modes. In HTTP mode Slack posts to `/slack/events`; in Socket Mode the connection is
opened at start-up, as in bolt-python's examples/socket_mode_async_healthcheck.py.

Shutdown (SIGTERM, via uvicorn): stop taking new work (the socket is disconnected, new requests
get 503), let acknowledged work finish within `shutdown_grace_seconds`, cancel the jobs, close
the clients. The terminal (`try`, `demo`) builds a Runtime without Slack.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import httpx
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from bot import slack_requests
from bot.alert_scheduler import AlertScheduler
from bot.alerts import AlertService
from bot.digest_scheduler import DigestScheduler
from bot.digests import DigestService
from bot.dms.auth import AkSkAuth
from bot.dms.cache import TaskCache
from bot.dms.client import DmsClient, RetryPolicy
from bot.dms.iam import IamTokenAuth
from bot.jobs import JobRegistry
from bot.poster import SlackPoster
from bot.service import TaskService
from bot.settings import Settings
from bot.store import Store, StoredWatches, StoreError, open_store
from bot.timezones import UserTimezones
from bot.watch_runner import WatchRunner
from bot.watches import WatchService
from bot.work import WorkTracker

log = logging.getLogger(__name__)


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
    return IamTokenAuth(
        iam_url=settings.iam_endpoint_for(settings.region or ""),
        username=settings.iam_username,
        password=settings.iam_password.get_secret_value(),
        domain=settings.iam_domain,
        project_id=settings.project_id or "",
    )


class StartupFailed(Exception):
    """The process cannot serve; the message says what to fix."""


class Runtime:
    def __init__(
        self, settings: Settings, *, with_slack: bool = True, with_store: bool | None = None
    ) -> None:
        """Validates the settings (raising SettingsError) and builds every part; nothing runs
        until `start()`, which opens the digest store (`with_store`, by default with Slack) and
        starts the digest scheduler when Slack is there to post to."""
        settings.check_cloud()
        if with_slack:
            settings.check_slack()
        self.settings = settings
        self.dms = DmsClient(
            auth=_cloud_auth(settings),
            endpoint_for=settings.endpoint_for,
            retry=RetryPolicy(budget_s=settings.retry_budget_seconds),
            timeout=settings.timeout_seconds,
        )
        self.cache = TaskCache(self.dms)
        self.service = TaskService(settings, self.cache)
        self.timezones = UserTimezones(settings.timezone())
        self.work = WorkTracker()
        self.jobs = JobRegistry()
        self.with_store = with_slack if with_store is None else with_store
        self.store: Store | None = None
        # Built now so listeners can hold it; it answers once `start()` has opened the store.
        self.digests = DigestService(self.service)
        self.scheduler: DigestScheduler | None = None
        self.alerts = AlertService(self.service)
        self.alert_scheduler: AlertScheduler | None = None
        # Built with the poster (watches post and edit their own messages); attached to the
        # store at start-up, like digests and alerts.
        self.watches: WatchService | None = None
        self.watch_runner: WatchRunner | None = None
        self.slack: AsyncWebClient | None = None
        self.poster: SlackPoster | None = None
        self.app: AsyncApp | None = None
        self._socket: AsyncSocketModeHandler | None = None
        self.stopped = False
        self.failure: str | None = None
        # Called when start-up fails inside the server, to end it (set by the CLI).
        self.on_failure: Callable[[], None] | None = None
        if self.service.access.open:
            log.warning(
                "No access rules in the config file: every channel may query every instance "
                "these credentials can see. Add channels = [...] to instances in DMS_BOT_CONFIG "
                "to restrict."
            )
        if with_slack:
            self._build_slack()

    def _build_slack(self) -> None:
        from handlers import register_listeners
        from handlers.deps import Deps

        settings = self.settings
        self.slack, self.poster = self.open_poster()
        self.watches = WatchService(self.service, self.poster, progress=self.dms.task_progress)
        self.app = AsyncApp(
            client=self.slack,
            signing_secret=(
                settings.slack_signing_secret.get_secret_value()
                if settings.slack_signing_secret
                else None
            ),
            # Ack returns the HTTP response at once; the listener finishes in the background.
            process_before_response=False,
        )
        register_listeners(
            self.app,
            Deps(
                service=self.service,
                timezones=self.timezones,
                work=self.work,
                poster=self.poster,
                command=settings.command,
                digests=self.digests if self.with_store else None,
                alerts=self.alerts if self.with_store else None,
                watches=self.watches if self.with_store else None,
            ),
        )

        @self.app.error
        async def on_error(error: Exception) -> None:
            # Listeners turn every expected failure into a message; this logs what slipped past.
            log.error(
                "unhandled error in a Slack listener: %s", type(error).__name__, exc_info=error
            )

    def open_poster(self) -> tuple[AsyncWebClient, SlackPoster]:
        """The Slack Web client and the poster (also for `dms-tasks-bot digest send`, which
        posts without serving); needs SLACK_BOT_TOKEN only."""
        if self.slack is None or self.poster is None:
            token = self.settings.slack_bot_token
            assert token is not None, "check_slack() or the CLI requires SLACK_BOT_TOKEN"
            # No rate-limit retry handler here: chat.postMessage 429s are waited out by the
            # poster, where the wait is decided once and can be tested; other calls fail soft
            # (a user's zone falls back to the default).
            self.slack = AsyncWebClient(
                token=token.get_secret_value(), base_url=self.settings.slack_api_url
            )
            self.poster = SlackPoster(self.slack)
        return self.slack, self.poster

    @property
    def socket_mode(self) -> bool:
        return self.app is not None and self.settings.slack_app_token is not None

    # ---- life --------------------------------------------------------------------------------

    async def start(self) -> None:
        """Raises StartupFailed, worded for the operator, when the store cannot be opened or
        Slack refuses the connection."""
        if self.with_store:
            await self._open_store()
        if self.socket_mode:
            assert self.app is not None and self.settings.slack_app_token is not None
            self._socket = AsyncSocketModeHandler(
                self.app, self.settings.slack_app_token.get_secret_value()
            )
            try:
                # slack_sdk's Socket Mode client retries a refused connection for ever, logging
                # a traceback each time: ask once ourselves, and fail start-up in words.
                await AsyncWebClient(base_url=self.settings.slack_api_url).apps_connections_open(
                    app_token=self.settings.slack_app_token.get_secret_value()
                )
            except SlackApiError as exc:
                error = str((exc.response or {}).get("error", "")) or "refused"
                raise StartupFailed(
                    f"Slack refused the Socket Mode connection ({error}): check that "
                    "SLACK_APP_TOKEN is the app-level token (xapp-…) with connections:write, "
                    "and that Socket Mode is enabled in the app's settings."
                ) from None
            except (OSError, aiohttp.ClientError) as exc:
                raise StartupFailed(
                    f"Could not reach Slack for Socket Mode ({type(exc).__name__}): check the "
                    "network, and SLACK_API_URL if it is set."
                ) from None
            await self._socket.connect_async()
            log.info("serving in Socket Mode")
        self.jobs.start()

    async def _open_store(self) -> None:
        settings = self.settings
        try:
            self.store = await open_store(
                str(settings.db_path),
                settings.redis_url.get_secret_value() if settings.redis_url else None,
            )
        except StoreError as exc:
            raise StartupFailed(str(exc)) from None
        self.digests.attach(self.store)
        self.service.digests = self.digests
        self.alerts.attach(self.store)
        self.service.alerts = self.alerts
        self.service.channel_defaults.attach(self.store)
        if self.watches is not None:
            self.watches.attach(StoredWatches(self.store))
        if self.poster is not None and self.app is not None:
            self.scheduler = DigestScheduler(
                self.store,
                self.digests,
                self.poster,
                grace=settings.digest_grace,
                poll_s=settings.scheduler_poll_seconds,
            )
            self.jobs.add("digests", self.scheduler.run)
            self.alert_scheduler = AlertScheduler(
                self.store,
                self.alerts,
                self.poster,
                interval_s=settings.alert_interval_seconds,
            )
            self.jobs.add("alerts", self.alert_scheduler.run)
            if self.watches is not None:
                self.watch_runner = WatchRunner(self.watches)
                self.jobs.add("watches", self.watch_runner.run)
        where = "Redis (REDIS_URL)" if settings.redis_url else str(settings.db_path)
        log.info("digests, alerts and channel defaults kept in %s", where)

    async def stop(self) -> None:
        grace = self.settings.shutdown_grace_seconds
        self.work.stop_accepting()
        if self._socket is not None:
            # No new envelopes from here on; acks of what arrived are already sent.
            await self._socket.disconnect_async()
        if not await self.work.drain(grace):
            log.warning(
                "shutting down with %d answers unfinished after %.0f s", self.work.active, grace
            )
        await self.jobs.stop()
        if self._socket is not None:
            await self._socket.close_async()
            self._socket = None
        await self.dms.aclose()
        if self.store is not None:
            await self.store.close()
            self.store = None
        self.stopped = True
        log.info("stopped")

    async def __aenter__(self) -> Runtime:
        await self.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.stop()

    # ---- HTTP --------------------------------------------------------------------------------

    async def _healthz(self, _: Request) -> Response:
        body: dict[str, Any] = {"ok": True, "jobs": {s.name: s.crashes for s in self.jobs.states}}
        if self._socket is not None:
            connected = await self._socket.client.is_connected()
            body.update(ok=connected, socket_mode="connected" if connected else "disconnected")
            if not connected:
                return JSONResponse(body, status_code=503)
        return JSONResponse(body)

    def asgi(self) -> Starlette:
        routes = [Route("/healthz", self._healthz, methods=["GET"])]
        if self.app is not None and not self.socket_mode:
            handler = AsyncSlackRequestHandler(self.app)
            secret = self.settings.slack_signing_secret
            assert secret is not None

            async def slack_events(request: Request) -> Response:
                body = await request.body()
                try:
                    slack_requests.check(body, request.headers, secret.get_secret_value())
                except slack_requests.Refused as refused:
                    log.info("refused a request to /slack/events: %s", refused.reason)
                    return PlainTextResponse(refused.reason, status_code=refused.status)
                return await handler.handle(request)

            routes.append(Route("/slack/events", slack_events, methods=["POST"]))

        @asynccontextmanager
        async def lifespan(_: Starlette) -> AsyncIterator[None]:
            try:
                await self.start()
            except StartupFailed as failed:
                # One clear line, not the server's traceback; the CLI exits 2 with it.
                self.failure = str(failed)
                log.error("%s", failed)
                if self.on_failure is not None:
                    self.on_failure()
            try:
                yield
            finally:
                # uvicorn has stopped accepting connections and let open requests finish.
                await self.stop()

        return Starlette(routes=routes, lifespan=lifespan)
