"""Hiding secrets in task params before anything is shown.

DMS task params are free-form JSON written by the console and the API: SASL users get created with
passwords, connectors carry access keys, JAAS configs hold `password="..."`. Any of it may end up
in a Slack channel, so every value under a key that looks secret is masked, at any depth.

The rule for "looks secret" (`is_secret_key`):

1. The key is split into words: at every character that is not a letter or digit (`_ - . /` and
   spaces), at lower→upper camelCase steps, before the last capital of a capital run followed by a
   lower-case letter (`APIKey` → `API`, `Key`) and between letters and digits. Words are compared
   lower-cased.
2. A word equal to one of `key keys sk ak password passwd pwd pass pw passphrase secret token
   credential credentials jaas private apikey apikeys accesskey secretkey privatekey
   authorization` makes the key secret.
3. A word *containing* `password`, `passwd`, `secret`, `token`, `credential` or `private` makes
   it secret too (`sslpassword`, `tokens`).
4. `sasl` alone (the key `sasl`, which may hold a whole SASL setup) is secret; next to other
   words it is not: `sasl_mechanism` and `sasl_username` are what an on-call engineer needs to
   see, while `sasl_password` and `sasl.jaas.config` are secret by rules 2 and 3.

So `access_key`, `secret_key`, `api_key`, `apiKey`, `sk`, `ak`, `ssl_key`, `SASL_PASSWORD` are
secret, while `monkey`, `task`, `disk`, `broker_ask`, `skip`, `keyword` are not: the short words
`key`, `sk` and `ak` only count as whole words.

Values that are `true`, `false` or `null` are kept even under a secret key: they cannot carry a
secret, and "sasl_enabled: true" is what the reader came to see.

Kafka config changes often arrive as name/value entries (`{"name": "ssl.keystore.password",
"value": "..."}`): in a dict that has both a name field (`key`, or a key ending in the word
`name`) and a value field (a key with the word `value`), the name field is shown as is and the
value fields are masked when the *name* looks secret.

In text, passwords in URLs (`scheme://user:password@host`) and `Bearer`/`Basic` credentials are
masked too, and `key value` pairs count as on a command line (`--password x`).
"""

from __future__ import annotations

import json
import re
from typing import Any

from bot.labels import split_words

REDACTED = "••••••"

_EXACT_WORDS = frozenset(
    {
        "key",
        "sk",
        "ak",
        "password",
        "passwd",
        "pwd",
        "secret",
        "token",
        "credential",
        "credentials",
        "jaas",
        "private",
        "apikey",
        "accesskey",
        "secretkey",
        "privatekey",
        # Plurals and short forms seen in connector and client configs.
        "keys",
        "apikeys",
        "pass",
        "pw",
        "passphrase",
        "authorization",
    }
)
_CONTAINED_WORDS = ("password", "passwd", "secret", "token", "credential", "private")


def _is_name_field(key: Any) -> bool:
    """`name`, `key`, `config_name`, `paramName`: the field that names a name/value entry."""
    words = key_words(str(key))
    return bool(words) and (words == ["key"] or words[-1] == "name")


def _is_value_field(key: Any) -> bool:
    """`value`, `new_value`, `current_value`, `configValue`: the value of a name/value entry."""
    return any(w in ("value", "values") for w in key_words(str(key)))


def key_words(key: str) -> list[str]:
    """`sasl_plainPassword` -> ["sasl", "plain", "password"]; `APIKey` -> ["api", "key"]."""
    return [w.lower() for w in split_words(key)]


def is_secret_key(key: str) -> bool:
    words = key_words(str(key))
    if words == ["sasl"]:
        return True
    for word in words:
        if word in _EXACT_WORDS:
            return True
        if any(part in word for part in _CONTAINED_WORDS):
            return True
    return False


def _mask(value: Any) -> Any:
    # A whole object under a secret key (`"credentials": {...}`) is hidden in one piece.
    if value is None or isinstance(value, bool):
        return value
    return REDACTED


def _name_value_secret(entry: dict[Any, Any]) -> bool | None:
    """For a name/value entry: whether its name looks secret; None if it is no such entry."""
    names = [v for k, v in entry.items() if _is_name_field(k) and isinstance(v, str)]
    if not names or not any(_is_value_field(k) for k in entry):
        return None
    return any(is_secret_key(n) for n in names)


def redact(value: Any) -> Any:
    """A deep copy of `value` with every secret masked (see the module docstring for the rule)."""
    if isinstance(value, dict):
        named_secret = _name_value_secret(value)
        result: dict[Any, Any] = {}
        for k, v in value.items():
            if named_secret is not None and _is_name_field(k) and isinstance(v, str):
                result[k] = v
            elif (named_secret and _is_value_field(k)) or is_secret_key(str(k)):
                result[k] = _mask(v)
            else:
                result[k] = redact(v)
        return result
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    if isinstance(value, str):
        return _redact_string(value)
    return value


def _redact_string(text: str) -> str:
    stripped = text.strip()
    # Params nest JSON inside strings (the API's own `params` field is one); look inside those.
    if stripped[:1] in ("{", "[") and stripped[-1:] in ("}", "]"):
        try:
            inner = json.loads(stripped)
        except ValueError:
            pass
        else:
            return json.dumps(redact(inner), ensure_ascii=False)
    return redact_text(text)


# The look-behind makes a key start only where a run of key characters starts: without it the
# search retries inside every long run (a 50 KB blob) and takes quadratic time.
# The separator may be `=`, `:` (also full-width) or, as on a command line (`--password x`),
# plain whitespace; masking a word of prose after "password" is the safe mistake.
_KEY_AND_SEPARATOR = re.compile(
    r"""(?<![A-Za-z0-9_.\-])(?P<kq>["']?)(?P<key>[A-Za-z0-9_.\-]+)(?P=kq)"""
    r"""(?P<sep>\s*[:=：]\s*|[ \t]+)"""
)
# Credentials that carry no key: `scheme://user:password@host` and `Bearer <token>`.
_URL_PASSWORD = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.\-]*://[^:/@\s]+:)[^@/\s]+(?=@)")
_AUTH_SCHEME = re.compile(r"(?P<head>\b(?:Bearer|Basic)\s+)[A-Za-z0-9._~+/=\-]+", re.IGNORECASE)
_UNQUOTED_END = re.compile(r"""[\s,;&}\])"']""")
_CLOSERS = {"{": "}", "[": "]"}


def _value_end(text: str, start: int) -> int:
    """Where the value starting at `start` ends: its closing quote or bracket (nesting and
    quoted strings respected), or, unquoted, the first separator. The end of the text if the
    value was cut short."""
    if start >= len(text):
        return start
    opener = text[start]
    if opener in ('"', "'"):
        index = start + 1
        while index < len(text):
            if text[index] == "\\":
                index += 2
                continue
            if text[index] == opener:
                return index + 1
            index += 1
        return len(text)
    if opener in _CLOSERS:
        stack: list[str] = []
        index = start
        while index < len(text):
            char = text[index]
            if char in ('"', "'"):
                index = _value_end(text, index)
                continue
            if char in _CLOSERS:
                stack.append(_CLOSERS[char])
            elif stack and char == stack[-1]:
                stack.pop()
                if not stack:
                    return index + 1
            index += 1
        return len(text)
    found = _UNQUOTED_END.search(text, start)
    return found.start() if found else len(text)


def redact_text(text: str) -> str:
    """Mask the values of `key=value`, `key: value` and `"key": "value"` pairs with secret keys.

    For params that are not JSON (or JSON cut short): pairs are found by shape. A value runs to
    its closing quote or bracket, or, unquoted, to whitespace or one of `, ; & } ] ) " '`. A value
    cut short runs to the end of the text, so a truncated secret is masked too.
    """
    text = _URL_PASSWORD.sub(rf"\g<head>{REDACTED}", text)
    text = _AUTH_SCHEME.sub(rf"\g<head>{REDACTED}", text)
    out: list[str] = []
    position = 0
    for match in _KEY_AND_SEPARATOR.finditer(text):
        if match.start() < position or not is_secret_key(match.group("key")):
            continue
        value_start = match.end()
        value_end = _value_end(text, value_start)
        value = text[value_start:value_end]
        if not value or value in ("true", "false", "null") or value.startswith(REDACTED):
            continue
        quote = value[0] if value[0] in ('"', "'") else ""
        out.append(text[position:value_start])
        out.append(f"{quote}{REDACTED}{quote}")
        position = value_end
    out.append(text[position:])
    return "".join(out)
