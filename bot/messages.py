"""Failures in words for the person who reads them in Slack: what happened, what to do, and
what support asks for. The DMS client raises structured errors (bot/dms/errors.py); this layer
alone words them, and alone names the settings an admin should look at."""

from __future__ import annotations

from bot.dms.errors import TRANSPORT_KINDS, DmsError, DmsErrorKind, DmsOperation
from bot.report import Problem

K = DmsErrorKind

CHECK_ENDPOINT = "An admin should check DMS_ENDPOINT / DMS_REGION."
RETRY_LATER = "Try again in a few minutes; if it persists, check the Huawei Cloud status page."
AKSK_HINT = (
    "An admin should check HUAWEICLOUD_SDK_AK / HUAWEICLOUD_SDK_SK (and "
    "HUAWEICLOUD_SDK_SECURITY_TOKEN if temporary credentials are used). Nothing was changed."
)
IAM_LOGIN_HINT = (
    "An admin should check DMS_IAM_USERNAME, DMS_IAM_PASSWORD and DMS_IAM_DOMAIN (the account "
    "that owns the IAM user) and HUAWEICLOUD_SDK_PROJECT_ID. Nothing was changed."
)
TASK_GONE_HINT = "Its record may have been deleted; list the window again to see what is there now."

# How a failed connection reads after "Huawei Cloud's DMS API ...".
_UNAVAILABLE_WORDS = {
    K.CONNECT_FAILED: "could not be reached (the connection was refused or the address did not "
    "resolve)",
    K.CONNECTION_CLOSED: "could not be reached (it closed the connection without a complete "
    "answer)",
    K.PROXY_FAILED: "could not be reached through the configured proxy",
    K.CONNECTION_FAILED: "could not be reached (the connection failed)",
    K.UNDECODABLE: "returned a response that could not be decoded",
}

_BAD_REQUEST_HINTS = {
    "DMS.00400061": "The instance id is not in the format DMS expects; copy it from the "
    "console (instance → Basic Information).",
    "DMS.00400142": "The time window was refused; try a shorter or more recent window.",
    "DMS.10240042": "The page size was refused; this is a bug in the bot, please report it.",
    "DMS.10240043": "The window holds more tasks than the API lets us page through; try a "
    "shorter window.",
}


def problem_for(exc: DmsError) -> Problem:
    """What to tell the user about a failed DMS (or IAM) call."""
    if exc.operation is DmsOperation.IAM_TOKEN:
        summary, hint = _iam_words(exc)
    else:
        summary, hint = _dms_words(exc)
    return Problem(summary=summary, hint=hint, reference=reference(exc))


def reference(exc: DmsError) -> str:
    """What support asks for: the API's error code and the request id."""
    request = f"request {exc.request_id}" if exc.request_id else None
    return ", ".join(part for part in (exc.error_code, request) if part)


def no_default_location() -> Problem:
    return Problem(
        summary="This bot has no default project or region for instance ids.",
        hint="Use an alias from the bot's config, or ask an admin to set "
        "HUAWEICLOUD_SDK_PROJECT_ID and DMS_REGION.",
    )


def _dms_words(exc: DmsError) -> tuple[str, str]:
    action = _action(exc)
    where = f"project {exc.project_id}, region {exc.region}"
    kind = exc.kind
    if kind is K.THROTTLED:
        return (
            "Huawei Cloud is throttling requests; try again in a minute.",
            f"The bot tried {_tries(exc)}. If this happens often, fewer queries or digests "
            "should run at the same time.",
        )
    if kind in TRANSPORT_KINDS or kind in (K.UNDECODABLE, K.MALFORMED, K.SERVER_ERROR):
        # The error code and request id follow the summary in parentheses when shown, so the
        # number of tries goes into the hint rather than a second parenthesis.
        return (
            f"Huawei Cloud's DMS API {_unavailable(exc)} when asked to {action}.",
            f"The bot tried {_tries(exc)}. {RETRY_LATER}",
        )
    if kind is K.UNUSABLE_URL:
        return (f"The DMS API address {exc.endpoint} is not a usable http(s) URL.", CHECK_ENDPOINT)
    if kind is K.REDIRECTED:
        return (
            f"The DMS API address answered HTTP {exc.status} instead of the API when asked to "
            f"{action}.",
            CHECK_ENDPOINT,
        )
    if kind is K.API_NOT_FOUND:
        # APIGW.0101: the gateway knows no such path, so the address is not a DMS endpoint; the
        # instance may be fine.
        return (
            f"The DMS API address {exc.endpoint} answered that the API does not exist when "
            f"asked to {action}.",
            f"{CHECK_ENDPOINT} The address is probably not the DMS endpoint of region "
            f"{exc.region}; the instance id may well be right.",
        )
    if kind is K.TOKEN_REJECTED:
        return (
            "Huawei Cloud rejected the bot's IAM token.",
            "An admin should check DMS_IAM_USERNAME, DMS_IAM_PASSWORD and DMS_IAM_DOMAIN, and "
            f"that HUAWEICLOUD_SDK_PROJECT_ID is the project of region {exc.region}. Nothing "
            "was changed.",
        )
    if kind is K.CREDENTIALS_REJECTED:
        return ("Huawei Cloud rejected the bot's credentials.", AKSK_HINT)
    if kind is K.FORBIDDEN:
        return (
            f"The bot's Huawei Cloud identity is not allowed to {action}.",
            f"An admin should grant it the IAM action {exc.iam_action} in {where} (read-only; "
            "the bot needs nothing that writes).",
        )
    if kind is K.INSTANCE_NOT_FOUND:
        return (
            f"Instance {exc.instance_id} does not exist in {where}.",
            "Check the instance id, and that the bot's HUAWEICLOUD_SDK_PROJECT_ID and "
            "DMS_REGION (or the alias's project_id/region) are where it lives.",
        )
    if kind is K.TASK_NOT_FOUND:
        return (f"Task {exc.task_id} was not found on instance {_label(exc)}.", TASK_GONE_HINT)
    if kind is K.NOT_FOUND:
        return (
            f"Huawei Cloud found nothing when asked to {action}.",
            f"Check that {where} is right.",
        )
    detail = f": {exc.error_msg}" if exc.error_msg else ""
    status = f" (HTTP {exc.status})" if exc.status is not None else ""
    return (
        f"Huawei Cloud refused the request to {action}{status}{detail}.",
        _BAD_REQUEST_HINTS.get(
            exc.error_code or "", "Check the instance and window; nothing was changed."
        ),
    )


def _iam_words(exc: DmsError) -> tuple[str, str]:
    tried = f"The bot tried {_tries(exc)}. " if exc.retried else ""
    if exc.kind in TRANSPORT_KINDS:
        detail = f" ({exc.detail})" if exc.detail else ""
        return (
            f"Huawei Cloud IAM could not be reached for a token{detail}.",
            f"{tried}Try again in a few minutes; if it persists, check DMS_IAM_ENDPOINT and the "
            "Huawei Cloud status page.",
        )
    if exc.kind in (K.SERVER_ERROR, K.THROTTLED):
        return (
            f"Huawei Cloud IAM answered HTTP {exc.status} to a token request.",
            f"{tried}{RETRY_LATER}",
        )
    return (
        f"Huawei Cloud IAM refused to issue a token for the bot (HTTP {exc.status}).",
        IAM_LOGIN_HINT,
    )


def _unavailable(exc: DmsError) -> str:
    if exc.kind is K.TIMEOUT:
        limit = f"{exc.timeout_s:g} s" if exc.timeout_s is not None else "the configured timeout"
        return f"timed out after {limit}"
    if exc.kind is K.MALFORMED:
        return f"returned a malformed response ({exc.detail or 'not what the API documents'})"
    if exc.kind is K.SERVER_ERROR:
        return f"answered HTTP {exc.status}" if exc.status else "answered with a server error"
    return _UNAVAILABLE_WORDS.get(exc.kind, "could not be reached")


def _action(exc: DmsError) -> str:
    if exc.operation is DmsOperation.LIST_INSTANCES:
        return f"list the Kafka instances of project {exc.project_id} in {exc.region}"
    if exc.operation is DmsOperation.SHOW_TASK:
        return f"read task {exc.task_id} of instance {_label(exc)}"
    return f"read the background tasks of instance {_label(exc)}"


def _label(exc: DmsError) -> str:
    return exc.instance_label or exc.instance_id or "(unknown)"


def _tries(exc: DmsError) -> str:
    return "once" if exc.attempts <= 1 else f"{exc.attempts} times"
