"""Runs the real `dms-tasks-bot serve` process and talks to it the way Slack does.

Requests are signed exactly as Slack signs them (`v0:` + timestamp + raw body, HMAC-SHA256 with the
signing secret), and the bot's Web API calls and response_url posts go to `tests.slack_mock`.
"""

from __future__ import annotations

import asyncio
import json
import socket
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

import httpx
from slack_sdk.signature import SignatureVerifier

from bot.simulator import DEMO_AK, DEMO_PROJECT_ID, DEMO_REGION, DEMO_SK
from tests.slack_mock import BOT_ID, BOT_TOKEN, BOT_USER_ID, TEAM_ID, MockSlack

SIGNING_SECRET = "e2e-signing-secret-0123456789abcdef"
API_APP_ID = "A_DMS_TASKS"
# The deprecated verification token Slack still sends in every payload; Bolt ignores it.
VERIFICATION_TOKEN = "legacy-verification-token"
COMMAND = "/dms-tasks"
STARTUP_LINE = "Application startup complete"
REPO_ROOT = Path(__file__).resolve().parent.parent

CHANNEL_NAMES = {
    "C0ONCALL": "kafka-oncall",
    "C0BILLING": "billing-team",
    "C0RANDOM": "random",
}


@dataclass(frozen=True)
class SignedRequest:
    """A request body and headers as Slack would send them to the request URL."""

    body: bytes
    headers: dict[str, str]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def next_due_minute(lead_s: float, now: datetime | None = None) -> datetime:
    """The first whole UTC minute at least `lead_s` seconds away: a due time for a digest added
    `at HH:MM tz UTC`, with room to set it up first."""
    earliest = (now or datetime.now(UTC)) + timedelta(seconds=lead_s)
    minute = earliest.replace(second=0, microsecond=0)
    return minute if minute == earliest else minute + timedelta(minutes=1)


def sign(
    body: bytes, *, secret: str = SIGNING_SECRET, timestamp: int | None = None
) -> SignedRequest:
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    signature = SignatureVerifier(secret).generate_signature(timestamp=stamp, body=body)
    return SignedRequest(
        body=body,
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Slack-Request-Timestamp": stamp,
            "X-Slack-Signature": signature,
        },
    )


def _trigger_id() -> str:
    return f"{int(time.time())}.{time.perf_counter_ns() % 10**12}.e2etrigger"


def signed_command(
    text: str,
    channel_id: str,
    user_id: str,
    response_url: str,
    *,
    secret: str = SIGNING_SECRET,
    timestamp: int | None = None,
) -> SignedRequest:
    """A slash command invocation, field for field as Slack posts it."""
    form = {
        "token": VERIFICATION_TOKEN,
        "team_id": TEAM_ID,
        "team_domain": "e2e",
        "channel_id": channel_id,
        "channel_name": CHANNEL_NAMES.get(channel_id, channel_id.lower()),
        "user_id": user_id,
        "user_name": user_id.lower(),
        "command": COMMAND,
        "text": text,
        "api_app_id": API_APP_ID,
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": _trigger_id(),
    }
    return sign(urlencode(form).encode(), secret=secret, timestamp=timestamp)


def block_id_of(message: Mapping[str, Any], action_id: str) -> str:
    for block in message.get("blocks") or []:
        elements = list(block.get("elements") or [])
        if block.get("accessory"):
            elements.append(block["accessory"])
        if any(e.get("action_id") == action_id for e in elements):
            return str(block.get("block_id", ""))
    raise LookupError(f"no block holds {action_id}")


def signed_click(
    action: Mapping[str, Any],
    message_blocks: list[dict[str, Any]],
    channel_id: str,
    user_id: str,
    response_url: str,
    *,
    value: str | None = None,
    secret: str = SIGNING_SECRET,
    timestamp: int | None = None,
    message_ts: str | None = None,
) -> SignedRequest:
    """A block_actions payload for a click on `action` (a button from a received message's
    blocks) in an ephemeral message; `value` replaces the button's value (to forge one).

    With `message_ts` (the `ts` chat.postMessage answered) the click is on that message in
    the channel, as Slack sends it for a message everyone sees: the container is not
    ephemeral and the payload carries the message itself."""
    action_id = str(action["action_id"])
    now = f"{time.time():.6f}"
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": {
            "id": user_id,
            "username": user_id.lower(),
            "name": user_id.lower(),
            "team_id": TEAM_ID,
        },
        "api_app_id": API_APP_ID,
        "token": VERIFICATION_TOKEN,
        "container": {
            "type": "message",
            "message_ts": message_ts or now,
            "channel_id": channel_id,
            "is_ephemeral": message_ts is None,
        },
        "trigger_id": _trigger_id(),
        "team": {"id": TEAM_ID, "domain": "e2e"},
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": channel_id, "name": CHANNEL_NAMES.get(channel_id, channel_id.lower())},
        "state": {"values": {}},
        "response_url": response_url,
        "actions": [
            {
                "action_id": action_id,
                "block_id": block_id_of({"blocks": message_blocks}, action_id),
                "text": action.get("text", {"type": "plain_text", "text": "button"}),
                "value": action.get("value", "") if value is None else value,
                "type": "button",
                "action_ts": now,
            }
        ],
    }
    if message_ts is not None:
        payload["message"] = {
            "type": "message",
            "user": BOT_USER_ID,
            "bot_id": BOT_ID,
            "ts": message_ts,
            "blocks": message_blocks,
        }
    body = urlencode({"payload": json.dumps(payload)}).encode()
    return sign(body, secret=secret, timestamp=timestamp)


def in_thread(click: SignedRequest, thread_ts: str) -> SignedRequest:
    """A `signed_click` on a message in the thread `thread_ts`, signed again: Slack sends the
    thread on the container (and on the message, for one everyone sees)."""
    [(_, raw)] = parse_qsl(click.body.decode())
    payload = json.loads(raw)
    payload["container"]["thread_ts"] = thread_ts
    if "message" in payload:
        payload["message"]["thread_ts"] = thread_ts
    return sign(urlencode({"payload": json.dumps(payload)}).encode())


def buttons(message: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every button in a received message, in block order."""
    found: list[dict[str, Any]] = []
    for block in message.get("blocks") or []:
        for element in [*(block.get("elements") or []), block.get("accessory") or {}]:
            if element.get("type") == "button":
                found.append(element)
    return found


def button(message: Mapping[str, Any], action_prefix: str) -> dict[str, Any]:
    """The first button whose action_id is `<prefix>` or `<prefix>:<n>`."""
    for element in buttons(message):
        if str(element.get("action_id", "")).split(":", 1)[0] == action_prefix:
            return element
    raise LookupError(f"no {action_prefix} button in the message")


def bot_config_toml(
    instances: Mapping[str, Mapping[str, Any]],
    channels: Mapping[str, str] | None = None,
    default_timezone: str | None = None,
) -> str:
    """The DMS_BOT_CONFIG file: `instances` maps alias -> {instance_id, channels?, users?, ...};
    `channels` maps channel id -> default instance alias."""
    lines: list[str] = []
    if default_timezone:
        lines.append(f"default_timezone = {json.dumps(default_timezone)}")
    for alias, entry in instances.items():
        lines.append(f"[instances.{json.dumps(alias)}]")
        lines.extend(f"{key} = {json.dumps(value)}" for key, value in entry.items())
    for channel, default in (channels or {}).items():
        lines.append(f"[channels.{json.dumps(channel)}]")
        lines.append(f"default_instance = {json.dumps(default)}")
    return "\n".join(lines) + "\n"


@dataclass
class BotProcess:
    """A running `dms-tasks-bot serve` and an HTTP client pointed at it."""

    url: str
    process: asyncio.subprocess.Process
    http: httpx.AsyncClient
    output: list[str] = field(default_factory=list)

    @property
    def events_url(self) -> str:
        return f"{self.url}/slack/events"

    async def send(self, request: SignedRequest) -> httpx.Response:
        return await self.http.post(self.events_url, content=request.body, headers=request.headers)

    @property
    def log(self) -> str:
        return "".join(self.output)


def bot_env(
    *,
    mock: MockSlack,
    dms_endpoint: str,
    config_path: Path | None,
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The environment of the serve process, signing with the simulator's demo credentials: only
    what it needs, nothing from the caller's (the interpreter is started by its absolute path, so
    not even PATH). The digest store is a fresh SQLite file unless `extra` names one."""
    env = {
        "PYTHONUNBUFFERED": "1",
        "PYTHONPATH": str(REPO_ROOT),
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_API_URL": mock.api_url,
        "DMS_ENDPOINT": dms_endpoint,
        "HUAWEICLOUD_SDK_AK": DEMO_AK,
        "HUAWEICLOUD_SDK_SK": DEMO_SK,
        "HUAWEICLOUD_SDK_PROJECT_ID": DEMO_PROJECT_ID,
        "DMS_REGION": DEMO_REGION,
        "DMS_BOT_DB": str(Path(tempfile.mkdtemp(prefix="dms-bot-")) / "digests.db"),
    }
    if config_path is not None:
        env["DMS_BOT_CONFIG"] = str(config_path)
    env.update(extra or {})
    return env


async def _pump(
    stream: asyncio.StreamReader, output: list[str], ready: asyncio.Event, ready_line: str
) -> None:
    # Keeps reading for the life of the process: an undrained pipe would block its logging.
    while line := await stream.readline():
        text = line.decode(errors="replace")
        output.append(text)
        if ready_line in text:
            ready.set()


def _serve_command(port: int, args: tuple[str, ...]) -> list[str]:
    return [
        sys.executable,
        "-m",
        "bot.cli",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        *args,
    ]


async def serve_until_exit(
    env: Mapping[str, str], *, timeout: float = 20, args: tuple[str, ...] = ()
) -> tuple[int, str]:
    """`dms-tasks-bot serve` that is expected to stop by itself (a start-up refusal): its exit
    code and everything it printed."""
    process = await asyncio.create_subprocess_exec(
        *_serve_command(free_port(), args),
        env=dict(env),
        cwd=str(REPO_ROOT),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        output, _ = await asyncio.wait_for(process.communicate(), timeout=timeout)
    except TimeoutError:
        process.kill()
        output, _ = await process.communicate()
    assert process.returncode is not None
    return process.returncode, output.decode(errors="replace")


@asynccontextmanager
async def serve_bot(
    env: Mapping[str, str],
    *,
    startup_timeout: float = 20,
    ready_line: str = STARTUP_LINE,
    args: tuple[str, ...] = (),
) -> AsyncIterator[BotProcess]:
    """`dms-tasks-bot serve` on a free loopback port, ready when it prints `ready_line` (by
    default uvicorn's start-up line)."""
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        *_serve_command(port, args),
        env=dict(env),
        cwd=str(REPO_ROOT),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    assert process.stdout is not None
    output: list[str] = []
    ready = asyncio.Event()
    pump = asyncio.create_task(_pump(process.stdout, output, ready, ready_line))
    exited = asyncio.create_task(process.wait())
    started = asyncio.create_task(ready.wait())
    try:
        done, _ = await asyncio.wait(
            {started, exited}, timeout=startup_timeout, return_when=asyncio.FIRST_COMPLETED
        )
        if started not in done:
            if exited in done:
                await pump
            raise RuntimeError("dms-tasks-bot serve did not start:\n" + "".join(output)[-4000:])
        # Room for a burst of concurrent commands (the benchmark sends 100 at once).
        limits = httpx.Limits(max_connections=500, max_keepalive_connections=100)
        async with httpx.AsyncClient(timeout=httpx.Timeout(10.0), limits=limits) as http:
            yield BotProcess(
                url=f"http://127.0.0.1:{port}", process=process, http=http, output=output
            )
    finally:
        started.cancel()
        if process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(asyncio.shield(exited), timeout=10)
            except TimeoutError:
                process.kill()
                await exited
        await exited
        await pump
