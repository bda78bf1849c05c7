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

    async def for_user(self, client: AsyncWebClient, user_id: str) -> ZoneInfo:
        if not user_id:
            return self.default
        cached = self._zones.get(user_id)
        if cached is not None:
            return cached
        pending = self._inflight.get(user_id)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[ZoneInfo] = asyncio.get_running_loop().create_future()
        self._inflight[user_id] = future
        try:
            zone = await self._look_up(client, user_id)
            self._zones[user_id] = zone
            future.set_result(zone)
            return zone
        finally:
            del self._inflight[user_id]
            if not future.done():
                future.set_result(self.default)

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
