"""Time zones typed after a time: `since 09:00 CET`, `Europe/Berlin`, `UTC+05:30`, `...Z`.

An abbreviation names a fixed offset, as it does in writing: `09:00 CET` is 08:00 UTC in July
too, and `PST` is UTC-8 all year. IANA names (`Europe/Berlin`) follow their zone's rules, with
fold=0 like the user's own zone. IST is India's, BST Britain's summer time.
"""

from __future__ import annotations

import functools
import re
import zoneinfo
from dataclasses import dataclass
from datetime import UTC, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class _Zone:
    tz: tzinfo
    text: str  # as labels show it, and readable again as a zone word: "CET", "UTC+01:00"


_FIXED = {
    "cet": 1,
    "cest": 2,
    "est": -5,
    "edt": -4,
    "pst": -8,
    "pdt": -7,
    "bst": 1,
}
_NAMED = {
    "jst": "Asia/Tokyo",
    "ist": "Asia/Kolkata",
    "sgt": "Asia/Singapore",
    "hkt": "Asia/Hong_Kong",
}
_UTC_WORDS = {"utc": "UTC", "gmt": "GMT", "z": "UTC"}
# UTC+2, GMT-05:00, utc+0530; and the offset of an ISO time: +01:00, -0500, +01.
_UTC_OFFSET = re.compile(r"(?:utc|gmt)([+-][0-9]{1,2}(?::?[0-9]{2})?)", re.ASCII)
_OFFSET = re.compile(r"([+-])([0-9]{1,2})(?::?([0-9]{2}))?", re.ASCII)
_MAX_OFFSET = timedelta(hours=14)


def offset_zone(text: str) -> _Zone | None:
    """`+01:00`, `-0500`, `+01`, `z`: the zone of an ISO time."""
    if text.lower() == "z":
        return _Zone(UTC, "UTC")
    m = _OFFSET.fullmatch(text)
    if m is None:
        return None
    minutes = int(m[3] or 0)
    delta = timedelta(hours=int(m[2]), minutes=minutes)
    if minutes >= 60 or delta > _MAX_OFFSET:
        return None
    if not delta:
        return _Zone(UTC, "UTC")
    sign = -1 if m[1] == "-" else 1
    hours, rest = divmod(int(delta.total_seconds()) // 60, 60)
    return _Zone(timezone(sign * delta), f"UTC{m[1]}{hours:02d}:{rest:02d}")


def read_zone(word: str) -> _Zone | None:
    """A zone word, lower-cased: `cet`, `utc`, `z`, `utc+2`, `europe/berlin`."""
    if word in _UTC_WORDS:
        return _Zone(UTC, _UTC_WORDS[word])
    if word in _FIXED:
        hours = _FIXED[word]
        return _Zone(timezone(timedelta(hours=hours), word.upper()), word.upper())
    if word in _NAMED:
        return _Zone(ZoneInfo(_NAMED[word]), word.upper())
    m = _UTC_OFFSET.fullmatch(word)
    if m:
        return offset_zone(m[1])
    if "/" in word:
        key = _iana_keys().get(word)
        if key is not None:
            return _Zone(ZoneInfo(key), key)
    return None


@functools.cache
def _iana_keys() -> dict[str, str]:
    """IANA names by their lower-case spelling. Only names from the zone database are ever
    opened, so a typed word cannot name a file."""
    return {key.lower(): key for key in zoneinfo.available_timezones() if "/" in key}
