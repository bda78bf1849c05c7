"""Answers in the DMS shape: JSON bodies, and errors as status, error_code, error_msg."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web


class ApiError(Exception):
    """An error answer in the DMS shape: status, error_code, error_msg."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}")
        self.status = status
        self.code = code
        self.message = message


def json_response(data: Any, status: int = 200) -> web.Response:
    return web.Response(
        status=status,
        # Non-ASCII task names go out as UTF-8 bytes, so a client's decoding gets exercised.
        body=json.dumps(data, ensure_ascii=False).encode("utf-8"),
        content_type="application/json",
        charset="utf-8",
    )


def error_response(
    err: ApiError, request_id: str, headers: dict[str, str] | None = None
) -> web.Response:
    # The gateway repeats the request id in the body: support asks for it.
    response = json_response(
        {"error_code": err.code, "error_msg": err.message, "request_id": request_id}, err.status
    )
    if headers:
        response.headers.update(headers)
    return response
