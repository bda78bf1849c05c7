"""The gateway's side of AK/SK authentication (SDK-HMAC-SHA256): rebuild the canonical request
from what arrived, sign it with the secret key the access key names, compare.

Written from the algorithm as huaweicloudsdkcore's `Signer` defines it, not from the bot's
signer: the cloud stand-in must not share code with the client it checks, or a bug on one side
would be mirrored on the other and go unseen.

- canonical request: METHOD, URI, query, header block, signed header names, hex(sha256(body)),
  joined by newlines;
- URI: the path as sent, decoded once, each segment re-encoded with quote(seg, safe="~"), and a
  trailing "/" even when the request had none;
- query: decoded (name, value) pairs sorted, each side re-encoded the same way, joined by "&";
- header block: one "name:value" line per signed header (name lowercased, value stripped), in
  the order SignedHeaders lists them, each line ending in a newline;
- string to sign: "SDK-HMAC-SHA256\\n{X-Sdk-Date}\\n{hex(sha256(canonical request))}", signed
  with HMAC-SHA256 under the secret key.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote, unquote

ALGORITHM = "SDK-HMAC-SHA256"
SDK_DATE_FORMAT = "%Y%m%dT%H%M%SZ"
_EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


class SignatureRejected(Exception):
    """The request's AK/SK authentication does not hold; the message says why."""


@dataclass(frozen=True)
class Authorization:
    """The parts of an `Authorization: SDK-HMAC-SHA256 Access=…, SignedHeaders=…, Signature=…`."""

    access_key: str
    signed_headers: tuple[str, ...]
    signature: str


def read_authorization(value: str) -> Authorization | None:
    """The Authorization value's parts, or None when it is not an SDK-HMAC-SHA256 one."""
    scheme, _, rest = value.strip().partition(" ")
    if scheme != ALGORITHM:
        return None
    parts: dict[str, str] = {}
    for item in rest.split(","):
        key, sep, val = item.strip().partition("=")
        if not sep:
            return None
        parts[key] = val
    if not {"Access", "SignedHeaders", "Signature"} <= parts.keys():
        return None
    # "a;;b" and a trailing ";" carry no header: the names that remain are what counts.
    names = tuple(n for n in parts["SignedHeaders"].split(";") if n)
    return Authorization(parts["Access"], names, parts["Signature"])


def _encode(text: str) -> str:
    return quote(text, safe="~")


def canonical_path(raw_path: str) -> str:
    encoded = "/".join(_encode(segment) for segment in unquote(raw_path).split("/"))
    return encoded if encoded.endswith("/") else encoded + "/"


def canonical_query(pairs: Iterable[tuple[str, str]]) -> str:
    return "&".join(_encode(name) + "=" + _encode(value) for name, value in sorted(pairs))


def canonical_request(
    method: str,
    raw_path: str,
    query: Iterable[tuple[str, str]],
    signed: Iterable[tuple[str, str]],
    body: bytes,
) -> str:
    """The canonical request of a request; `signed` holds (lowercase name, value) of each signed
    header in SignedHeaders order."""
    signed = list(signed)
    block = "".join(f"{name}:{value.strip()}\n" for name, value in signed)
    body_hash = hashlib.sha256(body).hexdigest() if body else _EMPTY_SHA256
    return "\n".join(
        (
            method.upper(),
            canonical_path(raw_path),
            canonical_query(query),
            block,
            ";".join(name for name, _ in signed),
            body_hash,
        )
    )


def expected_signature(secret_key: str, sdk_date: str, canonical: str) -> str:
    digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    to_sign = f"{ALGORITHM}\n{sdk_date}\n{digest}".encode()
    return hmac.new(secret_key.encode("utf-8"), to_sign, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Verifier:
    """What the gateway knows: each access key's secret key, the security token temporary
    credentials must carry, and how far a request's clock may be from its own."""

    credentials: Mapping[str, str]
    security_tokens: Mapping[str, str]
    max_clock_skew_s: int

    def verify(
        self,
        method: str,
        raw_path: str,
        query: Iterable[tuple[str, str]],
        header: Callable[[str], str | None],
        body: bytes,
        now: datetime,
    ) -> str:
        """The access key that signed the request; raises SignatureRejected otherwise.

        `header` looks a header up by name, case-insensitively, as received."""
        raw = header("Authorization")
        if not raw:
            raise SignatureRejected("Authorization header is missing")
        auth = read_authorization(raw)
        if auth is None:
            raise SignatureRejected("Authorization header is malformed")
        secret_key = self.credentials.get(auth.access_key)
        if secret_key is None:
            raise SignatureRejected("the access key is unknown")
        names = auth.signed_headers
        # Without a signed date a captured request could be replayed forever.
        if "x-sdk-date" not in names:
            raise SignatureRejected("X-Sdk-Date must be signed")
        sdk_date = (header("X-Sdk-Date") or "").strip()
        try:
            sent_at = datetime.strptime(sdk_date, SDK_DATE_FORMAT).replace(tzinfo=UTC)
        except ValueError:
            raise SignatureRejected(
                "X-Sdk-Date is missing or not in yyyyMMddTHHmmssZ form"
            ) from None
        if abs((now - sent_at).total_seconds()) > self.max_clock_skew_s:
            raise SignatureRejected(
                "the request time differs from the server time by more than 15 min"
            )
        signed: list[tuple[str, str]] = []
        for name in names:
            value = header(name)
            if value is None:
                raise SignatureRejected(f"signed header {name} is missing")
            signed.append((name, value))
        canonical = canonical_request(method, raw_path, query, signed, body)
        wanted = expected_signature(secret_key, sdk_date, canonical)
        # The signer sorts the names; a list in another order was not made by it.
        in_order = list(names) == sorted(names)
        if not (hmac.compare_digest(wanted, auth.signature) and in_order):
            raise SignatureRejected("verify aksk signature fail")
        token = self.security_tokens.get(auth.access_key)
        if token is not None and (
            "x-security-token" not in names or header("X-Security-Token") != token
        ):
            raise SignatureRejected("the security token is missing or wrong")
        return auth.access_key
