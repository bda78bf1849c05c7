"""Typed DMS API errors, each carrying the API's code, message and request id, and a plain-words
hint for the person who reads it in Slack."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class DmsError(Exception):
    """Base of every error the DMS client raises."""

    summary: str
    hint: str = ""
    status: int | None = None
    error_code: str | None = None
    error_msg: str | None = None
    request_id: str | None = None
    retryable: bool = False

    def __str__(self) -> str:
        parts = [self.summary]
        ref = self.reference()
        if ref:
            parts.append(f"({ref})")
        if self.hint:
            parts.append(self.hint)
        return " ".join(parts)

    def reference(self) -> str:
        """What support asks for: the API's error code and the request id."""
        request = f"request {self.request_id}" if self.request_id else None
        return ", ".join(b for b in (self.error_code, request) if b)


class DmsAuthError(DmsError):
    """401: signature, AK, token or project rejected. Never retried: five bad signatures in a row
    lock the AK for five minutes (APIGW.0301)."""


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
