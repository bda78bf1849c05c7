"""Our AK/SK signer against the official huaweicloudsdkcore Signer, byte for byte, and AkSkAuth
end to end against the simulator's verification."""

from __future__ import annotations

import asyncio
import copy
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.sdk_request import SdkRequest
from huaweicloudsdkcore.signer.signer import Signer
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bot.dms.auth import AkSkAuth, authorization_header, parse_authorization
from bot.simulator import (
    DEMO_AK,
    DEMO_PROJECT_ID,
    DEMO_SK,
    RunningSimulator,
    SimulatorConfig,
    SimulatorThread,
)
from tests.simfixtures import FIXED_NOW, tasks_path

VECTOR_EXPECTED = (
    "SDK-HMAC-SHA256 Access=AKEXAMPLE, SignedHeaders=content-type;host;x-project-id;x-sdk-date, "
    "Signature=755329753abae61eb780f3eee1034365176749561885c1de9244430f44f7713f"
)
VECTOR_HOST = "dms.cn-north-4.myhuaweicloud.com"
VECTOR_PATH = "/v2/proj123/instances/inst-1/tasks"
VECTOR_QUERY = [
    ("start", "1"),
    ("limit", "10"),
    ("begin_time", "20240101000000"),
    ("end_time", "20240102000000"),
]
VECTOR_HEADERS = {
    "Content-Type": "application/json",
    "X-Sdk-Date": "20240102T030405Z",
    "X-Project-Id": "proj123",
}
SDK_DATE = "20240102T030405Z"


def sdk_authorization(
    ak: str,
    sk: str,
    method: str,
    host: str,
    path: str,
    query: list[tuple[str, Any]],
    headers: dict[str, str],
    body: bytes,
) -> str:
    """The Authorization value the official SDK's Signer computes for this request."""
    request = SdkRequest(
        method=method,
        schema="https",
        host=host,
        resource_path=path,
        query_params=copy.deepcopy(query),
        header_params=dict(headers),
        body=body,
    )
    Signer(BasicCredentials(ak, sk)).sign(request)
    return request.header_params["Authorization"]


def ours(
    ak: str,
    sk: str,
    method: str,
    host: str,
    path: str,
    pairs: list[tuple[str, str]],
    headers: dict[str, str],
    body: bytes,
) -> str:
    with_host = dict(headers)
    # The SDK's Signer adds Host from the endpoint unless the caller set one; httpx does the same.
    if not any(name.lower() == "host" for name in with_host):
        with_host["Host"] = host
    return authorization_header(ak, sk, method, path, pairs, with_host, body)


def sdk_query(pairs: list[tuple[str, str]]) -> list[tuple[str, Any]]:
    """The SDK's form of a query: a repeated key becomes one pair with a list value."""
    grouped: dict[str, list[str]] = {}
    for key, value in pairs:
        grouped.setdefault(key, []).append(value)
    return [(k, v if len(v) > 1 else v[0]) for k, v in grouped.items()]


def test_doc_vector_official_signer() -> None:
    got = sdk_authorization(
        "AKEXAMPLE", "SKEXAMPLE", "GET", VECTOR_HOST, VECTOR_PATH, VECTOR_QUERY, VECTOR_HEADERS, b""
    )
    assert got == VECTOR_EXPECTED


def test_doc_vector_our_signer() -> None:
    got = ours(
        "AKEXAMPLE", "SKEXAMPLE", "GET", VECTOR_HOST, VECTOR_PATH, VECTOR_QUERY, VECTOR_HEADERS, b""
    )
    assert got == VECTOR_EXPECTED


def test_doc_vector_through_aksk_auth() -> None:
    auth = AkSkAuth("AKEXAMPLE", "SKEXAMPLE", clock=lambda: FIXED_NOW)
    request = httpx.Request(
        "GET",
        f"https://{VECTOR_HOST}{VECTOR_PATH}",
        params=VECTOR_QUERY,
        headers={"X-Project-Id": "proj123"},
    )
    auth.sign(request)
    expected = sdk_authorization(
        "AKEXAMPLE",
        "SKEXAMPLE",
        "GET",
        VECTOR_HOST,
        VECTOR_PATH,
        VECTOR_QUERY,
        {**VECTOR_HEADERS, "X-Sdk-Date": request.headers["X-Sdk-Date"]},
        b"",
    )
    assert request.headers["Authorization"] == expected


def test_underscore_headers_are_left_unsigned_by_both() -> None:
    headers = {**VECTOR_HEADERS, "X_Custom_Trace": "abc", "X-Trace": "def"}
    sdk = sdk_authorization("AK", "SK", "GET", VECTOR_HOST, VECTOR_PATH, [], headers, b"")
    mine = ours("AK", "SK", "GET", VECTOR_HOST, VECTOR_PATH, [], headers, b"")
    assert mine == sdk
    parsed = parse_authorization(mine)
    assert parsed is not None
    assert "x_custom_trace" not in parsed[1] and "x-trace" in parsed[1]


# -- generated requests -------------------------------------------------------------------------

_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
    max_size=12,
)
_RESERVED = st.sampled_from(["%", "%25", "%41", "%zz", " ", "+", "&", "=", "?", "#", ";", "~", "é"])
_SEGMENT = (
    st.lists(st.one_of(_TEXT, _RESERVED), max_size=4).map("".join).filter(lambda s: "/" not in s)
)
_PATH = st.lists(_SEGMENT, min_size=1, max_size=5).map(lambda segs: "/" + "/".join(segs))
_QUERY_TEXT = st.one_of(_TEXT, _RESERVED, st.sampled_from(["a b", "ü", "😀", "x=y", ""]))
_QUERY = st.lists(st.tuples(_QUERY_TEXT, _QUERY_TEXT), max_size=6)
_HEADER_NAME = st.from_regex(r"[A-Za-z][A-Za-z0-9_-]{0,14}", fullmatch=True).filter(
    lambda n: (
        n.lower() not in {"x-sdk-date", "authorization", "content-type"}
        and not n.lower().startswith("x-sdk-content")
    )
)
_HEADER_VALUE = st.text(
    alphabet=st.characters(
        blacklist_categories=("Cs", "Cc"), blacklist_characters="\r\n", max_codepoint=0x2FFF
    ),
    max_size=20,
).map(lambda v: f"  {v}\t ")
_HEADERS = st.dictionaries(_HEADER_NAME, _HEADER_VALUE, max_size=5)
_METHOD = st.sampled_from(["GET", "POST", "DELETE", "PUT", "get"])
_BODY = st.one_of(st.just(b""), st.binary(max_size=64))


def _unique_case_insensitive(headers: dict[str, str]) -> bool:
    return len({n.lower() for n in headers}) == len(headers)


@settings(max_examples=250, deadline=None)
@given(
    path=_PATH,
    pairs=_QUERY,
    extra=_HEADERS.filter(_unique_case_insensitive),
    method=_METHOD,
    body=_BODY,
    ak=st.from_regex(r"[A-Z0-9]{1,20}", fullmatch=True),
    sk=st.text(min_size=1, max_size=30).filter(lambda s: "\x00" not in s),
    json_content=st.booleans(),
)
def test_generated_requests_sign_identically(
    path: str,
    pairs: list[tuple[str, str]],
    extra: dict[str, str],
    method: str,
    body: bytes,
    ak: str,
    sk: str,
    json_content: bool,
) -> None:
    headers = {"X-Sdk-Date": SDK_DATE, "X-Project-Id": " proj123 ", **extra}
    if json_content:
        headers["Content-Type"] = "application/json;charset=UTF-8"
    sdk = sdk_authorization(ak, sk, method, VECTOR_HOST, path, sdk_query(pairs), headers, body)
    mine = ours(ak, sk, method, VECTOR_HOST, path, pairs, headers, body)
    assert mine == sdk


@settings(max_examples=100, deadline=None)
@given(extra=_HEADERS, host_name=st.sampled_from(["Host", "HOST", "host"]))
def test_caller_supplied_host_header_in_any_case(extra: dict[str, str], host_name: str) -> None:
    headers = {"X-Sdk-Date": SDK_DATE, host_name: " 127.0.0.1:8080 ", **extra}
    headers = {k: v for k, v in headers.items() if k.lower() != "host" or k == host_name}
    sdk = sdk_authorization("AK", "SK", "GET", VECTOR_HOST, VECTOR_PATH, [], headers, b"")
    mine = ours("AK", "SK", "GET", VECTOR_HOST, VECTOR_PATH, [], headers, b"")
    assert mine == sdk


@settings(max_examples=150, deadline=None)
@given(
    path=_PATH.filter(lambda p: p.isprintable() and "?" not in p and "#" not in p),
    pairs=_QUERY,
    project=st.sampled_from(["proj123", " p 1 "]),
)
@example(path="/v2/p/instances/%2541/tasks", pairs=[("q", "%41")], project="p")
def test_aksk_auth_signs_what_goes_on_the_wire_as_the_sdk_would(
    path: str, pairs: list[tuple[str, str]], project: str
) -> None:
    request = httpx.Request(
        "GET", f"https://{VECTOR_HOST}{path}", params=pairs, headers={"X-Project-Id": project}
    )
    AkSkAuth("AK", "SK", clock=lambda: FIXED_NOW).sign(request)
    wire_path = request.url.raw_path.split(b"?", 1)[0].decode("ascii")
    headers = {
        name: request.headers[name]
        for name in ("Content-Type", "Host", "X-Project-Id", "X-Sdk-Date")
    }
    sdk = sdk_authorization(
        "AK",
        "SK",
        "GET",
        VECTOR_HOST,
        wire_path,
        sdk_query(request.url.params.multi_items()),
        headers,
        b"",
    )
    assert request.headers["Authorization"] == sdk


# -- AkSkAuth end to end against the simulator --------------------------------------------------


@pytest.fixture(scope="module")
def sim() -> Iterator[RunningSimulator]:
    # One server on its own thread for the whole module: hypothesis runs many examples on it.
    with SimulatorThread(SimulatorConfig(now=FIXED_NOW, bulk_tasks=10)) as running:
        yield running


def _send(sim: RunningSimulator, request: httpx.Request) -> httpx.Response:
    with httpx.Client(timeout=10) as c:
        return c.send(request)


_TASK_ID = (
    st.lists(
        st.one_of(
            st.text(
                alphabet=st.characters(
                    blacklist_categories=("Cs", "Cc"), blacklist_characters="/\\"
                ),
                min_size=1,
                max_size=8,
            ),
            st.sampled_from([" ", "%", "~", "é", "😀", "+", ";", "=", "&"]),
        ),
        min_size=1,
        max_size=4,
    )
    .map("".join)
    .filter(lambda s: s.strip(".") != "" and "?" not in s and "#" not in s)
)
_PARAM_TEXT = st.one_of(
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=10),
    st.sampled_from(["a b", "a+b", "x=y&z", "ü", "😀", "%41", ""]),
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(task_id=_TASK_ID, params=st.lists(st.tuples(_PARAM_TEXT, _PARAM_TEXT), max_size=5))
@example(task_id="%2541", params=[("q", "%2541")])
@example(task_id="%252F%2F", params=[("a b", "c+d"), ("a b", "")])
def test_aksk_auth_requests_pass_the_simulators_verification(
    sim: RunningSimulator, task_id: str, params: list[tuple[str, str]]
) -> None:
    instance = sim.instance("edge-cases").instance_id
    request = httpx.Request(
        "GET",
        sim.url + tasks_path(instance) + "/" + task_id,
        params=params,
        headers={"X-Project-Id": DEMO_PROJECT_ID},
    )
    AkSkAuth(DEMO_AK, DEMO_SK).sign(request)
    response = _send(sim, request)
    assert response.status_code == 404, response.text
    assert response.json()["error_code"] == "DMS.00404023"


def test_aksk_auth_with_a_body_passes_verification(sim: RunningSimulator) -> None:
    instance = sim.instance("edge-cases").instance_id
    request = httpx.Request(
        "DELETE",
        sim.url + tasks_path(instance) + "/" + "0" * 32,
        content=b'{"reason": "cleanup \xc3\xa9"}',
    )
    AkSkAuth(DEMO_AK, DEMO_SK).sign(request)
    response = _send(sim, request)
    assert response.json()["error_code"] == "DMS.00404023"
    request.headers["Authorization"] = request.headers["Authorization"].replace(
        "Signature=", "Signature=0"
    )
    assert _send(sim, request).json()["error_code"] == "APIGW.0301"


def test_aksk_auth_verifies_from_many_threads_at_once(sim: RunningSimulator) -> None:
    instance = sim.instance("prod-orders").instance_id
    codes: list[int] = []
    lock = threading.Lock()

    def call() -> None:
        auth = AkSkAuth(DEMO_AK, DEMO_SK)
        with httpx.Client(base_url=sim.url, auth=auth, timeout=10) as c:
            status = c.get(tasks_path(instance), params={"limit": 3}).status_code
        with lock:
            codes.append(status)

    threads = [threading.Thread(target=call) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert codes == [200] * 8


async def test_aksk_auth_on_the_async_client(sim: RunningSimulator) -> None:
    instance = sim.instance("prod-orders").instance_id
    auth = AkSkAuth(DEMO_AK, DEMO_SK)
    async with httpx.AsyncClient(base_url=sim.url, auth=auth) as c:
        responses = await asyncio.gather(
            *(c.get(tasks_path(instance), params={"start": s}) for s in (1, 11, 21))
        )
    assert [r.status_code for r in responses] == [200, 200, 200]
