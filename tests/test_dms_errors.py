"""What DMS errors are made of: a short plain description, no secrets in their text or repr, and a
bot/dms package that neither words advice nor imports anything outside its layer."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import httpx
import pytest

from bot.dms.auth import AkSkAuth
from bot.dms.client import DmsClient
from bot.dms.errors import (
    DmsAuthError,
    DmsEndpointError,
    DmsError,
    DmsErrorKind,
    DmsOperation,
    DmsUnavailableError,
    public_endpoint,
)
from bot.messages import problem_for
from tests.test_client_unit import (
    OK,
    REF,
    SECRET_SK,
    FakeIam,
    Script,
    error_response,
    iam_auth,
    json_response,
    make_client,
)

DMS_PACKAGE = Path(__file__).resolve().parent.parent / "bot" / "dms"


def everything_shown(error: DmsError) -> str:
    """Every text an error can end up in: str, repr and its wording."""
    problem = problem_for(error)
    return " ".join((str(error), repr(error), problem.summary, problem.hint))


async def caught(client: DmsClient) -> DmsError:
    try:
        with pytest.raises(DmsError) as raised:
            await client.list_tasks(REF)
    finally:
        await client.aclose()
    return raised.value


# ---- the plain description ---------------------------------------------------------------------


def test_str_is_a_short_plain_description_without_advice() -> None:
    error = DmsAuthError(
        operation=DmsOperation.LIST_TASKS,
        kind=DmsErrorKind.CREDENTIALS_REJECTED,
        status=401,
        error_code="APIGW.0301",
        request_id="5c3a9e",
        instance_id="inst-1",
    )
    assert str(error) == (
        "DMS list tasks failed: credentials rejected (HTTP 401, APIGW.0301, request 5c3a9e) "
        "for instance inst-1"
    )
    assert not error.retried


def test_str_names_the_endpoint_when_nothing_narrower_is_known() -> None:
    error = DmsEndpointError(
        operation=DmsOperation.IAM_TOKEN,
        kind=DmsErrorKind.UNUSABLE_URL,
        endpoint="ftp://iam.example",
        attempts=3,
    )
    assert str(error) == (
        "DMS IAM token failed: unusable endpoint URL (3 attempts) at ftp://iam.example"
    )
    assert error.retried


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://dms.cn-north-4.myhuaweicloud.com", "https://dms.cn-north-4.myhuaweicloud.com"),
        ("ftp://admin:hunter2@host/v2/x?start=1", "ftp://host"),
        ("https://user:p%40ss@dms.example:8443/", "https://dms.example:8443"),
        ("admin:hunter2@dms.example/v2", "dms.example"),
    ],
)
def test_public_endpoint_drops_user_info_path_and_query(url: str, shown: str) -> None:
    assert public_endpoint(url) == shown


# ---- secrets -----------------------------------------------------------------------------------


async def test_credentials_the_api_quotes_back_are_redacted() -> None:
    answer = json_response(
        401,
        {
            "error_code": "APIGW.0301",
            "error_msg": f"signature of AKEXAMPLE with {SECRET_SK} does not match",
            "request_id": "req-1",
        },
    )
    error = await caught(make_client(Script(answer)))
    assert error.error_msg == "signature of *** with *** does not match"
    shown = everything_shown(error)
    assert SECRET_SK not in shown and "AKEXAMPLE" not in shown


async def test_a_security_token_quoted_back_is_redacted() -> None:
    auth = AkSkAuth("AKEXAMPLE", SECRET_SK, security_token="temporary-security-token")
    answer = error_response(401, "APIGW.0301", "bad token temporary-security-token")
    error = await caught(make_client(Script(answer), auth=auth))
    assert "temporary-security-token" not in everything_shown(error)


@pytest.mark.parametrize(
    "answer",
    [error_response(500, "DMS.00500000"), error_response(404, "APIGW.0101")],
)
async def test_a_password_in_the_endpoint_url_never_shows(answer: httpx.Response) -> None:
    client = DmsClient(
        auth=AkSkAuth("AKEXAMPLE", SECRET_SK),
        endpoint_for=lambda region: "https://admin:hunter2@dms.example",
        http=httpx.AsyncClient(transport=httpx.MockTransport(Script(answer))),
        sleep=_no_sleep,
    )
    error = await caught(client)
    assert error.endpoint == "https://dms.example"
    assert "hunter2" not in everything_shown(error)


async def test_an_unusable_url_with_a_password_never_shows_it() -> None:
    client = DmsClient(
        auth=AkSkAuth("AKEXAMPLE", SECRET_SK),
        endpoint_for=lambda region: "ftp://admin:hunter2@host",
    )
    error = await caught(client)
    assert isinstance(error, DmsEndpointError) and error.kind is DmsErrorKind.UNUSABLE_URL
    assert error.endpoint == "ftp://host"
    assert "hunter2" not in everything_shown(error)
    assert error.__cause__ is not None and "hunter2" not in str(error.__cause__)


async def test_iam_passwords_and_tokens_quoted_back_are_redacted() -> None:
    class EchoingIam(FakeIam):
        async def __call__(self, request: httpx.Request) -> httpx.Response:
            await super().__call__(request)
            return json_response(
                401, {"error": {"code": "IAM.0002", "message": "bad password p@ssw0rd-secret"}}
            )

    client = make_client(lambda r: OK, auth=iam_auth(EchoingIam()))
    error = await caught(client)
    assert error.operation is DmsOperation.IAM_TOKEN
    assert error.error_msg == "bad password ***"
    assert "p@ssw0rd-secret" not in everything_shown(error)

    def echo_token(request: httpx.Request) -> httpx.Response:
        token = request.headers["X-Auth-Token"]
        return error_response(401, "DMS.10240102", f"token {token} expired")

    error = await caught(make_client(echo_token, auth=iam_auth(FakeIam())))
    assert error.kind is DmsErrorKind.TOKEN_REJECTED
    shown = everything_shown(error)
    assert "tok-1" not in shown and "tok-2" not in shown


def test_redact_leaves_the_operation_and_kind_alone() -> None:
    error = DmsUnavailableError(
        operation=DmsOperation.LIST_TASKS,
        kind=DmsErrorKind.SERVER_ERROR,
        error_msg="server error for list tasks",
    )
    error.redact(["list tasks", "ab"])
    assert error.operation is DmsOperation.LIST_TASKS
    assert error.kind is DmsErrorKind.SERVER_ERROR
    assert error.error_msg == "server error for ***"


# ---- the layer's rules ---------------------------------------------------------------------------


def test_bot_dms_names_no_settings_and_gives_no_advice() -> None:
    for path in sorted(DMS_PACKAGE.glob("*.py")):
        text = path.read_text()
        for word in ("HUAWEICLOUD_SDK_", "DMS_ENDPOINT", "DMS_REGION", "DMS_IAM_", "An admin"):
            assert word not in text, f"{path.name} mentions {word}"


def test_bot_dms_imports_only_the_domain_its_own_modules_and_libraries() -> None:
    # cachetools: the result store of bot/dms/cache.py.
    allowed_third_party = {"httpx", "pydantic", "cachetools"}
    for path in sorted(DMS_PACKAGE.glob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                ok = (
                    name.startswith(("bot.dms", "bot.domain"))
                    or top in allowed_third_party
                    or top in sys.stdlib_module_names
                    or top == "__future__"
                )
                assert ok, f"{path.name} imports {name}"


async def _no_sleep(delay: float) -> None:
    return None
