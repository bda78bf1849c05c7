"""DmsClient and IamTokenAuth against httpx.MockTransport: request shape, tolerance of what the
API sends, page concurrency, retry decisions (with a fake sleep) and the facts errors carry (their
wording is tested in tests/test_messages.py)."""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import random
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from bot.dms.auth import AkSkAuth
from bot.dms.client import DmsClient, RetryPolicy, format_api_time, parse_retry_after
from bot.dms.errors import (
    DmsAuthError,
    DmsBadRequestError,
    DmsEndpointError,
    DmsErrorKind,
    DmsNotFoundError,
    DmsOperation,
    DmsPermissionError,
    DmsThrottledError,
    DmsUnavailableError,
)
from bot.dms.iam import IamTokenAuth
from bot.domain.instances import InstanceRef

PROJECT = "proj123"
REGION = "cn-north-4"
SECRET_SK = "SK-very-secret-value"
REF = InstanceRef(instance_id="inst-1", project_id=PROJECT, region=REGION, alias="prod-orders")
TASKS_PATH = f"/v2/{PROJECT}/instances/inst-1/tasks"
NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)

Handler = Callable[[httpx.Request], Awaitable[httpx.Response] | httpx.Response]


def endpoint_for(region: str) -> str:
    return f"https://dms.{region}.example.test"


def task_dict(i: int, **extra: Any) -> dict[str, Any]:
    created = NOW - timedelta(minutes=i)
    return {
        "id": f"t{i:05d}",
        "name": "modifyAutoTopic",
        "user_name": "paas_dms",
        "user_id": "u1",
        "params": '{"old_auto_status":true}',
        "status": "SUCCESS",
        "created_at": created.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "updated_at": (created + timedelta(seconds=5)).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        **extra,
    }


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, content=json.dumps(body).encode(), headers=headers or {})


def error_response(
    status: int, code: str, msg: str = "failed", request_id: str | None = "req-123"
) -> httpx.Response:
    headers = {"X-Request-Id": request_id} if request_id else {}
    return json_response(status, {"error_code": code, "error_msg": msg}, headers)


class FakeTime:
    """A monotonic clock that only the fake sleep moves, and the delays it was asked for."""

    def __init__(self) -> None:
        self.now = 0.0
        self.delays: list[float] = []

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, delay: float) -> None:
        self.delays.append(delay)
        self.now += delay


class PagingDms:
    """A list of tasks served the way GET /tasks pages them (1-based start, limit, total)."""

    def __init__(self, tasks: list[dict[str, Any]], *, send_count: bool = True) -> None:
        self.tasks = tasks
        self.send_count = send_count
        self.requests: list[httpx.Request] = []

    def page(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        start = int(request.url.params["start"])
        limit = int(request.url.params["limit"])
        body: dict[str, Any] = {"tasks": self.tasks[start - 1 : start - 1 + limit]}
        if self.send_count:
            body["task_count"] = str(len(self.tasks))
        return json_response(200, body)

    @property
    def starts(self) -> list[int]:
        return [int(r.url.params["start"]) for r in self.requests]


def make_client(
    handler: Handler,
    *,
    time: FakeTime | None = None,
    retry: RetryPolicy | None = None,
    auth: httpx.Auth | None = None,
    **kwargs: Any,
) -> DmsClient:
    time = time or FakeTime()
    return DmsClient(
        auth=auth or AkSkAuth("AKEXAMPLE", SECRET_SK),
        endpoint_for=endpoint_for,
        retry=retry or RetryPolicy(),
        http=httpx.AsyncClient(transport=httpx.MockTransport(handler)),
        sleep=time.sleep,
        monotonic=time.monotonic,
        rng=random.Random(7),
        clock=lambda: NOW,
        **kwargs,
    )


# ---- request shape -----------------------------------------------------------------------------


async def test_list_tasks_sends_path_paging_utc_times_and_project_header() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return json_response(200, {"task_count": "0", "tasks": []})

    client = make_client(handler)
    berlin = ZoneInfo("Europe/Berlin")
    await client.list_tasks(
        REF,
        start=21,
        limit=100,
        begin=datetime(2024, 1, 1, 1, 0, tzinfo=berlin),
        end=datetime(2024, 1, 2, 1, 0, 30, tzinfo=berlin),
    )
    (request,) = seen
    assert request.method == "GET"
    assert request.url.host == "dms.cn-north-4.example.test"
    assert request.url.path == TASKS_PATH
    assert dict(request.url.params) == {
        "start": "21",
        "limit": "100",
        "begin_time": "20240101000000",
        "end_time": "20240102000030",
    }
    assert request.headers["X-Project-Id"] == PROJECT
    assert request.headers["Authorization"].startswith("SDK-HMAC-SHA256 Access=AKEXAMPLE")
    assert "x-project-id" in request.headers["Authorization"]


async def test_list_tasks_leaves_out_absent_times_and_defaults_to_ten() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return json_response(200, {"task_count": "0", "tasks": []})

    await make_client(handler).list_tasks(REF)
    assert dict(seen[0].url.params) == {"start": "1", "limit": "10"}


@pytest.mark.parametrize(
    ("kwargs", "word"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
        ({"start": 0}, "start"),
        ({"begin": datetime(2024, 1, 1)}, "timezone-aware"),
        ({"end": datetime(2024, 1, 1)}, "timezone-aware"),
    ],
)
async def test_invalid_paging_or_naive_times_fail_locally(
    kwargs: dict[str, Any], word: str
) -> None:
    calls: list[httpx.Request] = []
    client = make_client(lambda r: calls.append(r) or json_response(200, {}))
    with pytest.raises(ValueError, match=word):
        await client.list_tasks(REF, **kwargs)
    assert calls == []


def test_api_time_is_utc_without_separators() -> None:
    moment = datetime(2024, 3, 31, 3, 4, 5, 999_000, tzinfo=ZoneInfo("Europe/Berlin"))
    assert format_api_time(moment) == "20240331010405"


# ---- tolerance of what the API sends ----------------------------------------------------------


@pytest.mark.parametrize(
    ("task_count", "expected"),
    [("4", 4), (4, 4), (" 12 ", 12), (None, None), ("many", None), ("-1", None)],
)
async def test_task_count_as_string_int_or_missing(task_count: Any, expected: int | None) -> None:
    body: dict[str, Any] = {"tasks": [task_dict(0), task_dict(1)]}
    if task_count is not None:
        body["task_count"] = task_count
    page = await make_client(lambda r: json_response(200, body)).list_tasks(REF)
    assert page.total == expected
    assert [t.id for t in page.tasks] == ["t00000", "t00001"]


async def test_odd_task_fields_are_kept_not_rejected() -> None:
    tasks = [
        task_dict(0, params='{"retention_policy":"produce_reject"}'),
        task_dict(1, params=""),
        task_dict(2, params="not json {"),
        task_dict(3, status="ROLLING_BACK", brand_new_field=[1, 2]),
        {"id": "bare"},
        task_dict(5, created_at="2020-05-15T03:19:51Z", updated_at="2020-05-15T03:19:51.065Z"),
        task_dict(6, params={"already": "decoded"}),
    ]
    page = await make_client(
        lambda r: json_response(200, {"task_count": "7", "tasks": tasks})
    ).list_tasks(REF)
    by_id = {t.id: t for t in page.tasks}
    assert by_id["t00000"].params == {"retention_policy": "produce_reject"}
    assert by_id["t00001"].params is None
    assert by_id["t00002"].params == "not json {"
    assert by_id["t00003"].status == "ROLLING_BACK"
    assert by_id["bare"].name == "" and by_id["bare"].created_at is None
    assert by_id["t00005"].created_at == datetime(2020, 5, 15, 3, 19, 51, tzinfo=UTC)
    assert by_id["t00005"].updated_at == datetime(2020, 5, 15, 3, 19, 51, 65_000, tzinfo=UTC)
    assert by_id["t00006"].params == {"already": "decoded"}


async def test_show_task_reads_the_one_task_list() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return json_response(200, {"task_count": "1", "tasks": [task_dict(3)]})

    task = await make_client(handler).show_task(REF, "t00003")
    assert task.id == "t00003"
    assert seen[0].url.path == f"{TASKS_PATH}/t00003"
    assert seen[0].headers["X-Project-Id"] == PROJECT


async def test_ids_stay_inside_their_path_segment() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return json_response(200, {"task_count": "1", "tasks": [task_dict(0)]})

    await make_client(handler).show_task(REF, "../../x?start=9")
    assert seen[0].url.raw_path == f"{TASKS_PATH}/..%2F..%2Fx%3Fstart%3D9".encode()
    assert dict(seen[0].url.params) == {}


async def test_show_task_with_an_empty_answer_is_not_found() -> None:
    client = make_client(lambda r: json_response(200, {"task_count": "0", "tasks": []}))
    with pytest.raises(DmsNotFoundError) as caught:
        await client.show_task(REF, "gone")
    error = caught.value
    assert (error.operation, error.kind) == (DmsOperation.SHOW_TASK, DmsErrorKind.TASK_NOT_FOUND)
    assert (error.task_id, error.instance_id, error.instance_label) == ("gone", "inst-1", REF.alias)


async def test_list_instances_pages_by_offset_until_instance_num() -> None:
    everything = [
        {"instance_id": f"i-{n:03d}", "name": f"kafka-{n}", "status": "RUNNING", "extra": 1}
        for n in range(120)
    ]
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        offset = int(request.url.params["offset"])
        limit = int(request.url.params["limit"])
        return json_response(
            200, {"instances": everything[offset : offset + limit], "instance_num": 120}
        )

    found = await make_client(handler).list_instances(PROJECT, REGION)
    assert [i.instance_id for i in found] == [e["instance_id"] for e in everything]
    assert [r.url.params["offset"] for r in seen] == ["0", "50", "100"]
    assert {r.url.params["limit"] for r in seen} == {"50"}
    assert {r.url.params["engine"] for r in seen} == {"kafka"}
    assert seen[0].url.path == f"/v2/{PROJECT}/instances"
    assert seen[0].headers["X-Project-Id"] == PROJECT


async def test_list_instances_by_exact_name() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return json_response(
            200, {"instances": [{"instance_id": "i-1", "name": "prod-orders"}], "instance_num": 1}
        )

    found = await make_client(handler).list_instances(
        PROJECT, REGION, name="prod-orders", exact=True
    )
    assert [i.name for i in found] == ["prod-orders"]
    assert seen[0].url.params["name"] == "prod-orders"
    assert seen[0].url.params["exact_match_name"] == "true"


# ---- whole windows -----------------------------------------------------------------------------


async def test_window_pages_are_fetched_concurrently_but_bounded() -> None:
    dms = PagingDms([task_dict(i) for i in range(950)])
    in_flight = 0
    max_in_flight = 0
    later_pages = 0
    full_house = asyncio.Event()

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, max_in_flight, later_pages
        if request.url.params["start"] != "1":
            in_flight += 1
            later_pages += 1
            max_in_flight = max(max_in_flight, in_flight)
            if in_flight == 3:
                full_house.set()
            try:
                # The first three later pages wait here until all three are inside at once; a
                # client that paged one by one would never get past this (the guard fails it).
                await asyncio.wait_for(full_house.wait(), timeout=5)
            finally:
                in_flight -= 1
        return dms.page(request)

    window = await make_client(handler, page_concurrency=3).fetch_window(
        REF, NOW - timedelta(days=1), NOW
    )
    assert max_in_flight == 3
    assert sorted(dms.starts) == [1, 101, 201, 301, 401, 501, 601, 701, 801, 901]
    assert [t.id for t in window.tasks] == [f"t{i:05d}" for i in range(950)]
    assert {r.url.params["limit"] for r in dms.requests} == {"100"}
    assert {r.url.params["begin_time"] for r in dms.requests} == {"20261127120000"}


async def test_window_of_one_page_makes_one_request() -> None:
    dms = PagingDms([task_dict(i) for i in range(40)])
    window = await make_client(dms.page).fetch_window(REF, None, None)
    assert dms.starts == [1]
    assert len(window.tasks) == 40
    assert "begin_time" not in dms.requests[0].url.params
    assert window.fetched_at == NOW


async def test_window_drops_tasks_that_shifted_and_rereads_the_top_for_newcomers() -> None:
    old = [task_dict(i) for i in range(5, 255)]
    arrived = [task_dict(i) for i in range(5)]
    dms = PagingDms(old)

    def handler(request: httpx.Request) -> httpx.Response:
        response = dms.page(request)
        if request.url.params["start"] == "1":
            # Five new tasks land after the first page: every later page shifts down by five.
            dms.tasks = arrived + old
        return response

    window = await make_client(handler, page_concurrency=1).fetch_window(REF, None, None)
    ids = [t.id for t in window.tasks]
    assert len(ids) == len(set(ids)) == 255
    assert ids == [t["id"] for t in arrived + old]
    # The total grew to 255 while paging: the five newcomers sit above the first page read.
    assert dms.starts == [1, 101, 201, 1]
    assert window.reported_total == 255


async def test_window_follows_a_total_that_grew_while_paging() -> None:
    old = [task_dict(i) for i in range(30, 230)]
    arrived = [task_dict(i) for i in range(30)]
    dms = PagingDms(old)

    def handler(request: httpx.Request) -> httpx.Response:
        response = dms.page(request)
        if request.url.params["start"] == "1":
            dms.tasks = arrived + old
        return response

    window = await make_client(handler).fetch_window(REF, None, None)
    # 200 tasks when paging began; the last 30 of them were pushed to positions 201-230, and
    # the 30 newcomers are at the top, read again at the end.
    assert dms.starts == [1, 101, 201, 1]
    assert [t.id for t in window.tasks] == [t["id"] for t in arrived + old]
    assert window.reported_total == 230


async def test_window_without_task_count_pages_one_by_one_until_a_short_page() -> None:
    dms = PagingDms([task_dict(i) for i in range(250)], send_count=False)
    in_flight = 0
    max_in_flight = 0

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, max_in_flight
        in_flight += 1
        max_in_flight = max(max_in_flight, in_flight)
        await asyncio.sleep(0)
        in_flight -= 1
        return dms.page(request)

    window = await make_client(handler).fetch_window(REF, None, None)
    assert dms.starts == [1, 101, 201]
    assert max_in_flight == 1
    assert len(window.tasks) == 250


async def test_window_without_task_count_stops_when_pages_repeat() -> None:
    same_page = [task_dict(i) for i in range(100)]
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return json_response(200, {"tasks": same_page})

    window = await make_client(handler).fetch_window(REF, None, None)
    # The second page repeats the first with `start`, and again with `offset`: that is the end.
    assert calls == 3
    assert len(window.tasks) == 100
    assert window.reported_total is None


async def test_window_is_newest_first_even_if_pages_are_not() -> None:
    tasks = [task_dict(i) for i in (3, 1, 2, 0)] + [{"id": "no-time"}]
    window = await make_client(
        lambda r: json_response(200, {"task_count": 5, "tasks": tasks})
    ).fetch_window(REF, None, None)
    assert [t.id for t in window.tasks] == ["t00000", "t00001", "t00002", "t00003", "no-time"]


async def test_window_fails_whole_when_a_page_fails() -> None:
    dms = PagingDms([task_dict(i) for i in range(500)])

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.params["start"] == "301":
            return error_response(403, "DMS.00403003", "no permission")
        return dms.page(request)

    with pytest.raises(DmsPermissionError):
        await make_client(handler).fetch_window(REF, None, None)


# ---- retries and backoff -----------------------------------------------------------------------


class Script:
    """Answers from a list, one per request, repeating the last one."""

    def __init__(self, *answers: httpx.Response | Exception) -> None:
        self.answers = list(answers)
        self.calls = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        answer = self.answers[min(self.calls, len(self.answers) - 1)]
        self.calls += 1
        if isinstance(answer, Exception):
            raise answer
        return answer


OK = json_response(200, {"task_count": "1", "tasks": [task_dict(0)]})


async def test_server_errors_are_retried_with_jittered_exponential_backoff() -> None:
    time = FakeTime()
    script = Script(error_response(503, "DMS.00500000"), error_response(502, "X"), OK)
    page = await make_client(script, time=time).list_tasks(REF)
    assert [t.id for t in page.tasks] == ["t00000"]
    assert script.calls == 3
    assert len(time.delays) == 2
    assert 0 <= time.delays[0] <= 0.25
    assert 0 <= time.delays[1] <= 0.5


def test_backoff_grows_and_is_capped() -> None:
    policy = RetryPolicy(base_delay_s=1.0, max_delay_s=3.0)

    class Top(random.Random):
        def uniform(self, a: float, b: float) -> float:
            return b

    assert [policy.backoff(n, Top()) for n in (1, 2, 3, 4, 5)] == [1.0, 2.0, 3.0, 3.0, 3.0]


async def test_retry_after_seconds_is_honoured() -> None:
    time = FakeTime()
    throttled = error_response(429, "APIGW.0308", "policy user over ratelimit")
    throttled.headers["Retry-After"] = "3"
    script = Script(throttled, OK)
    await make_client(script, time=time).list_tasks(REF)
    assert time.delays == [3.0]
    assert script.calls == 2


async def test_retry_after_http_date_is_honoured() -> None:
    time = FakeTime()
    throttled = error_response(429, "APIGW.0308")
    throttled.headers["Retry-After"] = email.utils.format_datetime(
        NOW + timedelta(seconds=7), usegmt=True
    )
    await make_client(Script(throttled, OK), time=time).list_tasks(REF)
    assert time.delays == [7.0]


def test_retry_after_parsing() -> None:
    assert parse_retry_after("2.5", NOW) == 2.5
    assert parse_retry_after("", NOW) is None
    assert parse_retry_after("soon", NOW) is None
    past = email.utils.format_datetime(NOW - timedelta(seconds=30), usegmt=True)
    assert parse_retry_after(past, NOW) == 0.0


async def test_retry_after_beyond_the_budget_gives_up_at_once() -> None:
    time = FakeTime()
    throttled = error_response(429, "APIGW.0308", request_id="req-429")
    throttled.headers["Retry-After"] = "60"
    script = Script(throttled, OK)
    client = make_client(script, time=time, retry=RetryPolicy(budget_s=20))
    with pytest.raises(DmsThrottledError) as caught:
        await client.list_tasks(REF)
    assert script.calls == 1 and time.delays == []
    error = caught.value
    assert error.kind is DmsErrorKind.THROTTLED and error.retryable
    assert error.error_code == "APIGW.0308" and error.request_id == "req-429"
    assert error.attempts == 1 and not error.retried
    assert "APIGW.0308" in str(error)


async def test_throttling_that_persists_ends_in_a_throttled_error() -> None:
    time = FakeTime()
    throttled = error_response(429, "APIGW.0308")
    throttled.headers["Retry-After"] = "2"
    script = Script(throttled)
    with pytest.raises(DmsThrottledError) as caught:
        await make_client(script, time=time).list_tasks(REF)
    assert script.calls == 4
    assert caught.value.attempts == 4 and caught.value.retried
    assert time.delays == [2.0, 2.0, 2.0]


async def test_throttling_without_retry_after_waits_the_gateways_two_to_five_seconds() -> None:
    time = FakeTime()
    script = Script(error_response(429, "APIGW.0308"), error_response(429, "APIGW.0308"), OK)
    await make_client(script, time=time).list_tasks(REF)
    assert script.calls == 3
    assert len(time.delays) == 2 and all(2.0 <= d <= 5.0 for d in time.delays)


async def test_the_budget_bounds_time_spent_including_slow_answers() -> None:
    time = FakeTime()
    calls = 0

    def slow_failure(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        time.now += 0.9  # each answer takes 0.9 s of the budget
        return error_response(500, "DMS.00500000")

    client = make_client(
        slow_failure,
        time=time,
        retry=RetryPolicy(attempts=10, base_delay_s=0.1, max_delay_s=0.1, budget_s=2.0),
    )
    with pytest.raises(DmsUnavailableError):
        await client.list_tasks(REF)
    assert time.now <= 2.0 + 0.9  # at most the attempt already under way when time ran out
    assert calls == 3


@pytest.mark.parametrize(
    ("answer", "kind"),
    [
        (error_response(400, "DMS.00400062"), DmsBadRequestError),
        (error_response(401, "APIGW.0301"), DmsAuthError),
        (error_response(403, "DMS.00403003"), DmsPermissionError),
        (error_response(404, "DMS.00404022"), DmsNotFoundError),
    ],
)
async def test_client_errors_are_never_retried(answer: httpx.Response, kind: type) -> None:
    time = FakeTime()
    script = Script(answer, OK)
    with pytest.raises(kind):
        await make_client(script, time=time).list_tasks(REF)
    assert script.calls == 1
    assert time.delays == []


async def test_persistent_server_error_becomes_unavailable_after_all_attempts() -> None:
    script = Script(error_response(500, "DMS.00500000", "internal error", request_id="req-500"))
    with pytest.raises(DmsUnavailableError) as caught:
        await make_client(script).list_tasks(REF)
    assert script.calls == 4
    error = caught.value
    assert (error.operation, error.kind) == (DmsOperation.LIST_TASKS, DmsErrorKind.SERVER_ERROR)
    assert error.status == 500 and error.error_code == "DMS.00500000"
    assert error.error_msg == "internal error" and error.request_id == "req-500"
    assert error.attempts == 4 and error.retried and error.retryable
    assert error.endpoint == "https://dms.cn-north-4.example.test"
    assert (error.project_id, error.region, error.instance_id) == (PROJECT, REGION, "inst-1")
    assert str(error) == (
        "DMS list tasks failed: server error (HTTP 500, DMS.00500000, request req-500, "
        "4 attempts) for instance inst-1"
    )


async def test_timeouts_are_retried_then_reported_with_the_timeout() -> None:
    script = Script(httpx.ReadTimeout("slow"))
    with pytest.raises(DmsUnavailableError) as caught:
        await make_client(script, timeout=10.0).list_tasks(REF)
    assert script.calls == 4
    assert caught.value.kind is DmsErrorKind.TIMEOUT and caught.value.timeout_s == 10.0


async def test_connection_errors_are_retried_then_reported() -> None:
    script = Script(httpx.ConnectError("refused"), OK)
    page = await make_client(script).list_tasks(REF)
    assert script.calls == 2 and page.total == 1
    script = Script(httpx.ConnectError("refused"))
    with pytest.raises(DmsUnavailableError) as caught:
        await make_client(script).list_tasks(REF)
    assert caught.value.kind is DmsErrorKind.CONNECT_FAILED


@pytest.mark.parametrize(
    ("failure", "kind"),
    [
        (httpx.ProxyError("proxy refused"), DmsErrorKind.PROXY_FAILED),
        (httpx.RemoteProtocolError("server disconnected"), DmsErrorKind.CONNECTION_CLOSED),
        (httpx.ReadError("reset by peer"), DmsErrorKind.CONNECTION_FAILED),
    ],
)
async def test_every_transport_failure_is_retried_then_a_dms_error(
    failure: Exception, kind: DmsErrorKind
) -> None:
    script = Script(failure)
    with pytest.raises(DmsUnavailableError) as caught:
        await make_client(script).list_tasks(REF)
    assert script.calls == 4
    assert caught.value.kind is kind and caught.value.attempts == 4


async def test_a_body_that_does_not_decode_is_retried_as_malformed() -> None:
    answers = [b"not gzip", None]

    def handler(request: httpx.Request) -> httpx.Response:
        body = answers.pop(0) if answers else b"still not gzip"
        if body is None:
            return OK
        # A stream, not content=: httpx decodes the body when the client reads it.
        return httpx.Response(
            200, stream=httpx.ByteStream(body), headers={"Content-Encoding": "gzip"}
        )

    page = await make_client(handler).list_tasks(REF)
    assert page.total == 1 and answers == []
    with pytest.raises(DmsUnavailableError) as caught:
        await make_client(handler).list_tasks(REF)
    assert caught.value.kind is DmsErrorKind.UNDECODABLE


@pytest.mark.parametrize(
    "content",
    [b"<html>gateway error</html>", b'{"tasks": "oops"}', b"[1, 2]", b'{"task_count": "3", "ta'],
)
async def test_malformed_success_bodies_are_retried_then_reported(content: bytes) -> None:
    script = Script(httpx.Response(200, content=content))
    with pytest.raises(DmsUnavailableError) as caught:
        await make_client(script).list_tasks(REF)
    assert script.calls == 4
    assert caught.value.kind is DmsErrorKind.MALFORMED and caught.value.detail
    assert content.decode() not in str(caught.value) + repr(caught.value)


async def test_malformed_then_good_body_succeeds() -> None:
    script = Script(httpx.Response(200, content=b"not json"), OK)
    page = await make_client(script).list_tasks(REF)
    assert script.calls == 2 and len(page.tasks) == 1


async def test_each_retry_is_logged_without_headers_or_secrets(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="bot.dms")
    script = Script(error_response(503, "DMS.00500000", request_id="req-log"), OK)
    await make_client(script).list_tasks(REF)
    (record,) = [r for r in caplog.records if r.name.startswith("bot.dms")]
    text = record.getMessage()
    assert record.levelno == logging.INFO
    assert "status=503" in text and "DMS.00500000" in text and "req-log" in text
    assert "retry 1/3 in" in text
    assert SECRET_SK not in text and "Authorization" not in text and "AKEXAMPLE" not in text


# ---- what errors carry --------------------------------------------------------------------------


async def test_bad_signature_is_a_credentials_error_with_the_apis_fields() -> None:
    answer = json_response(
        401,
        {
            "error_code": "APIGW.0301",
            "error_msg": "Incorrect IAM authentication information",
            "request_id": "5c3a9e",
        },
    )
    script = Script(answer)
    with pytest.raises(DmsAuthError) as caught:
        await make_client(script).list_tasks(REF)
    error = caught.value
    assert script.calls == 1
    assert error.kind is DmsErrorKind.CREDENTIALS_REJECTED
    assert (error.status, error.error_code, error.request_id) == (401, "APIGW.0301", "5c3a9e")
    assert error.error_msg == "Incorrect IAM authentication information"
    assert SECRET_SK not in str(error)


@pytest.mark.parametrize("code", ["DMS.10240101", "DMS.10240102", "DMS.10240103", "DMS.10240104"])
async def test_token_problems_are_token_errors(code: str) -> None:
    with pytest.raises(DmsAuthError) as caught:
        await make_client(Script(error_response(401, code))).list_tasks(REF)
    assert caught.value.kind is DmsErrorKind.TOKEN_REJECTED
    assert caught.value.error_code == code


async def test_forbidden_carries_the_iam_action_needed() -> None:
    with pytest.raises(DmsPermissionError) as caught:
        await make_client(Script(error_response(403, "DMS.10240311"))).list_tasks(REF)
    assert caught.value.kind is DmsErrorKind.FORBIDDEN
    assert caught.value.iam_action == "dms:instance:getBackgroundTask"
    with pytest.raises(DmsPermissionError) as caught:
        await make_client(Script(error_response(403, "DMS.00403003"))).list_instances(
            PROJECT, REGION
        )
    assert caught.value.operation is DmsOperation.LIST_INSTANCES
    assert caught.value.iam_action == "dms:instance:list"
    assert (caught.value.project_id, caught.value.region) == (PROJECT, REGION)
    assert caught.value.instance_id is None


async def test_unknown_instance_carries_project_and_region() -> None:
    answer = error_response(404, "DMS.00404022", "The instance does not exist.", "req-404")
    with pytest.raises(DmsNotFoundError) as caught:
        await make_client(Script(answer)).list_tasks(REF)
    error = caught.value
    assert error.kind is DmsErrorKind.INSTANCE_NOT_FOUND
    assert (error.instance_id, error.project_id, error.region) == ("inst-1", PROJECT, REGION)
    assert (error.error_code, error.request_id) == ("DMS.00404022", "req-404")


async def test_a_missing_api_path_is_an_endpoint_error_not_a_missing_instance() -> None:
    answer = error_response(404, "APIGW.0101", "The API does not exist or has not been published")
    script = Script(answer)
    with pytest.raises(DmsEndpointError) as caught:
        await make_client(script).list_tasks(REF)
    assert script.calls == 1
    assert not isinstance(caught.value, DmsNotFoundError)
    assert caught.value.kind is DmsErrorKind.API_NOT_FOUND
    assert caught.value.endpoint == "https://dms.cn-north-4.example.test"
    with pytest.raises(DmsEndpointError):
        await make_client(Script(answer)).show_task(REF, "t1")


async def test_bad_request_keeps_the_api_message_briefly() -> None:
    answer = error_response(400, "DMS.00400142", "invalid timestamp " + "x" * 5000)
    with pytest.raises(DmsBadRequestError) as caught:
        await make_client(Script(answer)).list_tasks(REF)
    error = caught.value
    assert error.kind is DmsErrorKind.BAD_REQUEST and error.error_code == "DMS.00400142"
    assert error.error_msg is not None and error.error_msg.startswith("invalid timestamp")
    assert len(error.error_msg) <= 200
    assert len(str(error)) < 200


async def test_a_redirect_is_an_endpoint_error_and_is_not_retried() -> None:
    script = Script(httpx.Response(301, headers={"Location": "https://elsewhere.example/"}))
    with pytest.raises(DmsEndpointError) as caught:
        await make_client(script).list_tasks(REF)
    assert script.calls == 1
    assert isinstance(caught.value, DmsUnavailableError)
    assert caught.value.kind is DmsErrorKind.REDIRECTED and caught.value.status == 301


async def test_an_address_that_is_not_http_is_an_endpoint_error() -> None:
    client = DmsClient(
        auth=AkSkAuth("AKEXAMPLE", SECRET_SK), endpoint_for=lambda region: "ftp://dms.example"
    )
    try:
        with pytest.raises(DmsEndpointError) as caught:
            await client.list_tasks(REF)
    finally:
        await client.aclose()
    assert caught.value.kind is DmsErrorKind.UNUSABLE_URL
    assert caught.value.endpoint == "ftp://dms.example" and not caught.value.retried


async def test_a_client_error_after_retries_says_how_many_attempts_it_took() -> None:
    script = Script(error_response(503, "DMS.00500000"), error_response(404, "DMS.00404022"))
    with pytest.raises(DmsNotFoundError) as caught:
        await make_client(script).list_tasks(REF)
    assert caught.value.attempts == 2 and caught.value.retried
    assert not caught.value.retryable


async def test_request_id_comes_from_the_header_when_the_body_has_none() -> None:
    answer = httpx.Response(404, content=b"Not Found", headers={"X-Request-Id": "hdr-1"})
    with pytest.raises(DmsNotFoundError) as caught:
        await make_client(Script(answer)).list_tasks(REF)
    assert caught.value.request_id == "hdr-1"
    assert caught.value.error_code is None


async def test_errors_and_client_reprs_hide_secrets() -> None:
    client = make_client(Script(error_response(401, "APIGW.0301")))
    assert SECRET_SK not in repr(client)
    with pytest.raises(DmsAuthError) as caught:
        await client.list_tasks(REF)
    assert SECRET_SK not in repr(caught.value) and SECRET_SK not in str(caught.value)


# ---- IAM token authentication ------------------------------------------------------------------


class FakeIam:
    """POST /v3/auth/tokens: a new token per request, or a scripted refusal."""

    def __init__(self, *, lifetime: timedelta = timedelta(hours=24), status: int = 201) -> None:
        self.lifetime = lifetime
        self.status = status
        self.bodies: list[dict[str, Any]] = []
        self.clock: Callable[[], datetime] = lambda: NOW

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        assert request.method == "POST" and request.url.path == "/v3/auth/tokens"
        self.bodies.append(json.loads(request.content))
        # Let every concurrent caller reach the token lock before this answer arrives.
        for _ in range(5):
            await asyncio.sleep(0)
        if self.status >= 400:
            return json_response(
                self.status, {"error": {"code": "IAM.0002", "message": "bad password"}}
            )
        expires = self.clock() + self.lifetime
        return json_response(
            self.status,
            {"token": {"expires_at": expires.strftime("%Y-%m-%dT%H:%M:%S.%fZ")}},
            {"X-Subject-Token": f"tok-{len(self.bodies)}"},
        )


def iam_auth(iam: FakeIam, clock: Callable[[], datetime] = lambda: NOW) -> IamTokenAuth:
    iam.clock = clock
    return IamTokenAuth(
        "https://iam.cn-north-4.example.test",
        "bot-user",
        "p@ssw0rd-secret",
        "acme",
        PROJECT,
        clock=clock,
        http=httpx.AsyncClient(transport=httpx.MockTransport(iam)),
    )


class TokenCheckingDms:
    def __init__(self, rejected: frozenset[str] = frozenset()) -> None:
        self.rejected = rejected
        self.tokens: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        token = request.headers.get("X-Auth-Token", "")
        self.tokens.append(token)
        assert request.headers["X-Project-Id"] == PROJECT
        assert "Authorization" not in request.headers
        if token in self.rejected:
            return error_response(401, "DMS.10240102", "token expired")
        return OK


async def test_iam_token_request_has_the_password_scope_shape() -> None:
    iam = FakeIam()
    dms = TokenCheckingDms()
    await make_client(dms, auth=iam_auth(iam)).list_tasks(REF)
    assert iam.bodies == [
        {
            "auth": {
                "identity": {
                    "methods": ["password"],
                    "password": {
                        "user": {
                            "name": "bot-user",
                            "password": "p@ssw0rd-secret",
                            "domain": {"name": "acme"},
                        }
                    },
                },
                "scope": {"project": {"id": PROJECT}},
            }
        }
    ]
    assert dms.tokens == ["tok-1"]


async def test_concurrent_calls_share_one_token_request() -> None:
    iam = FakeIam()
    dms = TokenCheckingDms()
    client = make_client(dms, auth=iam_auth(iam))
    await asyncio.gather(*(client.list_tasks(REF) for _ in range(20)))
    assert len(iam.bodies) == 1
    assert dms.tokens == ["tok-1"] * 20


async def test_token_is_refreshed_when_less_than_the_margin_is_left() -> None:
    now = [NOW]
    iam = FakeIam(lifetime=timedelta(hours=24))
    dms = TokenCheckingDms()
    client = make_client(dms, auth=iam_auth(iam, clock=lambda: now[0]))
    await client.list_tasks(REF)
    now[0] = NOW + timedelta(hours=22, minutes=59)
    await client.list_tasks(REF)
    assert len(iam.bodies) == 1
    now[0] = NOW + timedelta(hours=23, minutes=1)
    await client.list_tasks(REF)
    assert len(iam.bodies) == 2
    assert dms.tokens == ["tok-1", "tok-1", "tok-2"]


async def test_a_revoked_token_is_refreshed_once_on_401() -> None:
    iam = FakeIam()
    dms = TokenCheckingDms(rejected=frozenset({"tok-1"}))
    page = await make_client(dms, auth=iam_auth(iam)).list_tasks(REF)
    assert page.total == 1
    assert dms.tokens == ["tok-1", "tok-2"]
    assert len(iam.bodies) == 2


async def test_a_second_401_is_final_and_names_the_iam_variables() -> None:
    iam = FakeIam()
    dms = TokenCheckingDms(rejected=frozenset({"tok-1", "tok-2", "tok-3"}))
    with pytest.raises(DmsAuthError) as caught:
        await make_client(dms, auth=iam_auth(iam)).list_tasks(REF)
    assert dms.tokens == ["tok-1", "tok-2"]
    assert len(iam.bodies) == 2
    assert caught.value.kind is DmsErrorKind.TOKEN_REJECTED
    assert caught.value.operation is DmsOperation.LIST_TASKS


async def test_iam_refusal_is_an_auth_error_and_sends_nothing_to_dms(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    iam = FakeIam(status=401)
    dms = TokenCheckingDms()
    auth = iam_auth(iam)
    with pytest.raises(DmsAuthError) as caught:
        await make_client(dms, auth=auth).list_tasks(REF)
    assert len(iam.bodies) == 1 and dms.tokens == []
    error = caught.value
    assert (error.operation, error.kind) == (
        DmsOperation.IAM_TOKEN,
        DmsErrorKind.CREDENTIALS_REJECTED,
    )
    assert error.error_code == "IAM.0002" and error.status == 401
    assert error.endpoint == "https://iam.cn-north-4.example.test"
    assert "p@ssw0rd-secret" not in repr(auth) + str(error) + repr(error) + caplog.text


async def test_iam_outage_is_retried_as_unavailable() -> None:
    iam = FakeIam(status=503)
    dms = TokenCheckingDms()
    with pytest.raises(DmsUnavailableError) as caught:
        await make_client(dms, auth=iam_auth(iam)).list_tasks(REF)
    assert len(iam.bodies) == 4 and dms.tokens == []
    error = caught.value
    assert (error.operation, error.kind) == (DmsOperation.IAM_TOKEN, DmsErrorKind.SERVER_ERROR)
    assert error.status == 503 and error.attempts == 4 and error.retryable


async def test_tokens_never_reach_the_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    iam = FakeIam()
    await make_client(TokenCheckingDms(), auth=iam_auth(iam)).list_tasks(REF)
    assert "tok-1" not in caplog.text and "p@ssw0rd-secret" not in caplog.text


# ---- task progress -----------------------------------------------------------------------------


async def test_task_progress_is_a_typed_model_from_the_progress_path() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return json_response(
            200,
            {
                "progress_percentage": "42",
                "remain_time": 300,
                "step_list": [
                    {"name": "prepare", "statue": "COMPLETED", "start_time": 1764662400000},
                    {"name": "rebalance", "statue": "IN_PROGRESS", "end_time": None},
                    {"statue": "WAITING"},  # no name: not a step anyone can read
                    "junk",
                ],
            },
        )

    progress = await make_client(handler).task_progress(REF, "t/1")
    assert seen[0].url.raw_path == f"{TASKS_PATH}/t%2F1/progress".encode()
    assert progress is not None
    assert (progress.percentage, progress.remain_s) == (42, 300)
    assert [s.name for s in progress.steps] == ["prepare", "rebalance"]
    assert progress.steps[0].started_at == datetime(2025, 12, 2, 8, 0, tzinfo=UTC)
    assert progress.current_step is not None and progress.current_step.name == "rebalance"


@pytest.mark.parametrize(
    "body",
    [{}, {"progress_percentage": None}, {"progress_percentage": "soon"}, {"remain_time": 5}],
)
async def test_an_answer_without_a_percentage_is_no_progress(body: dict[str, Any]) -> None:
    client = make_client(lambda request: json_response(200, body))
    assert await client.task_progress(REF, "t1") is None


async def test_a_404_is_no_progress_and_odd_numbers_are_clamped() -> None:
    client = make_client(lambda r: error_response(404, "DMS.00404023"))
    assert await client.task_progress(REF, "t1") is None
    odd = make_client(
        lambda r: json_response(200, {"progress_percentage": 180.5, "remain_time": -3})
    )
    progress = await odd.task_progress(REF, "t1")
    assert progress is not None and (progress.percentage, progress.remain_s) == (100, None)


async def test_progress_failures_other_than_404_raise_as_every_call_does() -> None:
    client = make_client(lambda r: error_response(403, "DMS.00403003"))
    with pytest.raises(DmsPermissionError):
        await client.task_progress(REF, "t1")
