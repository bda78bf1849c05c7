"""AK/SK request signing (SDK-HMAC-SHA256) as an httpx.Auth.

The algorithm follows huaweicloudsdkcore's `signer.Signer` byte for byte (tests compare the two):
- canonical URI: each path segment unquoted, re-encoded with quote(seg, safe="~"), and a trailing
  "/" appended for signing only;
- canonical query: (key, value) pairs sorted, each side quote(..., safe="~"), joined by "&";
- canonical headers: every signed header lowercased and sorted, "name:value.strip()" lines, names
  containing "_" never signed;
- string to sign: "SDK-HMAC-SHA256\\n{X-Sdk-Date}\\n{hex(sha256(canonical request))}".
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Generator, Iterable, Mapping
from datetime import UTC, datetime
from urllib.parse import quote, unquote

import httpx

ALGORITHM = "SDK-HMAC-SHA256"
SDK_DATE_FORMAT = "%Y%m%dT%H%M%SZ"
EMPTY_BODY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

# The headers we sign. The gateway verifies exactly the headers listed in SignedHeaders, so we
# sign those that carry meaning and leave transport headers (Accept-Encoding, Connection,
# User-Agent) out: a proxy that rewrites them must not break the signature.
SIGNED_HEADER_NAMES = ("content-type", "host", "x-project-id", "x-sdk-date", "x-security-token")


def _encode(text: str) -> str:
    return quote(text, safe="~")


def canonical_uri(path: str) -> str:
    uri = "/".join(_encode(segment) for segment in unquote(path).split("/"))
    return uri if uri.endswith("/") else uri + "/"


def canonical_query(pairs: Iterable[tuple[str, str]]) -> str:
    return "&".join(f"{_encode(k)}={_encode(v)}" for k, v in sorted(pairs))


def signed_header_names(headers: Mapping[str, str]) -> list[str]:
    return sorted(name.lower() for name in headers if "_" not in name)


def canonical_request(
    method: str,
    path: str,
    query: Iterable[tuple[str, str]],
    headers: Mapping[str, str],
    body: bytes,
) -> tuple[str, list[str]]:
    """The canonical request text and the signed header names, as the official Signer builds."""
    lowered = {name.lower(): str(value).strip() for name, value in headers.items()}
    names = signed_header_names(headers)
    header_block = "".join(f"{name}:{lowered[name]}\n" for name in names)
    body_hash = hashlib.sha256(body).hexdigest() if body else EMPTY_BODY_SHA256
    text = "\n".join(
        [
            method.upper(),
            canonical_uri(path),
            canonical_query(query),
            header_block,
            ";".join(names),
            body_hash,
        ]
    )
    return text, names


def signature(sk: str, sdk_date: str, canonical: str) -> str:
    digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    string_to_sign = f"{ALGORITHM}\n{sdk_date}\n{digest}"
    return hmac.new(sk.encode("utf-8"), string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


def authorization_header(
    ak: str,
    sk: str,
    method: str,
    path: str,
    query: Iterable[tuple[str, str]],
    headers: Mapping[str, str],
    body: bytes = b"",
) -> str:
    """The Authorization value for a request whose headers already hold X-Sdk-Date."""
    sdk_date = next(v for k, v in headers.items() if k.lower() == "x-sdk-date")
    canonical, names = canonical_request(method, path, query, headers, body)
    sig = signature(sk, str(sdk_date).strip(), canonical)
    return f"{ALGORITHM} Access={ak}, SignedHeaders={';'.join(names)}, Signature={sig}"


def parse_authorization(value: str) -> tuple[str, list[str], str] | None:
    """(access key, signed header names, signature) from an Authorization value, or None."""
    if not value.startswith(ALGORITHM + " "):
        return None
    fields: dict[str, str] = {}
    for part in value[len(ALGORITHM) + 1 :].split(","):
        key, sep, val = part.strip().partition("=")
        if not sep:
            return None
        fields[key] = val
    try:
        return fields["Access"], fields["SignedHeaders"].split(";"), fields["Signature"]
    except KeyError:
        return None


class AkSkAuth(httpx.Auth):
    """Signs every request with AK/SK; adds X-Project-Id and, for temporary credentials,
    X-Security-Token."""

    def __init__(
        self,
        ak: str,
        sk: str,
        *,
        security_token: str | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._ak = ak
        self._sk = sk
        self._security_token = security_token
        self._clock = clock

    def __repr__(self) -> str:
        # Never let the secret key reach a log line through a repr.
        return f"AkSkAuth(ak={self._ak[:4]}…)"

    def redactions(self) -> tuple[str, ...]:
        """What an error must never quote, should the API echo it back."""
        return (self._ak, self._sk, self._security_token or "")

    def sign(self, request: httpx.Request) -> None:
        request.headers["X-Sdk-Date"] = self._clock().astimezone(UTC).strftime(SDK_DATE_FORMAT)
        request.headers.setdefault("Content-Type", "application/json")
        if self._security_token:
            request.headers["X-Security-Token"] = self._security_token
        to_sign = {
            name: value
            for name, value in request.headers.items()
            if name.lower() in SIGNED_HEADER_NAMES
        }
        request.headers["Authorization"] = authorization_header(
            self._ak,
            self._sk,
            request.method,
            # The path as sent: canonical_uri decodes it once, as the gateway and the official
            # Signer do; httpx's decoded .path would be decoded twice ("%2541" -> "A").
            request.url.raw_path.split(b"?", 1)[0].decode("ascii"),
            request.url.params.multi_items(),
            to_sign,
            request.content,
        )

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        self.sign(request)
        yield request
