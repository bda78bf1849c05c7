"""Posting outside a request (digests, alerts, watches), and editing what was posted: one poster
that every job and listener shares, so Slack's limits hold for the whole process.

- `chat.postMessage` allows about one message per second per channel (Slack's rate limits):
  posts to one channel are spaced by `interval_s`, posts to different channels are not.
- A 429 carries `Retry-After`: the poster waits that long and tries again, a bounded number of
  times. (The shared Web client has no rate-limit retry handler of its own, so the wait is
  decided here, once.)
- The channel being gone or closed to the bot (`channel_not_found`, `not_in_channel`,
  `is_archived`) is an outcome the caller acts on (pause a digest, tell its owner), not an
  exception.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

log = logging.getLogger(__name__)

UnavailableReason = Literal["channel_not_found", "not_in_channel", "is_archived"]
UNAVAILABLE: frozenset[str] = frozenset({"channel_not_found", "not_in_channel", "is_archived"})
GoneReason = Literal["message_not_found", "cant_update_message"]
GONE: frozenset[str] = frozenset({"message_not_found", "cant_update_message"})
# When Slack sends a 429 without Retry-After.
DEFAULT_RETRY_AFTER_S = 1.0
MAX_RETRY_AFTER_S = 120.0


@dataclass(frozen=True)
class Posted:
    channel: str
    ts: str


@dataclass(frozen=True)
class ChannelUnavailable:
    channel: str
    reason: UnavailableReason


@dataclass(frozen=True)
class PostFailed:
    """Anything else Slack refused (`msg_blocks_too_long`, `invalid_blocks`, 429s past the
    retries, a network failure): `error` is Slack's code, or the exception's kind."""

    channel: str
    error: str


@dataclass(frozen=True)
class Updated:
    channel: str
    ts: str


@dataclass(frozen=True)
class MessageGone:
    """chat.update found no message to edit: someone deleted it, or it is not the bot's."""

    channel: str
    ts: str
    reason: GoneReason


PostOutcome = Posted | ChannelUnavailable | PostFailed
UpdateOutcome = Updated | MessageGone | ChannelUnavailable | PostFailed


def _retry_after(exc: SlackApiError) -> float:
    headers = getattr(exc.response, "headers", None) or {}
    raw = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
    try:
        seconds = float(raw) if raw is not None else DEFAULT_RETRY_AFTER_S
    except (TypeError, ValueError):
        seconds = DEFAULT_RETRY_AFTER_S
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_S)


class SlackPoster:
    def __init__(
        self,
        client: AsyncWebClient,
        *,
        interval_s: float = 1.0,
        max_rate_limited: int = 3,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._client = client
        self._interval_s = interval_s
        self._max_rate_limited = max_rate_limited
        self._clock = clock
        self._sleep = sleep
        self._locks: dict[str, asyncio.Lock] = {}
        self._last_post: dict[str, float] = {}

    async def post(self, channel: str, message: dict[str, Any], **extra: Any) -> PostOutcome:
        """`message` is what the renderer built (text and blocks); `extra` adds chat.postMessage
        arguments such as thread_ts.

        A user id as `channel` posts in the app's DM with that person (chat.postMessage opens
        it); `Posted.channel` is then the DM's own id (D…), which chat.update needs."""

        async def send() -> Any:
            return await self._client.chat_postMessage(channel=channel, **message, **extra)

        outcome = await self._call("post", channel, send)
        if isinstance(outcome, dict):
            return Posted(str(outcome.get("channel") or channel), str(outcome.get("ts", "")))
        return outcome

    async def update(self, channel: str, ts: str, message: dict[str, Any]) -> UpdateOutcome:
        """Edit a message the bot posted (chat.update), with the same spacing and Retry-After
        handling as posts: edits and posts to one channel share its turn. chat.update cannot
        edit an ephemeral message, and `channel` must be the conversation's id (a DM's D…, not
        a user id). A message deleted since it was posted is `MessageGone`."""

        async def send() -> Any:
            return await self._client.chat_update(channel=channel, ts=ts, **message)

        outcome = await self._call("update", channel, send)
        if isinstance(outcome, dict):
            return Updated(channel, str(outcome.get("ts") or ts))
        if isinstance(outcome, PostFailed) and outcome.error in GONE:
            return MessageGone(channel, ts, outcome.error)  # type: ignore[arg-type]
        return outcome

    async def permalink(self, channel: str, ts: str) -> str | None:
        """A link to a posted message (chat.getPermalink), or None when Slack gives none: a
        link is a convenience, never worth a failure."""
        try:
            response = await self._client.chat_getPermalink(channel=channel, message_ts=ts)
        except Exception as exc:
            log.info("no permalink for %s in %s: %s", ts, channel, type(exc).__name__)
            return None
        link = response.get("permalink")
        return link if isinstance(link, str) and link.startswith("https://") else None

    async def _call(
        self, verb: str, channel: str, send: Callable[[], Awaitable[Any]]
    ) -> dict[str, Any] | ChannelUnavailable | PostFailed:
        """Slack's answer to `send` (a dict), after its turn in the channel and the Retry-Afters
        Slack asks for; or the typed outcome of a refusal."""
        lock = self._locks.setdefault(channel, asyncio.Lock())
        async with lock:
            rate_limited = 0
            while True:
                await self._wait_turn(channel)
                try:
                    try:
                        response = await send()
                    finally:
                        # Spaced from Slack's answer, not from the asking: round trips vary, so
                        # posts spaced at the start could reach Slack less than 1 s apart.
                        self._last_post[channel] = self._clock()
                except SlackApiError as exc:
                    status = getattr(exc.response, "status_code", None)
                    error = str((exc.response or {}).get("error", "")) if exc.response else ""
                    if status == 429 and rate_limited < self._max_rate_limited:
                        rate_limited += 1
                        wait = _retry_after(exc)
                        log.warning(
                            "Slack rate limited a %s to %s; retrying in %.0f s", verb, channel, wait
                        )
                        await self._sleep(wait)
                        # The wait Slack asked for replaces the usual spacing.
                        self._last_post[channel] = self._clock() - self._interval_s
                        continue
                    if error in UNAVAILABLE:
                        log.warning("cannot %s to %s: %s", verb, channel, error)
                        return ChannelUnavailable(channel, error)  # type: ignore[arg-type]
                    log.warning("%s to %s failed: %s", verb, channel, error or status)
                    return PostFailed(channel, error or f"http_{status}")
                except Exception as exc:
                    log.warning("%s to %s failed: %s", verb, channel, type(exc).__name__)
                    return PostFailed(channel, type(exc).__name__)
                data = getattr(response, "data", response)
                return dict(data) if isinstance(data, dict) else {}

    async def _wait_turn(self, channel: str) -> None:
        last = self._last_post.get(channel)
        if last is None:
            return
        wait = last + self._interval_s - self._clock()
        if wait > 0:
            await self._sleep(wait)
