"""Requests to /slack/events that Bolt must never see.

Anyone who can reach the request URL can send anything. Bolt answers a bad signature with 401,
but some shapes crash it before or after the check (a non-numeric X-Slack-Request-Timestamp
raises in its verifier; a signed payload that is not JSON, or a block_actions payload with no
actions, raises in its parsing) and turn into a 500 with a traceback in the log: a way to fill
the log from outside. Here every such request ends as a 4xx with one quiet log line, before
Bolt; what passes is well-formed enough for Bolt's own checks.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from urllib.parse import parse_qs

from slack_sdk.signature import SignatureVerifier

log = logging.getLogger(__name__)

# Slack rejects requests older than 5 minutes; so do we, and a timestamp that is not a plausible
# epoch second is no timestamp at all.
MAX_AGE_S = 60 * 5
MAX_TIMESTAMP_DIGITS = 12
MAX_BODY_BYTES = 1_000_000


class Refused(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def check(
    body: bytes, headers: Mapping[str, str], signing_secret: str, *, now: float | None = None
) -> None:
    """Raises Refused for a request Bolt should not be given."""
    if len(body) > MAX_BODY_BYTES:
        raise Refused(413, "body too large")
    lowered = {k.lower(): v for k, v in headers.items()}
    stamp = lowered.get("x-slack-request-timestamp", "")
    signature = lowered.get("x-slack-signature", "")
    if not stamp or not signature:
        raise Refused(401, "unsigned")
    if not stamp.isascii() or not stamp.isdigit() or len(stamp) > MAX_TIMESTAMP_DIGITS:
        raise Refused(401, "malformed timestamp")
    current = time.time() if now is None else now
    if abs(current - int(stamp)) > MAX_AGE_S:
        raise Refused(401, "stale timestamp")
    try:
        # Slack's bodies are UTF-8 form or JSON text; slack_sdk's verifier decodes before it
        # checks, and would raise on anything else.
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise Refused(400, "body is not UTF-8") from None
    verifier = SignatureVerifier(signing_secret)
    if not verifier.is_valid(body=text, timestamp=stamp, signature=signature):
        raise Refused(401, "bad signature")
    content_type = lowered.get("content-type", "")
    if "application/x-www-form-urlencoded" not in content_type:
        return
    form = parse_qs(text, keep_blank_values=True)
    if "payload" not in form:
        return
    try:
        payload = json.loads(form["payload"][0])
    except (ValueError, RecursionError):
        raise Refused(400, "payload is not JSON") from None
    if not isinstance(payload, dict):
        raise Refused(400, "payload is not an object")
    if payload.get("type") == "block_actions":
        actions = payload.get("actions")
        if (
            not isinstance(actions, list)
            or not actions
            or not all(isinstance(a, dict) for a in actions)
        ):
            raise Refused(400, "block_actions without actions")
