"""IAM password-token authentication as an httpx.Auth, the alternative to AK/SK signing.

IAM facts this follows (Huawei Cloud IAM API, "Obtaining a User Token Through Password
Authentication"):
- POST {iam}/v3/auth/tokens with the password method and a project scope answers 201; the token
  is the `X-Subject-Token` response header, its expiry `token.expires_at` in the body;
- a token lives 24 h but can be revoked early, which shows up as a 401 on the next call;
- the token goes in `X-Auth-Token` on every API call.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import NoReturn

import httpx

from bot.dms.error_mapping import error_fields, transport_kind
from bot.dms.errors import (
    CallContext,
    DmsAuthError,
    DmsErrorKind,
    DmsOperation,
    DmsThrottledError,
    DmsUnavailableError,
    public_endpoint,
)
from bot.domain.tasks import parse_api_time

log = logging.getLogger(__name__)

# IAM documents a 24 h lifetime; used when the body carries no expires_at.
DEFAULT_TOKEN_LIFETIME = timedelta(hours=24)


@dataclass(frozen=True)
class _Token:
    value: str
    expires_at: datetime


class IamTokenAuth(httpx.Auth):
    """Adds a project-scoped IAM token to every request, fetching and refreshing it as needed."""

    # A 401 for token users is a rejected token (DmsErrorKind.TOKEN_REJECTED), not bad AK/SK.
    uses_iam_token = True

    def __init__(
        self,
        iam_url: str,
        username: str,
        password: str,
        domain: str,
        project_id: str,
        *,
        clock: Callable[[], datetime] | None = None,
        refresh_margin: timedelta = timedelta(hours=1),
        timeout: httpx.Timeout | float = 10.0,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self._token_url = iam_url.rstrip("/") + "/v3/auth/tokens"
        self._context = CallContext(
            operation=DmsOperation.IAM_TOKEN,
            endpoint=public_endpoint(iam_url),
            project_id=project_id,
        )
        self._username = username
        self._password = password
        self._domain = domain
        self._project_id = project_id
        self._clock = clock or (lambda: datetime.now(UTC))
        self._refresh_margin = refresh_margin
        self._timeout = timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout)
        self._http = http
        self._owns_http = http is None
        self._token: _Token | None = None
        # The token before the current one: a request signed with it may still be answering.
        self._previous_token: _Token | None = None
        # Created on first use so that the auth can be built outside a running event loop.
        self._lock: asyncio.Lock | None = None
        self.token_requests = 0

    def __repr__(self) -> str:
        # Neither the password nor the token may reach a log line through a repr.
        return f"IamTokenAuth(user={self._username!r}, domain={self._domain!r})"

    def redactions(self) -> tuple[str, ...]:
        """What an error must never quote: the password and the token in use."""
        tokens = (t.value for t in (self._token, self._previous_token) if t is not None)
        return (self._password, *tokens)

    async def aclose(self) -> None:
        if self._owns_http and self._http is not None:
            await self._http.aclose()
            self._http = None

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        token = await self._current_token()
        self._apply(request, token)
        response = yield request
        if response.status_code != 401:
            return
        # A revoked token shows up only as a 401: fetch a new one once and send again. A second
        # 401 is final, whatever it says (the credentials themselves may be wrong).
        await response.aread()
        token = await self._current_token(stale=token)
        self._apply(request, token)
        yield request

    def auth_flow(self, request: httpx.Request) -> NoReturn:
        # The token request is async I/O of its own; a sync client would send no token at all.
        raise RuntimeError("IamTokenAuth works only with httpx.AsyncClient")

    def _apply(self, request: httpx.Request, token: _Token) -> None:
        request.headers["X-Auth-Token"] = token.value
        request.headers.setdefault("X-Project-Id", self._project_id)

    async def _current_token(self, *, stale: _Token | None = None) -> _Token:
        if self._lock is None:
            self._lock = asyncio.Lock()
        # One token request however many calls need a token at once: the others wait on the lock
        # and find the fresh token when they get it.
        async with self._lock:
            token = self._token
            if token is not None and token is not stale and self._fresh(token):
                return token
            fresh = await self._request_token()
            self._previous_token, self._token = self._token, fresh
            return fresh

    def _fresh(self, token: _Token) -> bool:
        return self._clock() < token.expires_at - self._refresh_margin

    async def _request_token(self) -> _Token:
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=self._timeout)
        body = {
            "auth": {
                "identity": {
                    "methods": ["password"],
                    "password": {
                        "user": {
                            "name": self._username,
                            "password": self._password,
                            "domain": {"name": self._domain},
                        }
                    },
                },
                "scope": {"project": {"id": self._project_id}},
            }
        }
        self.token_requests += 1
        requested_at = self._clock()
        try:
            response = await self._http.post(self._token_url, json=body, timeout=self._timeout)
        except httpx.TransportError as exc:
            kind = transport_kind(exc)
            timeout_s = self._timeout.read if kind is DmsErrorKind.TIMEOUT else None
            raise DmsUnavailableError.for_call(
                self._context,
                kind,
                retryable=True,
                timeout_s=timeout_s,
                detail=type(exc).__name__,
            ) from exc
        status = response.status_code
        code, msg, request_id = error_fields(response)
        if status == 429:
            raise DmsThrottledError.for_call(
                self._context,
                DmsErrorKind.THROTTLED,
                status=status,
                error_code=code,
                request_id=request_id,
                retryable=True,
            )
        if status >= 500:
            raise DmsUnavailableError.for_call(
                self._context,
                DmsErrorKind.SERVER_ERROR,
                status=status,
                error_code=code,
                request_id=request_id,
                retryable=True,
            )
        value = response.headers.get("X-Subject-Token")
        if status >= 400 or not value:
            # Never retried: repeated wrong passwords lock the IAM user.
            raise DmsAuthError.for_call(
                self._context,
                DmsErrorKind.CREDENTIALS_REJECTED,
                status=status,
                error_code=code,
                error_msg=msg,
                request_id=request_id,
            )
        try:
            expires_at = parse_api_time(response.json()["token"]["expires_at"])
        except (ValueError, KeyError, TypeError):
            expires_at = None
        if expires_at is None:
            expires_at = requested_at + DEFAULT_TOKEN_LIFETIME
        log.info(
            "obtained an IAM token for project %s, valid until %s", self._project_id, expires_at
        )
        return _Token(value=value, expires_at=expires_at)
