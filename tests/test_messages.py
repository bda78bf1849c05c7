"""bot/messages.py words what the DMS client raised: the summary, the hint naming the settings an
admin should look at, and the reference support asks for. Errors come from a real DmsClient
against httpx.MockTransport, so the wording is checked for the facts the client really sets."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from bot.dms.auth import AkSkAuth
from bot.dms.client import DmsClient
from bot.dms.errors import DmsError, DmsErrorKind, DmsOperation, DmsUnavailableError
from bot.messages import problem_for, reference
from tests.test_client_unit import (
    OK,
    PROJECT,
    REF,
    REGION,
    SECRET_SK,
    FakeIam,
    Script,
    TokenCheckingDms,
    error_response,
    iam_auth,
    json_response,
    make_client,
)


async def raised(call: Callable[[DmsClient], Awaitable[Any]], *answers: Any) -> DmsError:
    """The error a call raises against a mock DMS that answers `answers` in turn."""
    return await raised_by(make_client(Script(*answers)), call)


async def raised_by(client: DmsClient, call: Callable[[DmsClient], Awaitable[Any]]) -> DmsError:
    with pytest.raises(DmsError) as caught:
        await call(client)
    return caught.value


def list_tasks(client: DmsClient) -> Awaitable[Any]:
    return client.list_tasks(REF)


# ---- retried failures ----------------------------------------------------------------------------


async def test_server_error_says_what_was_asked_and_how_often() -> None:
    error = await raised(
        list_tasks, error_response(500, "DMS.00500000", "internal error", request_id="req-500")
    )
    problem = problem_for(error)
    assert problem.summary == (
        "Huawei Cloud's DMS API answered HTTP 500 when asked to read the background tasks of "
        "instance prod-orders."
    )
    assert problem.hint == (
        "The bot tried 4 times. Try again in a few minutes; if it persists, check the Huawei "
        "Cloud status page."
    )
    assert problem.reference == "DMS.00500000, request req-500"


async def test_timeout_names_the_timeout() -> None:
    error = await raised_by(
        make_client(Script(httpx.ReadTimeout("slow")), timeout=10.0), list_tasks
    )
    assert "timed out after 10 s" in problem_for(error).summary


@pytest.mark.parametrize(
    ("failure", "words"),
    [
        (
            httpx.ConnectError("refused"),
            "could not be reached (the connection was refused or the address did not resolve)",
        ),
        (httpx.ProxyError("proxy refused"), "could not be reached through the configured proxy"),
        (
            httpx.RemoteProtocolError("server disconnected"),
            "could not be reached (it closed the connection without a complete answer)",
        ),
        (httpx.ReadError("reset by peer"), "could not be reached (the connection failed)"),
    ],
)
async def test_transport_failures_read_without_python_class_names(
    failure: Exception, words: str
) -> None:
    summary = problem_for(await raised(list_tasks, failure)).summary
    assert words in summary
    assert type(failure).__name__ not in summary


async def test_a_body_that_does_not_decode_is_worded_as_such() -> None:
    def undecodable(request: httpx.Request) -> httpx.Response:
        # A stream, not content=: httpx decodes the body when the client reads it.
        return httpx.Response(
            200, stream=httpx.ByteStream(b"not gzip"), headers={"Content-Encoding": "gzip"}
        )

    summary = problem_for(await raised_by(make_client(undecodable), list_tasks)).summary
    assert "returned a response that could not be decoded" in summary


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"<html>gateway error</html>", "not a JSON object"),
        (b'{"tasks": "oops"}', '"tasks" is not a list'),
    ],
)
async def test_malformed_bodies_say_what_was_wrong_without_quoting_them(
    content: bytes, problem: str
) -> None:
    summary = problem_for(await raised(list_tasks, httpx.Response(200, content=content))).summary
    assert f"returned a malformed response ({problem})" in summary
    assert content.decode() not in summary


async def test_throttling_keeps_its_words() -> None:
    throttled = error_response(429, "APIGW.0308", request_id="req-429")
    throttled.headers["Retry-After"] = "60"
    problem = problem_for(await raised(list_tasks, throttled))
    assert problem.summary == "Huawei Cloud is throttling requests; try again in a minute."
    assert problem.hint.startswith("The bot tried once.")
    assert problem.reference == "APIGW.0308, request req-429"


# ---- answers no retry can change ---------------------------------------------------------------


async def test_bad_signature_names_the_ak_sk_variables() -> None:
    answer = json_response(
        401,
        {
            "error_code": "APIGW.0301",
            "error_msg": "Incorrect IAM authentication information",
            "request_id": "5c3a9e",
        },
    )
    problem = problem_for(await raised(list_tasks, answer))
    assert problem.summary == "Huawei Cloud rejected the bot's credentials."
    assert problem.hint == (
        "An admin should check HUAWEICLOUD_SDK_AK / HUAWEICLOUD_SDK_SK (and "
        "HUAWEICLOUD_SDK_SECURITY_TOKEN if temporary credentials are used). Nothing was changed."
    )
    assert problem.reference == "APIGW.0301, request 5c3a9e"
    assert SECRET_SK not in problem.summary + problem.hint


@pytest.mark.parametrize("code", ["DMS.10240101", "DMS.10240102", "DMS.10240103", "DMS.10240104"])
async def test_token_problems_name_the_iam_variables(code: str) -> None:
    problem = problem_for(await raised(list_tasks, error_response(401, code)))
    assert "token" in problem.summary
    assert "DMS_IAM_USERNAME" in problem.hint and f"region {REGION}" in problem.hint


async def test_forbidden_names_the_iam_action_needed() -> None:
    problem = problem_for(await raised(list_tasks, error_response(403, "DMS.10240311")))
    assert "dms:instance:getBackgroundTask" in problem.hint
    assert "prod-orders" in problem.summary
    error = await raised(
        lambda c: c.list_instances(PROJECT, REGION), error_response(403, "DMS.00403003")
    )
    problem = problem_for(error)
    assert "dms:instance:list" in problem.hint
    assert f"list the Kafka instances of project {PROJECT} in {REGION}" in problem.summary


async def test_unknown_instance_names_project_and_region() -> None:
    answer = error_response(404, "DMS.00404022", "The instance does not exist.", "req-404")
    problem = problem_for(await raised(list_tasks, answer))
    assert problem.summary == (
        f"Instance inst-1 does not exist in project {PROJECT}, region {REGION}."
    )
    assert "HUAWEICLOUD_SDK_PROJECT_ID" in problem.hint and "DMS_REGION" in problem.hint
    assert problem.reference == "DMS.00404022, request req-404"


async def test_an_api_path_that_does_not_exist_points_at_the_endpoint_not_the_instance() -> None:
    problem = problem_for(await raised(list_tasks, error_response(404, "APIGW.0101")))
    assert "https://dms.cn-north-4.example.test" in problem.summary
    assert "does not exist" in problem.summary
    assert "Instance inst-1 does not exist" not in problem.summary
    assert "DMS_ENDPOINT" in problem.hint


async def test_unknown_task_names_the_task_and_instance() -> None:
    error = await raised(lambda c: c.show_task(REF, "gone"), json_response(200, {"tasks": []}))
    problem = problem_for(error)
    assert problem.summary == "Task gone was not found on instance prod-orders."
    assert "list the window again" in problem.hint
    error = await raised(lambda c: c.show_task(REF, "gone"), error_response(404, "DMS.00404023"))
    assert problem_for(error).summary == "Task gone was not found on instance prod-orders."


async def test_bad_request_quotes_the_api_message_briefly() -> None:
    answer = error_response(400, "DMS.00400142", "invalid timestamp " + "x" * 5000)
    problem = problem_for(await raised(list_tasks, answer))
    assert "invalid timestamp" in problem.summary
    assert len(problem.summary) < 350
    assert "window" in problem.hint


async def test_a_redirect_points_at_the_endpoint_setting() -> None:
    answer = httpx.Response(301, headers={"Location": "https://elsewhere.example/"})
    problem = problem_for(await raised(list_tasks, answer))
    assert "HTTP 301" in problem.summary and "DMS_ENDPOINT" in problem.hint


async def test_an_unusable_address_is_shown_without_its_password() -> None:
    client = DmsClient(
        auth=AkSkAuth("AKEXAMPLE", SECRET_SK),
        endpoint_for=lambda region: "ftp://admin:hunter2@dms.example",
    )
    try:
        error = await raised_by(client, list_tasks)
    finally:
        await client.aclose()
    problem = problem_for(error)
    assert problem.summary == "The DMS API address ftp://dms.example is not a usable http(s) URL."
    assert problem.hint == "An admin should check DMS_ENDPOINT / DMS_REGION."


# ---- IAM tokens ----------------------------------------------------------------------------------


async def test_iam_refusal_names_the_iam_variables() -> None:
    client = make_client(TokenCheckingDms(), auth=iam_auth(FakeIam(status=401)))
    problem = problem_for(await raised_by(client, list_tasks))
    assert problem.summary == "Huawei Cloud IAM refused to issue a token for the bot (HTTP 401)."
    assert "DMS_IAM_PASSWORD" in problem.hint and "HUAWEICLOUD_SDK_PROJECT_ID" in problem.hint
    assert problem.reference == "IAM.0002"


async def test_a_rejected_token_names_the_iam_variables() -> None:
    dms = TokenCheckingDms(rejected=frozenset({"tok-1", "tok-2"}))
    problem = problem_for(await raised_by(make_client(dms, auth=iam_auth(FakeIam())), list_tasks))
    assert problem.summary == "Huawei Cloud rejected the bot's IAM token."
    assert "DMS_IAM_USERNAME" in problem.hint


async def test_iam_outage_says_iam_and_how_often() -> None:
    client = make_client(TokenCheckingDms(), auth=iam_auth(FakeIam(status=503)))
    problem = problem_for(await raised_by(client, list_tasks))
    assert problem.summary == "Huawei Cloud IAM answered HTTP 503 to a token request."
    assert problem.hint.startswith("The bot tried 4 times. Try again in a few minutes")


async def test_iam_out_of_reach_names_its_endpoint_setting() -> None:
    def unreachable(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused")

    auth = iam_auth(FakeIam())
    auth._http = httpx.AsyncClient(transport=httpx.MockTransport(unreachable))
    problem = problem_for(await raised_by(make_client(lambda r: OK, auth=auth), list_tasks))
    assert problem.summary == "Huawei Cloud IAM could not be reached for a token (ConnectError)."
    assert "DMS_IAM_ENDPOINT" in problem.hint


# ---- errors built by hand (as other layers' tests do) --------------------------------------------


def test_an_error_with_few_facts_still_reads() -> None:
    error = DmsUnavailableError(operation=DmsOperation.LIST_TASKS, kind=DmsErrorKind.SERVER_ERROR)
    problem = problem_for(error)
    assert "None" not in problem.summary
    assert problem.summary == (
        "Huawei Cloud's DMS API answered with a server error when asked to read the background "
        "tasks of instance (unknown)."
    )
    assert problem.reference == ""


def test_reference_is_the_code_then_the_request_id() -> None:
    error = DmsUnavailableError(
        operation=DmsOperation.LIST_TASKS,
        kind=DmsErrorKind.SERVER_ERROR,
        error_code="DMS.00500000",
        request_id="req-5c3a9e",
    )
    assert reference(error) == "DMS.00500000, request req-5c3a9e"
