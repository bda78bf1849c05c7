"""Builders shared by the renderer's tests: a fixed clock and instance, tasks and reports like
the ones in the UX sketches, checks every rendered message must pass, and Hypothesis strategies
for data as strange as the API may send."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import strategies as st

from bot.blockkit import FALLBACK_TEXT_LIMIT, MAX_BLOCKS, check_message
from bot.domain.durations import DurationRange
from bot.domain.instances import InstanceRef
from bot.domain.query import TaskFilters, TaskQuery, TimeWindow
from bot.domain.tasks import Task
from bot.ids import BlockId
from bot.render import message_buttons
from bot.report import ParamsView, TaskReport

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 1, 15, 13, 7, tzinfo=UTC)  # 14:07 CET
INSTANCE = InstanceRef(
    instance_id="4f1c9a70-5b1e-4c7a-9f1d-2a6b8c0de2a1",
    project_id="proj",
    region="cn-north-4",
    alias="prod-orders",
)
WINDOW = TimeWindow(begin=NOW - timedelta(hours=1), end=NOW, label="last 1 h")
SECRET = "hunter2-Zq9"


def make_task(
    n: int,
    *,
    name: str = "changeRetentionPolicy",
    status: str = "SUCCESS",
    minutes_ago: float = 10,
    took: float | None = 5,
    params: Any = "",
    user: str = "paas_dms",
) -> Task:
    created = NOW - timedelta(minutes=minutes_ago)
    return Task.model_validate(
        {
            "id": f"8abfa7b372160bfd01721658640640{n:02d}",
            "name": name,
            "user_name": user,
            "user_id": "3df5acbc24a54fadb62a043c9000a307",
            "params": params if isinstance(params, str) else json.dumps(params),
            "status": status,
            "created_at": created.isoformat().replace("+00:00", "Z"),
            "updated_at": (created + timedelta(seconds=took)).isoformat() if took else None,
        }
    )


def make_report(
    tasks: tuple[Task, ...],
    *,
    counts: dict[str, int] | None = None,
    page: int = 1,
    pages: int = 1,
    filters: TaskFilters | None = None,
    matched: int | None = None,
    overdue: dict[str, DurationRange | None] | None = None,
    from_cache: bool = False,
    fetched_at: datetime = NOW,
    limit: int = 10,
) -> TaskReport:
    if counts is None:
        counts = {}
        for task in tasks:
            counts[task.status_upper] = counts.get(task.status_upper, 0) + 1
    query = TaskQuery(
        target="prod-orders",
        window=WINDOW,
        filters=filters or TaskFilters(),
        limit=limit,
        page=page,
    )
    return TaskReport(
        instance=INSTANCE,
        query=query,
        tz=BERLIN,
        now=NOW,
        window_counts=counts,
        matched=len(tasks) if matched is None else matched,
        page_tasks=tasks,
        pages=pages,
        fetched_at=fetched_at,
        from_cache=from_cache,
        overdue=overdue or {},
    )


def all_text(message: dict[str, Any]) -> str:
    return json.dumps(message, ensure_ascii=False)


def buttons_by_action(message: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for button in message_buttons(message):
        found.setdefault(button["action_id"].split(":", 1)[0], []).append(button)
    return found


def assert_valid(message: dict[str, Any]) -> None:
    check_message(message)
    json.dumps(message, ensure_ascii=False).encode("utf-8")  # no lone surrogates
    assert len(message["blocks"]) <= MAX_BLOCKS
    assert 0 < len(message["text"]) <= FALLBACK_TEXT_LIMIT
    assert not any(
        b.get("block_id", "").startswith(BlockId.NOTICE.unique("fallback"))
        for b in message["blocks"]
    ), "the renderer fell back to its error message"


SKETCH_TASKS = (
    make_task(
        1,
        status="FAILED",
        minutes_ago=9,
        took=5,
        params={"old_retention_policy": "time_base", "new_retention_policy": "produce_reject"},
    ),
    make_task(2, name="extendStorage", status="EXECUTING", minutes_ago=27, took=None, user="alice"),
    make_task(3, name="modifyAutoTopic", minutes_ago=36, took=1, params={"old_auto_status": 1}),
)


def sketch_report(**kwargs: Any) -> TaskReport:
    defaults: dict[str, Any] = {
        "counts": {"SUCCESS": 19, "FAILED": 2, "EXECUTING": 1, "CANCELLED": 1},
        "pages": 3,
        "matched": 23,
    }
    defaults.update(kwargs)
    return make_report(SKETCH_TASKS, **defaults)


def params_view(task: Task) -> ParamsView:
    return ParamsView(
        instance=INSTANCE,
        query=TaskQuery(target="prod-orders", window=WINDOW, page=2),
        task=task,
        tz=BERLIN,
        now=NOW,
    )


# ---- any data at all -------------------------------------------------------------------------

STATUSES = ["SUCCESS", "FAILED", "EXECUTING", "CREATED", "CANCELLED", "DELETED", "", "weird"]
ZONES = [ZoneInfo(z) for z in ("UTC", "Europe/Berlin", "Asia/Kolkata", "Pacific/Chatham")]
pieces = st.one_of(
    st.characters(codec="utf-8"),
    st.sampled_from(
        [
            "&",
            "<",
            ">",
            "`",
            "```",
            "*",
            "😀",
            "\u0301",
            "\u200d",
            "👨‍👩‍👧",
            "\n",
            "\ud83d",
            "&amp;",
        ]
    ),
)
# Short strings, and long ones around the 200 characters DMS allows for names.
wild_text = st.one_of(
    st.lists(pieces, max_size=30).map("".join),
    st.lists(pieces, min_size=150, max_size=200).map("".join),
)
secret_values = st.text(alphabet="ABCDEFGH", min_size=6, max_size=10).map(lambda s: "Sx9" + s)


@st.composite
def api_params(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from(["empty", "json", "text", "huge"]))
    if kind == "empty":
        return ""
    if kind == "text":
        return draw(wild_text) + f" password={draw(secret_values)}"
    doc = draw(
        st.dictionaries(
            st.one_of(st.sampled_from(["old_x", "new_x", "origin_y", "new_y"]), wild_text),
            st.one_of(wild_text, st.integers(), st.booleans(), st.lists(st.integers())),
            max_size=8,
        )
    )
    doc["sasl_password"] = draw(secret_values)
    doc["nested"] = {"token": draw(secret_values)}
    if kind == "huge":
        doc["blob"] = (draw(wild_text) or "z") * (50_000 // 200)
    return json.dumps(doc, ensure_ascii=draw(st.booleans()))


@st.composite
def api_tasks(draw: st.DrawFn, n: int) -> Task:
    created = NOW - timedelta(seconds=draw(st.integers(min_value=-600, max_value=90 * 86400)))
    body: dict[str, Any] = {
        "id": draw(st.one_of(st.text(alphabet="0123456789abcdef", max_size=40), wild_text))
        + f"-{n}",
        "name": draw(st.one_of(wild_text, st.sampled_from(["modifyAutoTopic", "kafkaXyzAbc"]))),
        "user_name": draw(wild_text),
        "params": draw(api_params()),
        "status": draw(st.one_of(st.sampled_from(STATUSES), wild_text)),
        "created_at": draw(
            st.one_of(
                st.none(),
                st.just(created.isoformat()),
                st.datetimes(timezones=st.just(UTC)).map(lambda d: d.isoformat()),
            )
        ),
        "updated_at": draw(
            st.one_of(
                st.none(),
                st.just((created + timedelta(seconds=draw(st.integers(0, 10**6)))).isoformat()),
            )
        ),
    }
    return Task.model_validate(body)


def secret_fragments(tasks: tuple[Task, ...]) -> list[str]:
    return [
        word
        for task in tasks
        for word in task.params_raw.replace('"', " ").replace("=", " ").split()
        if word.startswith("Sx9")
    ]
