"""From what the DMS API answered (or failed to) to a typed DmsError.

DMS quirks this module lives with:
- error bodies are `{"error_code", "error_msg"}`; API Gateway adds `request_id`, some services
  nest `{"error": {"code", "message"}}`, and the request id is also the `X-Request-Id` header;
- DMS.10240101-104 mean the IAM token is invalid, expired, missing or scoped to another project.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import httpx

from bot.dms.errors import (
    DmsAuthError,
    DmsBadRequestError,
    DmsError,
    DmsNotFoundError,
    DmsPermissionError,
    DmsThrottledError,
    DmsUnavailableError,
)

# Error texts quote the API's own message; cap it so a verbose gateway cannot flood Slack.
MAX_QUOTED_CHARS = 200
# DMS.10240101–104: the IAM token is invalid, expired, missing or scoped to another project.
_TOKEN_ERROR_CODES = frozenset({"DMS.10240101", "DMS.10240102", "DMS.10240103", "DMS.10240104"})
_RETRY_AGAIN_LATER = (
    "Try again in a few minutes; if it persists, check the Huawei Cloud status page."
)


@dataclass(frozen=True)
class Operation:
    """What a call was doing, so that an error can say it in the user's terms."""

    action: str  # e.g. "list the background tasks of instance 4f1c…"
    iam_action: str
    project_id: str
    region: str
    instance_id: str | None = None
    instance_label: str | None = None
    task_id: str | None = None


@dataclass
class Failure:
    """One retryable failed attempt."""

    kind: str  # "throttled", "server", "timeout", "connection", "malformed", "auth-backend"
    what: str  # plain words: "timed out after 10 s", "answered HTTP 500"
    status: int | None = None
    error_code: str | None = None
    error_msg: str | None = None
    request_id: str | None = None
    retry_after_s: float | None = None
    raised: DmsError | None = None


def quote_text(text: str | None) -> str | None:
    if text is None:
        return None
    text = " ".join(str(text).split())
    if len(text) > MAX_QUOTED_CHARS:
        return text[: MAX_QUOTED_CHARS - 1] + "…"
    return text


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
    return (
        quote_text(str(code)) if code else None,
        quote_text(str(msg)) if msg else None,
        quote_text(str(request_id)) if request_id else None,
    )


def connection_failure(exc: httpx.TransportError) -> str:
    """What a transport failure means to a reader, without Python class names."""
    if isinstance(exc, httpx.ConnectError):
        return "could not be reached (the connection was refused or the address did not resolve)"
    if isinstance(exc, httpx.RemoteProtocolError):
        return "could not be reached (it closed the connection without a complete answer)"
    if isinstance(exc, httpx.ProxyError):
        return "could not be reached through the configured proxy"
    return "could not be reached (the connection failed)"


def unusable_url(url: str) -> DmsError:
    return DmsUnavailableError(
        summary=f"The DMS API address {quote_text(url)} is not a usable http(s) URL.",
        hint="An admin should check DMS_ENDPOINT / DMS_REGION.",
    )


def give_up(failure: Failure, op: Operation, attempts: int) -> DmsError:
    if failure.raised is not None:
        return failure.raised
    tries = "once" if attempts == 1 else f"{attempts} times"
    if failure.kind == "throttled":
        return DmsThrottledError(
            summary="Huawei Cloud is throttling requests; try again in a minute.",
            hint=f"The bot tried {tries}. If this happens often, fewer queries or digests "
            "should run at the same time.",
            status=failure.status,
            error_code=failure.error_code or "APIGW.0308",
            error_msg=failure.error_msg,
            request_id=failure.request_id,
            retryable=True,
        )
    # The error code and request id follow the summary in parentheses when shown, so the
    # number of tries goes into the hint rather than a second parenthesis.
    return DmsUnavailableError(
        summary=f"Huawei Cloud's DMS API {failure.what} when asked to {op.action}.",
        hint=f"The bot tried {tries}. {_RETRY_AGAIN_LATER}",
        status=failure.status,
        error_code=failure.error_code,
        error_msg=failure.error_msg,
        request_id=failure.request_id,
        retryable=True,
    )


def client_error(
    status: int,
    code: str | None,
    msg: str | None,
    request_id: str | None,
    op: Operation,
    uses_token: bool,
) -> DmsError:
    fields: dict[str, Any] = {
        "status": status,
        "error_code": code,
        "error_msg": msg,
        "request_id": request_id,
    }
    where = f"project {op.project_id}, region {op.region}"
    if status < 400:
        # The client follows no redirects: a 3xx means the address leads somewhere other than
        # the API (http instead of https, a login portal, a proxy's page).
        return DmsUnavailableError(
            summary=f"The DMS API address answered HTTP {status} instead of the API when "
            f"asked to {op.action}.",
            hint="An admin should check DMS_ENDPOINT / DMS_REGION.",
            **fields,
        )
    if status == 401:
        if code in _TOKEN_ERROR_CODES or uses_token:
            return DmsAuthError(
                summary="Huawei Cloud rejected the bot's IAM token.",
                hint="An admin should check DMS_IAM_USERNAME, DMS_IAM_PASSWORD and "
                "DMS_IAM_DOMAIN, and that HUAWEICLOUD_SDK_PROJECT_ID is the project of "
                f"region {op.region}. Nothing was changed.",
                **fields,
            )
        return DmsAuthError(
            summary="Huawei Cloud rejected the bot's credentials.",
            hint="An admin should check HUAWEICLOUD_SDK_AK / HUAWEICLOUD_SDK_SK (and "
            "HUAWEICLOUD_SDK_SECURITY_TOKEN if temporary credentials are used). "
            "Nothing was changed.",
            **fields,
        )
    if status == 403:
        return DmsPermissionError(
            summary=f"The bot's Huawei Cloud identity is not allowed to {op.action}.",
            hint=f"An admin should grant it the IAM action {op.iam_action} in {where} "
            "(read-only; the bot needs nothing that writes).",
            **fields,
        )
    if status == 404:
        if op.instance_id and (code == "DMS.00404022" or op.task_id is None):
            return DmsNotFoundError(
                summary=f"Instance {op.instance_id} does not exist in {where}.",
                hint="Check the instance id, and that the bot's HUAWEICLOUD_SDK_PROJECT_ID "
                "and DMS_REGION (or the alias's project_id/region) are where it lives.",
                **fields,
            )
        if op.task_id:
            return DmsNotFoundError(
                summary=f"Task {op.task_id} was not found on instance {op.instance_label}.",
                hint="Its record may have been deleted; list the window again.",
                **fields,
            )
        return DmsNotFoundError(
            summary=f"Huawei Cloud found nothing when asked to {op.action}.",
            hint=f"Check that {where} is right.",
            **fields,
        )
    detail = f": {msg}" if msg else ""
    return DmsBadRequestError(
        summary=f"Huawei Cloud refused the request to {op.action} (HTTP {status}){detail}.",
        hint=_bad_request_hint(code),
        **fields,
    )


def _bad_request_hint(code: str | None) -> str:
    hints = {
        "DMS.00400061": "The instance id is not in the format DMS expects; copy it from the "
        "console (instance → Basic Information).",
        "DMS.00400142": "The time window was refused; try a shorter or more recent window.",
        "DMS.10240042": "The page size was refused; this is a bug in the bot, please report it.",
        "DMS.10240043": "The window holds more tasks than the API lets us page through; try a "
        "shorter window.",
    }
    return hints.get(code or "", "Check the instance and window; nothing was changed.")
