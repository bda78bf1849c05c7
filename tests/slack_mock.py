"""A stand-in for the Slack Web API and for response_url endpoints, over loopback HTTP.

Bolt's own tests work this way: the bot's `AsyncWebClient` gets `base_url=<mock>/api/`, and
response_urls point at `<mock>/webhook/<id>`. Slack's clients are aiohttp-based, so an in-process
transport mock cannot intercept them; a real server can. Every call is recorded, and tests wait for
the N-th call to a path on a condition instead of polling.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import WSMsgType, web

BOT_TOKEN = "xoxb-1-e2e-test-token"
APP_TOKEN = "xapp-1-e2e-app-token"
TEAM_ID = "T1"
BOT_USER_ID = "UBOT"
BOT_ID = "BBOT"
DEFAULT_TZ = "Europe/Berlin"

AUTH_TEST = "/api/auth.test"
USERS_INFO = "/api/users.info"
POST_MESSAGE = "/api/chat.postMessage"
UPDATE = "/api/chat.update"
PERMALINK = "/api/chat.getPermalink"
# Socket Mode: a connection opening is recorded under SOCKET_OPENED, every frame the app sends
# (acks of envelopes) under SOCKET_FRAMES.
SOCKET_OPENED = "/socket/opened"
SOCKET_FRAMES = "/socket"
MAX_RESPONSE_URL_USES = 5


@dataclass(frozen=True)
class RecordedCall:
    """One request the mock received, and how it answered."""

    path: str
    body: dict[str, Any]
    headers: dict[str, str]
    status: int
    received_at: float  # time.perf_counter() on arrival, for benchmarks
    # What the mock answered, for Web API calls (the `ts` of a posted message, say).
    answer: dict[str, Any] | None = None

    @property
    def bearer(self) -> str | None:
        value = self.headers.get("Authorization", "")
        return value.removeprefix("Bearer ") if value.startswith("Bearer ") else None


@dataclass
class PostMessageFailures:
    """How the next chat.postMessage calls fail before they succeed."""

    rate_limited: int = 0  # answered 429 + Retry-After
    retry_after: str = "0"
    errors: list[str] = field(default_factory=list)  # answered 200 {"ok": false, "error": ...}


class MockSlack:
    """The Slack Web API methods the bot uses, plus response_url webhooks.

    chat.update and chat.getPermalink answer for messages posted here (message_not_found for any
    other ts); chat.postMessage to a user id (U…, W…) opens the app's DM with them and answers
    with its D… channel (the call is recorded with the user id it was sent to)."""

    def __init__(
        self,
        *,
        bot_token: str = BOT_TOKEN,
        default_tz: str = DEFAULT_TZ,
        member_of: set[str] | None = None,
    ) -> None:
        self.bot_token = bot_token
        # Channels the bot is a member of. As in Slack, chat.postMessage anywhere else fails:
        # not_in_channel for public channels (C…), channel_not_found for private channels (G…),
        # DMs (D…) and everything unknown. A response_url needs no membership.
        self.member_of: set[str] = set() if member_of is None else set(member_of)
        self.public_channels: set[str] = set()
        self._hook_uses: dict[str, int] = {}
        self.default_tz = default_tz
        self.user_tz: dict[str, str] = {}
        self.failures = PostMessageFailures()
        # Every message posted (chat.postMessage that succeeded), as last edited by chat.update:
        # (channel, ts) -> body. A post to a user id is kept under the DM's channel (D…).
        self.messages: dict[tuple[str, str], dict[str, Any]] = {}
        # People whose DM with the app cannot be opened: a post to their user id is
        # channel_not_found.
        self.no_dm: set[str] = set()
        self.calls: list[RecordedCall] = []
        self._changed = asyncio.Condition()
        self._ts = itertools.count(1)
        self._hooks = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self._sockets: list[web.WebSocketResponse] = []
        self.url = ""

    # ---- configuration -----------------------------------------------------------------------

    def rate_limit_post_message(self, times: int, retry_after: str = "0") -> None:
        self.failures.rate_limited = times
        self.failures.retry_after = retry_after

    def fail_post_message(self, error: str, times: int = 1) -> None:
        self.failures.errors.extend([error] * times)

    def response_url(self, hook_id: str | None = None) -> str:
        """A fresh response_url on this mock (one per command or click, as Slack gives)."""
        return f"{self.url}/webhook/{hook_id or f'h{next(self._hooks)}'}"

    @property
    def api_url(self) -> str:
        return f"{self.url}/api/"

    @staticmethod
    def dm_of(user_id: str) -> str:
        """The app's DM with a person, which chat.postMessage to their user id opens."""
        return "D" + user_id[1:]

    # ---- what was received -------------------------------------------------------------------

    def calls_to(self, path: str) -> list[RecordedCall]:
        return [c for c in self.calls if c.path == _path_of(path)]

    def posts_in(self, channel: str, *, ok: bool | None = True) -> list[RecordedCall]:
        """chat.postMessage calls to `channel`: those that succeeded (ok=True), those Slack
        refused (ok=False), or all of them (None)."""
        return [
            c
            for c in self.calls_to(POST_MESSAGE)
            if c.body.get("channel") == channel
            and (ok is None or bool((c.answer or {}).get("ok")) == ok)
        ]

    def updates_of(self, channel: str, ts: str) -> list[RecordedCall]:
        """chat.update calls of the message `ts` in `channel`, answered or not."""
        return [
            c
            for c in self.calls_to(UPDATE)
            if c.body.get("channel") == channel and c.body.get("ts") == ts
        ]

    def replies_to(self, channel: str, thread_ts: str) -> list[RecordedCall]:
        """chat.postMessage calls to `channel` in the thread `thread_ts` that succeeded."""
        return [c for c in self.posts_in(channel) if c.body.get("thread_ts") == thread_ts]

    async def wait_until(self, condition: Callable[[], bool], timeout: float = 10) -> None:
        """Returns once `condition()` holds, checked whenever a call arrives."""
        async with asyncio.timeout(timeout):
            async with self._changed:
                await self._changed.wait_for(condition)

    async def wait_for(self, path: str, count: int = 1, timeout: float = 10) -> list[RecordedCall]:
        """The first `count` calls to `path` (a path, or a URL on this mock), once they exist."""
        wanted = _path_of(path)

        def enough() -> bool:
            return sum(1 for c in self.calls if c.path == wanted) >= count

        async with asyncio.timeout(timeout):
            async with self._changed:
                await self._changed.wait_for(enough)
        return self.calls_to(wanted)[:count]

    # ---- server ------------------------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_post("/webhook/{hook_id}", self._webhook)
        app.router.add_get(SOCKET_FRAMES, self._socket)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None and server.sockets
        port = server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        for socket in self._sockets:
            await socket.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def send_envelope(self, envelope: dict[str, Any]) -> None:
        """Push a Socket Mode envelope to the newest connection, as Slack pushes events."""
        await self._sockets[-1].send_json(envelope)

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        self._sockets.append(socket)
        await socket.send_json(
            {"type": "hello", "num_connections": 1, "connection_info": {"app_id": "A1"}}
        )
        await self._record(request, {}, 101, path=SOCKET_OPENED)
        async for frame in socket:
            if frame.type == WSMsgType.TEXT:
                await self._record(request, json.loads(frame.data), 101)
        return socket

    async def _record(
        self,
        request: web.Request,
        body: dict[str, Any],
        status: int,
        *,
        path: str | None = None,
        answer: dict[str, Any] | None = None,
    ) -> None:
        call = RecordedCall(
            path=path or request.path,
            body=body,
            headers=dict(request.headers),
            status=status,
            received_at=time.perf_counter(),
            answer=answer,
        )
        async with self._changed:
            self.calls.append(call)
            self._changed.notify_all()

    async def _api(self, request: web.Request) -> web.Response:
        body = await _parsed_body(request)
        method = request.match_info["method"]
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if method == "apps.connections.open" and token == APP_TOKEN:
            await self._record(request, body, 200)
            ws_url = self.url.replace("http://", "ws://", 1) + SOCKET_FRAMES
            return web.json_response({"ok": True, "url": ws_url})
        if token != self.bot_token:
            await self._record(request, body, 200)
            return web.json_response({"ok": False, "error": "invalid_auth"})
        if method == "auth.test":
            answer: dict[str, Any] = {
                "ok": True,
                "url": "https://e2e.slack.test/",
                "team": "E2E",
                "user": "dms-tasks-bot",
                "team_id": TEAM_ID,
                "user_id": BOT_USER_ID,
                "bot_id": BOT_ID,
                "is_enterprise_install": False,
            }
        elif method == "users.info":
            user_id = str(body.get("user", ""))
            answer = {
                "ok": True,
                "user": {"id": user_id, "tz": self.user_tz.get(user_id, self.default_tz)},
            }
        elif method == "chat.postMessage":
            channel = str(body.get("channel", ""))
            if _is_user(channel) and channel not in self.no_dm:
                # As in Slack, a user id as the channel opens (or finds) the app's DM with them.
                channel = self.dm_of(channel)
                self.member_of.add(channel)
            if channel not in self.member_of and not self.failures.rate_limited:
                error = "not_in_channel" if channel in self.public_channels else "channel_not_found"
                refused = {"ok": False, "error": error}
                await self._record(request, body, 200, answer=refused)
                return web.json_response(refused)
            if self.failures.rate_limited > 0:
                self.failures.rate_limited -= 1
                await self._record(request, body, 429)
                return web.json_response(
                    {"ok": False, "error": "ratelimited"},
                    status=429,
                    headers={"Retry-After": self.failures.retry_after},
                )
            if self.failures.errors:
                error = self.failures.errors.pop(0)
                refused = {"ok": False, "error": error}
                await self._record(request, body, 200, answer=refused)
                return web.json_response(refused)
            answer = {
                "ok": True,
                "channel": channel,
                "ts": f"{int(time.time())}.{next(self._ts):06d}",
                "message": {"text": body.get("text"), "bot_id": BOT_ID},
            }
            self.messages[(channel, answer["ts"])] = body
        elif method == "chat.update":
            answer = self._update(body)
        elif method == "chat.getPermalink":
            answer = self._permalink(body)
        else:
            answer = {"ok": False, "error": "unknown_method"}
        await self._record(request, body, 200, answer=answer)
        return web.json_response(answer)

    def _update(self, body: dict[str, Any]) -> dict[str, Any]:
        """chat.update: a message the bot posted, in a conversation it is still in."""
        channel, ts = str(body.get("channel", "")), str(body.get("ts", ""))
        if channel not in self.member_of:
            error = "not_in_channel" if channel in self.public_channels else "channel_not_found"
            return {"ok": False, "error": error}
        if (channel, ts) not in self.messages:
            return {"ok": False, "error": "message_not_found"}
        self.messages[(channel, ts)] = {**self.messages[(channel, ts)], **body}
        return {"ok": True, "channel": channel, "ts": ts, "text": body.get("text")}

    def _permalink(self, body: dict[str, Any]) -> dict[str, Any]:
        channel, ts = str(body.get("channel", "")), str(body.get("message_ts", ""))
        if (channel, ts) not in self.messages:
            return {"ok": False, "error": "message_not_found"}
        link = f"https://e2e.slack.test/archives/{channel}/p{ts.replace('.', '')}"
        return {"ok": True, "channel": channel, "permalink": link}

    async def _webhook(self, request: web.Request) -> web.Response:
        body = await _parsed_body(request)
        hook = request.match_info["hook_id"]
        self._hook_uses[hook] = self._hook_uses.get(hook, 0) + 1
        if self._hook_uses[hook] > MAX_RESPONSE_URL_USES:
            # Slack: a response_url takes 5 posts within 30 minutes.
            await self._record(request, body, 404)
            return web.Response(status=404, text="used_url")
        await self._record(request, body, 200)
        # Slack answers response_url posts with a plain "ok".
        return web.Response(text="ok")


def _is_user(channel: str) -> bool:
    return channel[:1] in ("U", "W")


def _path_of(path_or_url: str) -> str:
    if "://" in path_or_url:
        path_or_url = "/" + path_or_url.split("://", 1)[1].split("/", 1)[1]
    return path_or_url


async def _parsed_body(request: web.Request) -> dict[str, Any]:
    """JSON, form or query parameters, whichever the client sent (slack_sdk uses all three)."""
    fields: dict[str, Any] = dict(request.query)
    raw = await request.text()
    if not raw:
        return fields
    if request.content_type == "application/json":
        parsed = json.loads(raw)
        if isinstance(parsed, dict):
            fields.update(parsed)
        return fields
    fields.update(parse_qsl(raw, keep_blank_values=True))
    return fields


@asynccontextmanager
async def start_mock_slack(**options: Any) -> AsyncIterator[MockSlack]:
    mock = MockSlack(**options)
    await mock.start()
    try:
        yield mock
    finally:
        await mock.stop()
