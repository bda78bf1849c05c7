"""What people paste into the command: Slack's formatting and link syntax, typographic dashes,
mentions, and Huawei Cloud console links that name an instance. Pure string work."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from bot.grammar.words import _INVISIBLE

# An en dash in "09:00–11:00", an em dash in "prod—orders", a minus sign: all mean "-".
_DASHES = str.maketrans(dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2015\u2212", "-"))
# Slack's <url>, <url|label>, <mailto:a@b|a@b>, <@U123>, <#C123|name>, <!here>.
_ANGLE = re.compile(r"<([^<>\s|][^<>|]*)(?:\|([^<>]*))?>")
_SCHEME = re.compile(r"https?://", re.I)
# *bold*, _italic_, ~strike~, `code` and ```blocks``` around one word or several.
_MARK = re.compile(r"(?<!\S)(```|[*_~`])(?=\S)(.+?)(?<=\S)\1(?=[,;:.!?]*(?:\s|$))")
_MENTION = re.compile(r"<[@#!][^<>\s]*>")

_HOSTS = ("huaweicloud.com", "myhuaweicloud.com", "huaweicloud.eu", "myhuaweicloud.eu")
_BARE_CONSOLE = re.compile(r"[a-z0-9.-]*huaweicloud\.(?:com|eu)(?:[:/?#]|$)", re.I)
_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
_ID_PARAM = re.compile(rf"instance_?id=({_UUID})(?![0-9a-f])", re.I)
_ID_PATH = re.compile(rf"/(?:detail|instances?)/({_UUID})(?![0-9a-f])", re.I)
_ANY_ID = re.compile(rf"(?<![0-9a-f]){_UUID}(?![0-9a-f])", re.I)


def prepare(text: str) -> str:
    """The text as the user meant it: invisible characters dropped (they would make a name differ
    from what the user sees), dashes made hyphens, Slack's link syntax unwrapped and formatting
    marks taken off. Slack's entities (&amp; &lt; &gt;) are already undone at the Slack edge."""
    text = text.translate(_INVISIBLE).translate(_DASHES)
    text = _ANGLE.sub(_unwrap, text)
    for _ in range(4):  # nested marks: *_prod-orders_*
        stripped = _MARK.sub(r"\2", text)
        if stripped == text:
            break
        text = stripped
    return text


def _unwrap(m: re.Match[str]) -> str:
    inner, label = m[1], m[2]
    if _SCHEME.match(inner):
        return inner
    if inner.lower().startswith("mailto:"):
        return label if label and not any(c.isspace() for c in label) else inner[7:]
    if inner[0] in "@#!" and label is not None and any(c.isspace() for c in label):
        # One word, so that the mention is one token the parser can name and drop.
        return f"<{inner}>"
    return m[0]


def is_mention(text: str) -> bool:
    return _MENTION.fullmatch(text) is not None


@dataclass(frozen=True)
class Link:
    """A pasted URL: the instance id it holds, or why it holds none."""

    instance_id: str | None
    problem: str = ""


def read_link(text: str) -> Link | None:
    """A Huawei Cloud console link names its instance in `instanceId=<id>` or in a path such as
    `/kafka/detail/<id>/`; the id comes back lower-case. None when `text` is not a link."""
    if not (_SCHEME.match(text) or _BARE_CONSOLE.match(text)):
        return None
    try:
        parts = urlsplit(text if _SCHEME.match(text) else "https://" + text)
        host = (parts.hostname or "").lower()
    except ValueError:
        return Link(None, "isn't a link I can read")
    if not any(host == h or host.endswith("." + h) for h in _HOSTS):
        return Link(None, "isn't a Huawei Cloud console link")
    rest = text[text.lower().find(host) + len(host) :]
    for pattern in (_ID_PARAM, _ID_PATH):
        found = {m[1].lower() for m in pattern.finditer(rest)}
        if len(found) == 1:
            return Link(found.pop())
    found = {m[0].lower() for m in _ANY_ID.finditer(rest)}
    if len(found) == 1:
        return Link(found.pop())
    if found:
        return Link(None, "holds several ids, and I can't tell which is the instance")
    return Link(None, "holds no instance id")
