"""The reader's time zone, from Slack's users.info, cached.

Windows like "since 09:00" and every time shown are in the user's Slack time zone. users.info is
rate limited (Tier 4) and a zone rarely changes, so answers are kept for an hour, and concurrent
look-ups for one user share a call. When Slack cannot tell, the configured default applies.
"""

from __future__ import annotations

import asyncio
import logging
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cachetools import TTLCache
from slack_sdk.web.async_client import AsyncWebClient

log = logging.getLogger(__name__)


class UserTimezones:
    def __init__(self, default: ZoneInfo, *, ttl_s: float = 3600.0, maxsize: int = 5000) -> None:
        self.default = default
        self._zones: TTLCache[str, ZoneInfo] = TTLCache(maxsize=maxsize, ttl=ttl_s)
        self._inflight: dict[str, asyncio.Future[ZoneInfo]] = {}

    async def for_user(
        self, client: AsyncWebClient, user_id: str, *, wait_s: float | None = None
    ) -> ZoneInfo:
        """The user's zone. With `wait_s`, the default zone when Slack has not answered by then;
        the look-up goes on and fills the cache for the next request."""
        if not user_id:
            return self.default
        cached = self._zones.get(user_id)
        if cached is not None:
            return cached
        pending = self._inflight.get(user_id)
        if pending is None:
            pending = asyncio.ensure_future(self._fill(client, user_id))
            self._inflight[user_id] = pending
        try:
            return await asyncio.wait_for(asyncio.shield(pending), wait_s)
        except TimeoutError:
            log.info("users.info for %s is slow; answering in %s", user_id, self.default)
            return self.default

    async def _fill(self, client: AsyncWebClient, user_id: str) -> ZoneInfo:
        try:
            zone = await self._look_up(client, user_id)
            self._zones[user_id] = zone
            return zone
        finally:
            del self._inflight[user_id]

    async def _look_up(self, client: AsyncWebClient, user_id: str) -> ZoneInfo:
        try:
            response = await client.users_info(user=user_id)
            name = (response.get("user") or {}).get("tz")
        except Exception as exc:
            # A missing zone must never cost the user the answer: fall back to the default.
            log.warning("users.info failed for %s (%s); using %s", user_id, exc, self.default)
            return self.default
        if not name:
            return self.default
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            log.warning("Slack sent an unknown time zone %r for %s", name, user_id)
            return self.default
