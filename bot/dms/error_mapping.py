"""From what the DMS API answered (or failed to) to a typed DmsError with the facts of the call.

DMS quirks this module lives with:
- error bodies are `{"error_code", "error_msg"}`; API Gateway adds `request_id`, some services
  (IAM) nest `{"error": {"code", "message"}}`, and the request id is also the `X-Request-Id`
  header, which support asks for;
- DMS.10240101-104 mean the IAM token is invalid, expired, missing or scoped to another project;
- 404 means two different things: DMS.00404022 is an instance that does not exist, APIGW.0101 a
  path the gateway does not know, which is a wrong endpoint rather than a wrong instance;
- the client follows no redirects, so a 3xx means the address leads somewhere other than the API
  (http instead of https, a login portal, a proxy's page).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import httpx

from bot.dms.errors import (
    CallContext,
    DmsAuthError,
    DmsBadRequestError,
    DmsEndpointError,
    DmsError,
    DmsErrorKind,
    DmsNotFoundError,
    DmsPermissionError,
    DmsThrottledError,
    DmsUnavailableError,
)

# Errors quote the API's own message; cap it so a verbose gateway cannot flood Slack.
MAX_QUOTED_CHARS = 200
# DMS.10240101–104: the IAM token is invalid, expired, missing or scoped to another project.
TOKEN_ERROR_CODES = frozenset({"DMS.10240101", "DMS.10240102", "DMS.10240103", "DMS.10240104"})
INSTANCE_NOT_FOUND_CODE = "DMS.00404022"
API_NOT_FOUND_CODE = "APIGW.0101"
THROTTLED_CODE = "APIGW.0308"


@dataclass
class Failure:
    """One failed attempt that a retry may fix."""

    kind: DmsErrorKind
    status: int | None = None
    error_code: str | None = None
    error_msg: str | None = None
    request_id: str | None = None
    retry_after_s: float | None = None
    timeout_s: float | None = None
    detail: str | None = None
    # An error raised by the auth flow (the IAM token request), given back as is at the end.
    raised: DmsError | None = None


def quote_text(text: object) -> str | None:
    """The API's text on one line and capped, or None when there is none."""
    if text is None or text == "":
        return None
    flat = " ".join(str(text).split())
    if len(flat) > MAX_QUOTED_CHARS:
        return flat[: MAX_QUOTED_CHARS - 1] + "…"
    return flat or None


def error_fields(response: httpx.Response) -> tuple[str | None, str | None, str | None]:
    """(error_code, error_msg, request_id) from an error response, whatever shape it has."""
    code = msg = request_id = None
    try:
        body = json.loads(response.content) if response.content else None
    except ValueError:
        body = None
    if isinstance(body, dict):
        nested = body.get("error") if isinstance(body.get("error"), dict) else {}
        code = body.get("error_code") or body.get("errorCode") or nested.get("code")
        msg = body.get("error_msg") or body.get("errorMsg") or nested.get("message")
        request_id = body.get("request_id")
    request_id = request_id or response.headers.get("X-Request-Id")
    return quote_text(code), quote_text(msg), quote_text(request_id)


def transport_kind(exc: httpx.TransportError) -> DmsErrorKind:
    """Which way the connection failed, in the terms the wording distinguishes."""
    if isinstance(exc, httpx.TimeoutException):
        return DmsErrorKind.TIMEOUT
    if isinstance(exc, httpx.ProxyError):
        return DmsErrorKind.PROXY_FAILED
    if isinstance(exc, httpx.ConnectError):
        return DmsErrorKind.CONNECT_FAILED
    if isinstance(exc, httpx.RemoteProtocolError):
        return DmsErrorKind.CONNECTION_CLOSED
    return DmsErrorKind.CONNECTION_FAILED


def unusable_url(context: CallContext) -> DmsError:
    return DmsEndpointError.for_call(context, DmsErrorKind.UNUSABLE_URL)


def give_up(failure: Failure, context: CallContext, attempts: int) -> DmsError:
    """The error for the last of `attempts` failed attempts."""
    if failure.raised is not None:
        failure.raised.attempts = attempts
        return failure.raised
    facts = {
        "status": failure.status,
        "error_code": failure.error_code,
        "error_msg": failure.error_msg,
        "request_id": failure.request_id,
        "detail": failure.detail,
        "timeout_s": failure.timeout_s,
        "attempts": attempts,
        "retryable": True,
    }
    if failure.kind is DmsErrorKind.THROTTLED:
        facts["error_code"] = failure.error_code or THROTTLED_CODE
        return DmsThrottledError.for_call(context, failure.kind, **facts)
    return DmsUnavailableError.for_call(context, failure.kind, **facts)


def client_error(
    status: int,
    code: str | None,
    msg: str | None,
    request_id: str | None,
    context: CallContext,
    uses_token: bool,
) -> DmsError:
    """The error for an answer no retry can change (3xx, 4xx other than 429)."""
    facts = {"status": status, "error_code": code, "error_msg": msg, "request_id": request_id}
    if status < 400:
        return DmsEndpointError.for_call(context, DmsErrorKind.REDIRECTED, **facts)
    if status == 401:
        kind = (
            DmsErrorKind.TOKEN_REJECTED
            if code in TOKEN_ERROR_CODES or uses_token
            else DmsErrorKind.CREDENTIALS_REJECTED
        )
        return DmsAuthError.for_call(context, kind, **facts)
    if status == 403:
        return DmsPermissionError.for_call(context, DmsErrorKind.FORBIDDEN, **facts)
    if status == 404:
        kind = _not_found_kind(code, context)
        if kind is DmsErrorKind.API_NOT_FOUND:
            return DmsEndpointError.for_call(context, kind, **facts)
        return DmsNotFoundError.for_call(context, kind, **facts)
    return DmsBadRequestError.for_call(context, DmsErrorKind.BAD_REQUEST, **facts)


def _not_found_kind(code: str | None, context: CallContext) -> DmsErrorKind:
    if code == API_NOT_FOUND_CODE:
        return DmsErrorKind.API_NOT_FOUND
    # A bare 404 on a list of tasks can only mean the instance; on one task, the task.
    if context.instance_id and (code == INSTANCE_NOT_FOUND_CODE or context.task_id is None):
        return DmsErrorKind.INSTANCE_NOT_FOUND
    if context.task_id:
        return DmsErrorKind.TASK_NOT_FOUND
    return DmsErrorKind.NOT_FOUND
