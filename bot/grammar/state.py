"""What a button carries: the listing it belongs to (and, for Params, the task), as one typed
model. The Slack edge decodes a click's value once, into a `ButtonState`; nothing downstream
reads the raw value again.

The value is compact JSON with short keys (v version, t target, g targets, b/e window in epoch
seconds, l label, a anchor, s statuses, n name glob, u user, m limit, p page, k task id, i the
task's instance in a listing of several); defaults are left out. Values come back from the
client and may be copied or edited, so everything is checked; access is not decided here: the
service re-checks every instance on every click.

Size, in UTF-16 units as Slack counts them, each field with its key and comma. Target, glob and
user are at most 100 characters without control characters, so each takes at most 207 (an
escaped quote or an astral character costs 2); the label at most 127; a task id of at most 128
characters at most 775 (\\u0000 escapes); at most 8 statuses of at most 40 characters at most
350; the version, the window times (12 digits at most), anchor, limit and page 73; the braces 2,
less the last comma. One instance: at most 1947, under Slack's 2000.
Several instances (`g`, and then no `t`): `all` takes 10, and the task's instance as one of
them at most 207 (a name of 100 characters) in place of the target: at most 1957. A typed list
carries the task's instance as its place in the list (at most 7), and the list, name= and user=
together take at most SHARED_VALUES_BUDGET (640, refused by the grammar and the service beyond
it): 1947 - 3 x 207 + 7 + 640 = 1973 at most. tests/test_query.py and tests/test_all_instances.py
build these worst cases.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

from bot.blockkit import MAX_BUTTON_VALUE, slack_len
from bot.domain.digests import ALL_TARGETS
from bot.domain.query import DEFAULT_LIMIT, MAX_WINDOW, Anchor, TaskFilters, TaskQuery, TimeWindow
from bot.grammar.words import (
    MAX_LABEL,
    MAX_LIMIT,
    MAX_PAGE,
    MAX_STATUSES,
    MAX_TARGETS,
    MAX_TASK_ID,
    MAX_VALUE,
    SHARED_VALUES_BUDGET,
    STATE_VERSION,
    STATUS_WORD,
    QueryError,
    _has_bad_chars,
    shared_values_cost,
)

# Epoch seconds of 9999-12-31 23:59:59 UTC: datetime cannot go further.
_MAX_EPOCH = 253_402_300_799


def _text(value: Any, what: str, limit: int, *, from_api: bool = False) -> str:
    """Texts people typed must hold something visible and no control characters; a task id is
    the API's, kept as it came."""
    if not isinstance(value, str) or not 1 <= len(value) <= limit:
        raise ValueError(f"the {what} is not a text of 1 to {limit} characters")
    if not from_api and not value.strip():
        raise ValueError(f"the {what} is blank")
    if _has_bad_chars(value, allow_control=from_api):
        raise ValueError(f"the {what} holds characters that cannot be shown")
    return value


def _whole(value: Any, what: str, low: int, high: int) -> int:
    # bool is an int in Python; a JSON true is not a number here.
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"the {what} is not a whole number from {low} to {high}")
    return value


def _epoch(moment: datetime, what: str) -> int:
    if not isinstance(moment, datetime) or moment.tzinfo is None:
        raise ValueError(f"the {what} is not an aware time")
    if moment.microsecond:
        raise ValueError(f"the {what} is not a whole second")
    return int(moment.timestamp())


class ButtonState(BaseModel):
    """A button's value, typed. Build it with `of`, send `encode()`, read a click with
    `decode`; `query` and `task_id` are what the service works with."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    v: Literal[1]
    t: str | None = None
    b: int
    e: int
    l: str  # noqa: E741 - the wire key
    a: Anchor = Anchor.FIXED
    s: tuple[str, ...] = ()
    n: str | None = None
    u: str | None = None
    m: int = DEFAULT_LIMIT
    p: int = 1
    k: str | None = None
    g: str | None = None
    i: int | str | None = None

    @model_validator(mode="before")
    @classmethod
    def _shape(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            raise ValueError("it is not an object")
        if set(data) - set(cls.model_fields):
            raise ValueError("it holds unknown fields")
        if data.get("v") != STATE_VERSION or isinstance(data.get("v"), bool):
            raise ValueError("it comes from another version of the bot")
        if any(key not in data for key in "bel"):
            raise ValueError("it has no window")
        return data

    @field_validator("b", "e", mode="before")
    @classmethod
    def _instant(cls, value: Any) -> int:
        return _whole(value, "window time", 0, _MAX_EPOCH)

    @field_validator("l", mode="before")
    @classmethod
    def _label(cls, value: Any) -> str:
        return _text(value, "window label", MAX_LABEL)

    @field_validator("a", mode="before")
    @classmethod
    def _anchor(cls, value: Any) -> Anchor:
        if not isinstance(value, str) or value not in set(Anchor):
            raise ValueError("its window anchor is unknown")
        return Anchor(value)

    @field_validator("t", "n", "u", mode="before")
    @classmethod
    def _typed(cls, value: Any) -> str | None:
        return None if value is None else _text(value, "instance or filter", MAX_VALUE)

    @field_validator("s", mode="before")
    @classmethod
    def _statuses(cls, value: Any) -> tuple[str, ...]:
        # Any status the API may return, not only the documented ones (see words.STATUS_WORD).
        if (
            not isinstance(value, list | tuple)
            or len(value) > MAX_STATUSES
            or not all(isinstance(s, str) and STATUS_WORD.fullmatch(s) for s in value)
        ):
            raise ValueError("its statuses are not task statuses")
        return tuple(value)

    @field_validator("g", mode="before")
    @classmethod
    def _group(cls, value: Any) -> str | None:
        if value is None:
            return None
        if not isinstance(value, str):
            raise ValueError("its instances are not a list")
        parts = value.split(",")
        if len(parts) > MAX_TARGETS:
            raise ValueError(f"it lists more than {MAX_TARGETS} instances")
        for part in parts:
            _text(part, "instance", MAX_VALUE)
        everything = [p for p in parts if p.lower() == ALL_TARGETS]
        if everything and (len(parts) > 1 or parts[0] != ALL_TARGETS):
            raise ValueError("its instances are not a list")
        return value

    @field_validator("i", mode="before")
    @classmethod
    def _on(cls, value: Any) -> int | str | None:
        if value is None or isinstance(value, str):
            return None if value is None else _text(value, "instance", MAX_VALUE)
        return _whole(value, "instance's place", 0, MAX_TARGETS - 1)

    @field_validator("m", mode="before")
    @classmethod
    def _limit(cls, value: Any) -> int:
        return _whole(value, "page size", 1, MAX_LIMIT)

    @field_validator("p", mode="before")
    @classmethod
    def _page(cls, value: Any) -> int:
        return _whole(value, "page", 1, MAX_PAGE)

    @field_validator("k", mode="before")
    @classmethod
    def _task_id(cls, value: Any) -> str | None:
        return None if value is None else _text(value, "task id", MAX_TASK_ID, from_api=True)

    @model_validator(mode="after")
    def _window(self) -> ButtonState:
        if self.t is not None and self.g is not None:
            raise ValueError("it names one instance and several")
        if self.i is not None:
            if self.g is None:
                raise ValueError("it names a task's instance without a list")
            if isinstance(self.i, int) and (
                self.g == ALL_TARGETS or self.i >= len(self.g.split(","))
            ):
                raise ValueError("its task's instance is not in its list")
        if self.e <= self.b:
            raise ValueError("its window ends before it begins")
        if self.e - self.b > MAX_WINDOW.total_seconds():
            raise ValueError(f"its window is longer than {MAX_WINDOW.days} days")
        return self

    # ---- to and from the domain --------------------------------------------------------------

    @classmethod
    def of(cls, query: TaskQuery, *, task_id: str | None = None) -> ButtonState:
        """The state of a listing (and task). Anything `decode` would refuse raises QueryError
        here, so a value we send always comes back readable."""
        try:
            on: int | str | None = query.on
            if query.targets:
                if any("," in t for t in query.targets):
                    raise ValueError("an instance in the list holds a comma")
                if not query.everything and (
                    shared_values_cost(query.targets, query.filters.name_glob, query.filters.user)
                    > SHARED_VALUES_BUDGET
                ):
                    raise ValueError("its instances, name= and user= are too long together")
                if query.on in query.targets and not query.everything:
                    on = query.targets.index(query.on)
            return cls(
                v=STATE_VERSION,
                t=query.target,
                g=",".join(query.targets) if query.targets else None,
                i=on,
                b=_epoch(query.window.begin, "window start"),
                e=_epoch(query.window.end, "window end"),
                l=query.window.label,
                a=query.window.anchor,
                s=tuple(sorted(str(s) for s in query.filters.statuses)),
                n=query.filters.name_glob,
                u=query.filters.user,
                m=query.limit,
                p=query.page,
                k=task_id,
            )
        except (ValidationError, OverflowError, OSError, ValueError) as exc:
            raise QueryError(
                f"That listing cannot be put in a button: {_reason(exc)}.", "last 1h"
            ) from None

    @property
    def query(self) -> TaskQuery:
        targets = tuple(self.g.split(",")) if self.g is not None else ()
        return TaskQuery(
            target=self.t,
            window=TimeWindow(
                datetime.fromtimestamp(self.b, tz=UTC),
                datetime.fromtimestamp(self.e, tz=UTC),
                self.l,
                self.a,
            ),
            filters=TaskFilters(statuses=frozenset(self.s), name_glob=self.n, user=self.u),
            limit=self.m,
            page=self.p,
            targets=targets,
            on=targets[self.i] if isinstance(self.i, int) else self.i,
        )

    @property
    def task_id(self) -> str | None:
        return self.k

    def encode(self) -> str:
        value = json.dumps(
            self.model_dump(mode="json", exclude_defaults=True) | {"v": STATE_VERSION},
            ensure_ascii=False,
            separators=(",", ":"),
        )
        # Guaranteed by the bounds above; checked because Slack rejects the whole message
        # otherwise.
        if slack_len(value) > MAX_BUTTON_VALUE:
            raise QueryError("That listing is too large for a button.", "last 1h")
        return value

    @classmethod
    def decode(cls, value: str) -> ButtonState:
        """A click's value; anything off raises QueryError."""
        try:
            if not isinstance(value, str) or not value or slack_len(value) > MAX_BUTTON_VALUE:
                raise ValueError("it is empty or too long")
            try:
                data = json.loads(value)
            except (ValueError, RecursionError):
                raise ValueError("it is not JSON") from None
            return cls.model_validate(data)
        except (ValidationError, ValueError) as exc:
            raise QueryError(
                f"That button's value is damaged or out of date ({_reason(exc)}). Run the "
                "command again.",
                "help",
            ) from None


def _reason(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        return str(first.get("ctx", {}).get("error") or first["msg"]).removeprefix("Value error, ")
    return str(exc)


def encode_state(query: TaskQuery, *, task_id: str | None = None) -> str:
    return ButtonState.of(query, task_id=task_id).encode()


def decode_state(value: str) -> tuple[TaskQuery, str | None]:
    state = ButtonState.decode(value)
    return state.query, state.task_id
