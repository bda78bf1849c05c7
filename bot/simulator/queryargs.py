"""Query-string arguments read the way the DMS API reads them, refused with its error codes."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime

from bot.simulator.errors import ApiError

_API_TIME = re.compile(r"^\d{14}$")
_API_TIME_FORMAT = "%Y%m%d%H%M%S"


def int_param(
    query: Mapping[str, str], name: str, default: int, *, low: int, high: int | None
) -> int:
    """An integer argument; absent or empty gives `default`. Below `low` or not a number is an
    invalid parameter; above `high` is the API's own "too large" code."""
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, "DMS.00400062", f"Invalid request parameter: {name}.") from None
    if value < low:
        raise ApiError(400, "DMS.00400062", f"Invalid request parameter: {name}.")
    if high is not None and value > high:
        raise ApiError(400, "DMS.10240042", f"The {name} must not exceed {high}.")
    return value


def time_param(query: Mapping[str, str], name: str) -> datetime | None:
    """A `YYYYMMDDHHmmss` UTC argument; absent or empty gives None."""
    raw = query.get(name)
    if raw is None or raw == "":
        return None
    # strptime alone would take "2024111" or " 20240101000000": the API wants exactly 14 digits.
    if not _API_TIME.match(raw):
        raise ApiError(400, "DMS.00400142", f"Invalid timestamp: {name}.")
    try:
        return datetime.strptime(raw, _API_TIME_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        raise ApiError(400, "DMS.00400142", f"Invalid timestamp: {name}.") from None
