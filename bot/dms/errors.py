"""Typed DMS API errors: structured facts about a failed call, never advice for people.

What a person reads is worded in bot/messages.py from these fields; this layer does not know the
bot's settings or environment variables. Each error says which operation failed (`operation`),
how (`kind`), what the API answered (`status`, `error_code`, `error_msg`, `request_id`), what it
was about (`endpoint`, `project_id`, `region`, `instance_id`, `task_id`) and how hard the client
tried (`attempts`, `retried`).

Secrets stay out: `endpoint` never carries user info (`https://user:password@host` is kept as
`https://host`), and the transport runs `redact` with the credentials it signs with before an
error leaves the client, in case the API quotes them back.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields
from enum import StrEnum
from typing import Any, Self

# Secrets shorter than this are not searched for: replacing two-letter strings would mangle text
# without protecting anything a real credential (20-character AKs, 40-character SKs) looks like.
_MIN_REDACTED_CHARS = 4
REDACTED = "***"


class DmsOperation(StrEnum):
    LIST_TASKS = "list tasks"
    SHOW_TASK = "show task"
    LIST_INSTANCES = "list instances"
    IAM_TOKEN = "IAM token"


# The IAM action each operation needs (listing and showing tasks are one read permission).
REQUIRED_IAM_ACTION = {
    DmsOperation.LIST_TASKS: "dms:instance:getBackgroundTask",
    DmsOperation.SHOW_TASK: "dms:instance:getBackgroundTask",
    DmsOperation.LIST_INSTANCES: "dms:instance:list",
}


class DmsErrorKind(StrEnum):
    """What went wrong, finer than the error class."""

    # The API could not be asked or did not answer usefully (retried).
    TIMEOUT = "timeout"
    CONNECT_FAILED = "connection refused or address unresolved"
    CONNECTION_CLOSED = "connection closed without a complete answer"
    PROXY_FAILED = "proxy failed"
    CONNECTION_FAILED = "connection failed"
    UNDECODABLE = "undecodable response"
    MALFORMED = "malformed response"
    SERVER_ERROR = "server error"
    THROTTLED = "throttled"
    # The configured address does not lead to the API.
    UNUSABLE_URL = "unusable endpoint URL"
    REDIRECTED = "redirected"
    API_NOT_FOUND = "API path does not exist"
    # Who the bot is and what it may do.
    CREDENTIALS_REJECTED = "credentials rejected"
    TOKEN_REJECTED = "IAM token rejected"
    FORBIDDEN = "forbidden"
    # What was asked for.
    INSTANCE_NOT_FOUND = "instance not found"
    TASK_NOT_FOUND = "task not found"
    NOT_FOUND = "not found"
    BAD_REQUEST = "bad request"


TRANSPORT_KINDS = frozenset(
    {
        DmsErrorKind.TIMEOUT,
        DmsErrorKind.CONNECT_FAILED,
        DmsErrorKind.CONNECTION_CLOSED,
        DmsErrorKind.PROXY_FAILED,
        DmsErrorKind.CONNECTION_FAILED,
    }
)


def public_endpoint(url: str) -> str:
    """`scheme://host[:port]` of a URL, without user info, path or query."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        rest = url
    authority = rest.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
    host = authority.rpartition("@")[2]
    return f"{scheme}://{host}" if sep else host


@dataclass(frozen=True)
class CallContext:
    """What a call is about: copied onto any error it raises."""

    operation: DmsOperation
    endpoint: str | None = None
    project_id: str | None = None
    region: str | None = None
    instance_id: str | None = None
    instance_label: str | None = None  # the alias or name the user knows the instance by
    task_id: str | None = None


@dataclass(eq=False, kw_only=True)
class DmsError(Exception):
    """Base of every error the DMS client raises."""

    operation: DmsOperation
    kind: DmsErrorKind
    status: int | None = None
    error_code: str | None = None
    error_msg: str | None = None
    request_id: str | None = None
    endpoint: str | None = None
    project_id: str | None = None
    region: str | None = None
    instance_id: str | None = None
    instance_label: str | None = None
    task_id: str | None = None
    attempts: int = 1
    # Whether trying again later can help (throttling, outages), not whether it was retried.
    retryable: bool = False
    timeout_s: float | None = None
    # A short technical detail: what was malformed, which transport error.
    detail: str | None = None

    @classmethod
    def for_call(cls, context: CallContext, kind: DmsErrorKind, **facts: Any) -> Self:
        return cls(
            kind=kind,
            operation=context.operation,
            endpoint=context.endpoint,
            project_id=context.project_id,
            region=context.region,
            instance_id=context.instance_id,
            instance_label=context.instance_label,
            task_id=context.task_id,
            **facts,
        )

    @property
    def retried(self) -> bool:
        return self.attempts > 1

    @property
    def iam_action(self) -> str | None:
        return REQUIRED_IAM_ACTION.get(self.operation)

    def redact(self, secrets: Iterable[str]) -> None:
        """Replace every occurrence of the given secrets in the text fields."""
        wanted = sorted({s for s in secrets if s and len(s) >= _MIN_REDACTED_CHARS}, key=len)
        if not wanted:
            return
        for f in fields(self):
            value = getattr(self, f.name)
            # operation and kind are StrEnums: fixed words, and replace() would make them str.
            if not isinstance(value, str) or isinstance(value, StrEnum):
                continue
            for secret in reversed(wanted):
                value = value.replace(secret, REDACTED)
            setattr(self, f.name, value)

    def __str__(self) -> str:
        facts = [f"HTTP {self.status}" if self.status is not None else None, self.error_code]
        if self.request_id:
            facts.append(f"request {self.request_id}")
        if self.retried:
            facts.append(f"{self.attempts} attempts")
        text = f"DMS {self.operation} failed: {self.kind}"
        shown = [f for f in facts if f]
        if shown:
            text += f" ({', '.join(shown)})"
        target = self._target()
        return f"{text} {target}" if target else text

    def _target(self) -> str:
        if self.task_id and self.instance_id:
            return f"for task {self.task_id} of instance {self.instance_id}"
        if self.instance_id:
            return f"for instance {self.instance_id}"
        if self.project_id and self.region:
            return f"for project {self.project_id} in {self.region}"
        return f"at {self.endpoint}" if self.endpoint else ""


class DmsAuthError(DmsError):
    """401: signature, AK, token or project rejected, or IAM refused a token. Never retried: five
    bad signatures in a row lock the AK for five minutes (APIGW.0301)."""


class DmsPermissionError(DmsError):
    """403: the identity lacks dms:instance:getBackgroundTask / dms:instance:list."""


class DmsNotFoundError(DmsError):
    """404: e.g. DMS.00404022, the instance does not exist in that project and region."""


class DmsBadRequestError(DmsError):
    """400: a parameter the API refused (page size, timestamp, instance id format)."""


class DmsThrottledError(DmsError):
    """429 APIGW.0308 after the retry budget ran out."""


class DmsUnavailableError(DmsError):
    """5xx, timeouts, connection failures and malformed bodies, after the retry budget ran out."""


class DmsEndpointError(DmsUnavailableError):
    """The configured address does not lead to the DMS API, so no retry can help: a URL that is
    not http(s), a redirect (the client follows none), or 404 APIGW.0101, the gateway saying the
    API path does not exist (a wrong endpoint, not a wrong instance)."""
