"""One GET against the DMS API: the shared httpx client, the retry loop, backoff and Retry-After.

DMS quirks this module lives with:
- a 401 must never be retried: five bad signatures in a row lock the AK for five minutes
  (APIGW.0301), so the only retried failures are 429, 5xx, timeouts, connection errors and 2xx
  bodies that are not the JSON object the API documents;
- API Gateway throttles per API and per second (APIGW.0308, 200 requests/s by default) and
  Huawei says to come back after 2-5 s.
"""

from __future__ import annotations

import email.utils
import json
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from bot.dms.error_mapping import (
    Failure,
    client_error,
    error_fields,
    give_up,
    quote_text,
    transport_kind,
    unusable_url,
)
from bot.dms.errors import CallContext, DmsError, DmsErrorKind

log = logging.getLogger(__name__)

# What a 2xx body is checked with before it is used: None when it is usable, else the problem.
BodyCheck = Callable[[dict[str, Any]], str | None]


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try before telling the user the cloud is unavailable.

    Backoff is exponential with full jitter (a random delay in [0, min(max, base * 2^n)]), so
    several bot replicas hitting the same throttled gateway do not retry in lockstep. A
    Retry-After header replaces the computed delay, but the whole call never runs past `budget_s`:
    when the gateway asks for a longer wait than the budget has left, the call gives up at once
    rather than sleep and fail anyway.
    """

    attempts: int = 4
    base_delay_s: float = 0.25
    max_delay_s: float = 5.0
    budget_s: float = 20.0
    # A 429 without Retry-After: API Gateway counts requests per second (APIGW.0308, 200/s per
    # API by default) and Huawei says to come back after 2-5 s; a retry within the same second
    # only spends an attempt.
    throttled_delay_s: tuple[float, float] = (2.0, 5.0)

    def backoff(self, retry_number: int, rng: random.Random) -> float:
        """The jittered delay before retry `retry_number` (1 for the first retry)."""
        ceiling = min(self.max_delay_s, self.base_delay_s * (2 ** (retry_number - 1)))
        return rng.uniform(0.0, max(ceiling, 0.0))

    def throttled_backoff(self, rng: random.Random) -> float:
        return rng.uniform(*self.throttled_delay_s)


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP date."""
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


class Transport:
    """Sends signed GETs through one connection pool and retries what a retry can fix."""

    def __init__(
        self,
        *,
        auth: httpx.Auth,
        retry: RetryPolicy,
        timeout: httpx.Timeout | float,
        pool_size: int,
        http: httpx.AsyncClient | None,
        sleep: Callable[[float], Awaitable[None]],
        rng: random.Random,
        clock: Callable[[], datetime],
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.auth = auth
        self.retry = retry
        self._timeout = timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout)
        self._owns_http = http is None
        self._http = http or httpx.AsyncClient(
            timeout=self._timeout,
            # A busy incident channel can ask for many windows at once while the API is slow:
            # each waiting request holds a connection for the whole latency, so the pool is sized
            # for a burst (the gateway allows 200 requests/s per API; 429s are retried).
            limits=httpx.Limits(
                max_connections=max(10 * pool_size, 100),
                max_keepalive_connections=max(2 * pool_size, 20),
                keepalive_expiry=30.0,
            ),
            headers={"Accept": "application/json", "Content-Type": "application/json"},
        )
        self._sleep = sleep
        self._rng = rng
        self._clock = clock
        self._monotonic = monotonic

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()
        closer = getattr(self.auth, "aclose", None)
        if closer is not None:
            await closer()

    async def get_json(
        self,
        url: str,
        params: Mapping[str, str],
        project_id: str,
        context: CallContext,
        check: BodyCheck,
    ) -> dict[str, Any]:
        """The JSON object a GET answers with, after the retries the policy allows."""
        started = self._monotonic()
        attempt = 0
        try:
            while True:
                attempt += 1
                outcome = await self._attempt(url, params, project_id, context, check)
                if isinstance(outcome, dict):
                    return outcome
                delay = self._delay_before_retry(outcome, attempt, started)
                if delay is None:
                    raise give_up(outcome, context, attempt)
                log.info(
                    "DMS GET %s failed (%s, status=%s, code=%s, request_id=%s); "
                    "retry %d/%d in %.2f s",
                    httpx.URL(url).path,
                    outcome.kind,
                    outcome.status,
                    outcome.error_code,
                    outcome.request_id,
                    attempt,
                    self.retry.attempts - 1,
                    delay,
                )
                await self._sleep(delay)
        except DmsError as exc:
            exc.attempts = attempt
            exc.redact(self._secrets(url))
            raise

    async def _attempt(
        self,
        url: str,
        params: Mapping[str, str],
        project_id: str,
        context: CallContext,
        check: BodyCheck,
    ) -> dict[str, Any] | Failure:
        """The JSON body of a 2xx answer, a retryable failure, or a raised DmsError."""
        try:
            response = await self._http.get(
                url,
                params=params,
                headers={"X-Project-Id": project_id},
                auth=self.auth,
                timeout=self._timeout,
            )
        except httpx.UnsupportedProtocol as exc:
            raise unusable_url(context) from exc
        except httpx.TransportError as exc:
            # Resets, refused connections, a proxy in the way, a gateway breaking HTTP framing.
            log.info("DMS transport error: %s", type(exc).__name__)
            kind = transport_kind(exc)
            timeout_s = self._timeout.read if kind is DmsErrorKind.TIMEOUT else None
            return Failure(kind=kind, timeout_s=timeout_s)
        except httpx.DecodingError:
            # A body whose Content-Encoding does not decode is as unusable as one that is not JSON.
            return Failure(kind=DmsErrorKind.UNDECODABLE)
        except DmsError as exc:
            # Raised by an auth flow (the IAM token request); it says itself whether a retry
            # can help.
            if not exc.retryable:
                raise
            return Failure(kind=exc.kind, status=exc.status, request_id=exc.request_id, raised=exc)

        status = response.status_code
        if 200 <= status < 300:
            try:
                body = json.loads(response.content)
            except ValueError:
                body = None
            problem = check(body) if isinstance(body, dict) else "not a JSON object"
            if problem is None:
                return body
            return Failure(
                kind=DmsErrorKind.MALFORMED,
                status=status,
                request_id=quote_text(response.headers.get("X-Request-Id")),
                detail=problem,
            )
        code, msg, request_id = error_fields(response)
        if status == 429 or status >= 500:
            return Failure(
                kind=DmsErrorKind.THROTTLED if status == 429 else DmsErrorKind.SERVER_ERROR,
                status=status,
                error_code=code,
                error_msg=msg,
                request_id=request_id,
                retry_after_s=parse_retry_after(response.headers.get("Retry-After"), self._clock()),
            )
        uses_token = bool(getattr(self.auth, "uses_iam_token", False))
        raise client_error(status, code, msg, request_id, context, uses_token)

    def _delay_before_retry(self, failure: Failure, attempt: int, started: float) -> float | None:
        if attempt >= self.retry.attempts:
            return None
        remaining = self.retry.budget_s - (self._monotonic() - started)
        if failure.retry_after_s is not None:
            delay = failure.retry_after_s
        elif failure.kind is DmsErrorKind.THROTTLED:
            delay = self.retry.throttled_backoff(self._rng)
        else:
            delay = self.retry.backoff(attempt, self._rng)
        if delay > remaining:
            return None
        return delay

    def _secrets(self, url: str) -> list[str]:
        """What must never be quoted back: the credentials signed with, user info in the URL."""
        redactions = getattr(self.auth, "redactions", None)
        secrets = list(redactions()) if callable(redactions) else []
        authority = url.partition("://")[2].split("/", 1)[0]
        userinfo, at, _host = authority.rpartition("@")
        if at:
            secrets.extend([userinfo, userinfo.partition(":")[2]])
        return secrets
