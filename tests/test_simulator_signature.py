"""The simulator's own SDK-HMAC-SHA256 verifier: the documented test vector, the official SDK's
Signer as an oracle, and each way a request is refused."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.sdk_request import SdkRequest
from huaweicloudsdkcore.signer.signer import Signer
from hypothesis import given
from hypothesis import strategies as st

from bot.simulator.signature import (
    Authorization,
    SignatureRejected,
    Verifier,
    canonical_request,
    expected_signature,
    read_authorization,
)

# The test vector of the DMS API notes (shared/dms-api.md), computed with the official Signer.
VECTOR_AUTHORIZATION = (
    "SDK-HMAC-SHA256 Access=AKEXAMPLE, SignedHeaders=content-type;host;x-project-id;x-sdk-date, "
    "Signature=755329753abae61eb780f3eee1034365176749561885c1de9244430f44f7713f"
)
VECTOR_PATH = "/v2/proj123/instances/inst-1/tasks"
VECTOR_QUERY = [
    ("start", "1"),
    ("limit", "10"),
    ("begin_time", "20240101000000"),
    ("end_time", "20240102000000"),
]
VECTOR_HEADERS = {
    "Content-Type": "application/json",
    "Host": "dms.cn-north-4.myhuaweicloud.com",
    "X-Sdk-Date": "20240102T030405Z",
    "X-Project-Id": "proj123",
}
VECTOR_NOW = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)

VERIFIER = Verifier({"AKEXAMPLE": "SKEXAMPLE"}, {}, 900)


def lookup(headers: dict[str, str]) -> Callable[[str], str | None]:
    lowered = {name.lower(): value for name, value in headers.items()}
    return lambda name: lowered.get(name.lower())


def verify_vector(
    headers: dict[str, str],
    verifier: Verifier = VERIFIER,
    *,
    method: str = "GET",
    raw_path: str = VECTOR_PATH,
    query: list[tuple[str, str]] = VECTOR_QUERY,
    body: bytes = b"",
    now: datetime = VECTOR_NOW,
) -> str:
    return verifier.verify(method, raw_path, query, lookup(headers), body, now)


def vector_headers(**extra: str) -> dict[str, str]:
    return {**VECTOR_HEADERS, "Authorization": VECTOR_AUTHORIZATION, **extra}


def test_doc_vector_signature_is_reproduced() -> None:
    auth = read_authorization(VECTOR_AUTHORIZATION)
    assert auth is not None
    signed = [(name, lookup(VECTOR_HEADERS)(name) or "") for name in auth.signed_headers]
    canonical = canonical_request("GET", VECTOR_PATH, VECTOR_QUERY, signed, b"")
    assert canonical.split("\n")[:3] == [
        "GET",
        VECTOR_PATH + "/",
        "begin_time=20240101000000&end_time=20240102000000&limit=10&start=1",
    ]
    assert expected_signature("SKEXAMPLE", "20240102T030405Z", canonical) == auth.signature


def test_doc_vector_passes_verification() -> None:
    assert verify_vector(vector_headers()) == "AKEXAMPLE"


def test_authorization_is_read_into_its_parts() -> None:
    assert read_authorization(VECTOR_AUTHORIZATION) == Authorization(
        "AKEXAMPLE",
        ("content-type", "host", "x-project-id", "x-sdk-date"),
        "755329753abae61eb780f3eee1034365176749561885c1de9244430f44f7713f",
    )


@pytest.mark.parametrize(
    "value",
    [
        "",
        "Bearer abc",
        "SDK-HMAC-SM3 Access=A, SignedHeaders=host, Signature=00",
        "SDK-HMAC-SHA256 Access=A, SignedHeaders=host",
        "SDK-HMAC-SHA256 Access=A, SignedHeaders, Signature=00",
    ],
)
def test_other_authorization_values_are_not_read(value: str) -> None:
    assert read_authorization(value) is None


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"method": "DELETE"}, "signature fail"),
        ({"raw_path": VECTOR_PATH + "/x"}, "signature fail"),
        ({"query": [*VECTOR_QUERY[:3], ("end_time", "20240103000000")]}, "signature fail"),
        ({"body": b"{}"}, "signature fail"),
        ({"now": VECTOR_NOW + timedelta(minutes=16)}, "15 min"),
        ({"now": VECTOR_NOW - timedelta(minutes=16)}, "15 min"),
    ],
)
def test_a_request_other_than_the_signed_one_is_refused(change: dict[str, Any], why: str) -> None:
    with pytest.raises(SignatureRejected, match=why):
        verify_vector(vector_headers(), **change)


def test_fourteen_minutes_of_skew_are_tolerated() -> None:
    assert verify_vector(vector_headers(), now=VECTOR_NOW + timedelta(minutes=14)) == "AKEXAMPLE"


@pytest.mark.parametrize(
    ("headers", "why"),
    [
        ({**VECTOR_HEADERS}, "missing"),
        (vector_headers(Authorization="SDK-HMAC-SHA256 nonsense"), "malformed"),
        (vector_headers(**{"X-Project-Id": "other"}), "signature fail"),
        (vector_headers(**{"X-Sdk-Date": "2024-01-02T03:04:05Z"}), "yyyyMMddTHHmmssZ"),
        (
            vector_headers(Authorization=VECTOR_AUTHORIZATION.replace("AKEXAMPLE", "AKOTHER")),
            "unknown",
        ),
        (
            vector_headers(Authorization=VECTOR_AUTHORIZATION.replace(";x-sdk-date", "")),
            "X-Sdk-Date must be signed",
        ),
        (
            vector_headers(
                Authorization=VECTOR_AUTHORIZATION.replace("content-type;host", "host;content-type")
            ),
            "signature fail",
        ),
        (
            vector_headers(
                Authorization=VECTOR_AUTHORIZATION.replace("Signature=7", "Signature=8")
            ),
            "signature fail",
        ),
    ],
)
def test_a_bad_signature_is_refused(headers: dict[str, str], why: str) -> None:
    with pytest.raises(SignatureRejected, match=why):
        verify_vector(headers)


def test_a_signed_header_that_did_not_arrive_is_refused() -> None:
    headers = vector_headers()
    del headers["X-Project-Id"]
    with pytest.raises(SignatureRejected, match="signed header x-project-id is missing"):
        verify_vector(headers)


def test_temporary_credentials_must_carry_their_security_token() -> None:
    verifier = Verifier({"AKEXAMPLE": "SKEXAMPLE"}, {"AKEXAMPLE": "session-1"}, 900)
    with pytest.raises(SignatureRejected, match="security token"):
        verify_vector(vector_headers(), verifier)
    request = sdk_signed("AKEXAMPLE", "SKEXAMPLE", VECTOR_PATH, [], {"X-Security-Token": "x"})
    with pytest.raises(SignatureRejected, match="security token"):
        verify_sdk_request(request, verifier)
    request = sdk_signed(
        "AKEXAMPLE", "SKEXAMPLE", VECTOR_PATH, [], {"X-Security-Token": "session-1"}
    )
    assert verify_sdk_request(request, verifier) == "AKEXAMPLE"


# -- the official Signer as an oracle -----------------------------------------------------------


def sdk_signed(
    ak: str,
    sk: str,
    path: str,
    query: list[tuple[str, str]],
    extra_headers: dict[str, str],
    body: bytes = b"",
) -> SdkRequest:
    request = SdkRequest(
        method="GET",
        schema="https",
        host="dms.ap-southeast-1.myhuaweicloud.com",
        resource_path=path,
        query_params=copy.deepcopy(query),
        header_params={
            "Content-Type": "application/json",
            "X-Sdk-Date": "20240102T030405Z",
            "X-Project-Id": "proj123",
            **extra_headers,
        },
        body=body,
    )
    Signer(BasicCredentials(ak, sk)).sign(request)
    return request


def verify_sdk_request(
    request: SdkRequest, verifier: Verifier = VERIFIER, query: list[tuple[str, str]] | None = None
) -> str:
    return verifier.verify(
        request.method,
        request.resource_path,
        query if query is not None else [(k, str(v)) for k, v in request.query_params],
        lookup(dict(request.header_params)),
        request.body or b"",
        VECTOR_NOW,
    )


_SEGMENT = st.text(
    st.characters(whitelist_categories=("L", "N"), whitelist_characters="-_.~"),
    min_size=1,
    max_size=12,
)
_TEXT = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12
)


@given(
    segments=st.lists(_SEGMENT, min_size=1, max_size=4),
    query=st.lists(st.tuples(_TEXT, _TEXT), max_size=5),
    body=st.binary(max_size=64),
)
def test_whatever_the_official_signer_signs_verifies(
    segments: list[str], query: list[tuple[str, str]], body: bytes
) -> None:
    path = "/v2/" + "/".join(segments)
    request = sdk_signed("AKEXAMPLE", "SKEXAMPLE", path, query, {}, body)
    assert verify_sdk_request(request, query=query) == "AKEXAMPLE"


@given(query=st.lists(st.tuples(_TEXT, _TEXT), min_size=1, max_size=5))
def test_the_official_signature_under_another_secret_key_is_refused(
    query: list[tuple[str, str]],
) -> None:
    request = sdk_signed("AKEXAMPLE", "not-the-secret", VECTOR_PATH, query, {})
    with pytest.raises(SignatureRejected, match="signature fail"):
        verify_sdk_request(request, query=query)
