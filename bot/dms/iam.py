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

from bot.dms.errors import DmsAuthError, DmsUnavailableError
from bot.domain.tasks import parse_api_time

log = logging.getLogger("bot.dms")

# IAM documents a 24 h lifetime; used when the body carries no expires_at.
DEFAULT_TOKEN_LIFETIME = timedelta(hours=24)
_IAM_HINT = (
    "An admin should check DMS_IAM_USERNAME, DMS_IAM_PASSWORD and DMS_IAM_DOMAIN (the account "
    "that owns the IAM user) and HUAWEICLOUD_SDK_PROJECT_ID. Nothing was changed."
)


@dataclass(frozen=True)
class _Token:
    value: str
    expires_at: datetime


class IamTokenAuth(httpx.Auth):
    """Adds a project-scoped IAM token to every request, fetching and refreshing it as needed."""

    # DmsClient words a 401 for token users differently from AK/SK users.
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
        # Created on first use so that the auth can be built outside a running event loop.
        self._lock: asyncio.Lock | None = None
        self.token_requests = 0

    def __repr__(self) -> str:
        # Neither the password nor the token may reach a log line through a repr.
        return f"IamTokenAuth(user={self._username!r}, domain={self._domain!r})"

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
            self._token = await self._request_token()
            return self._token

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
            raise DmsUnavailableError(
                summary=f"Huawei Cloud IAM could not be reached for a token "
                f"({type(exc).__name__}).",
                hint="Try again in a few minutes; if it persists, check DMS_IAM_ENDPOINT and the "
                "Huawei Cloud status page.",
                retryable=True,
            ) from exc
        request_id = response.headers.get("X-Request-Id")
        if response.status_code >= 500 or response.status_code == 429:
            raise DmsUnavailableError(
                summary=f"Huawei Cloud IAM answered HTTP {response.status_code} to a token "
                "request.",
                hint="Try again in a few minutes; if it persists, check the Huawei Cloud status "
                "page.",
                status=response.status_code,
                request_id=request_id,
                retryable=True,
            )
        value = response.headers.get("X-Subject-Token")
        if response.status_code >= 400 or not value:
            # Never retried: repeated wrong passwords lock the IAM user.
            raise DmsAuthError(
                summary="Huawei Cloud IAM refused to issue a token for the bot"
                f" (HTTP {response.status_code}).",
                hint=_IAM_HINT,
                status=response.status_code,
                error_code=_iam_error_code(response),
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


def _iam_error_code(response: httpx.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    if not isinstance(body, dict):
        return None
    error = body.get("error")
    if isinstance(error, dict) and error.get("code") is not None:
        return str(error["code"])[:40]
    code = body.get("error_code")
    return str(code)[:40] if code else None
