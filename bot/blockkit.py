"""Block Kit limits, mrkdwn escaping, safe shortening, the building blocks of a message, and a
checker for finished messages.

Slack rejects a whole message (`invalid_blocks`) when one limit is broken, and the user then sees
nothing at all. `check_message` runs every block through slack_sdk's models and adds what they
leave out.

slack_sdk 3.48 (`models/blocks`) checks on `to_dict()`: block_id <= 255; section text <= 3000 and
fields <= 10; header text <= 150; context <= 10 elements; actions <= 25 elements; button text
<= 75, value <= 2000, url <= 3000 and style; action_id <= 255. It does *not* check: blocks per
message (50), the length of each section field (2000), empty texts, uniqueness of block and action
ids; it silently drops keys it does not know and skips unknown block types with a log warning.
Those are checked here. Lengths are measured in UTF-16 code units, never less than the
code-point count slack_sdk uses, so a text that passes here passes there and in Slack's counting.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Iterable, Iterator
from typing import Any

from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block

log = logging.getLogger(__name__)

# ---- limits (docs.slack.dev Block Kit reference; * = slack_sdk does not check it) -------------
MAX_BLOCKS = 50  # *
MAX_SECTION_TEXT = 3000
MAX_SECTION_FIELDS = 10
MAX_FIELD_TEXT = 2000  # *
MAX_HEADER_TEXT = 150
MAX_CONTEXT_ELEMENTS = 10
MAX_ACTIONS_ELEMENTS = 25
MAX_BUTTON_TEXT = 75
MAX_BUTTON_VALUE = 2000
MAX_BUTTON_URL = 3000
MAX_ID = 255  # action_id and block_id; uniqueness is checked here *
# chat.postMessage truncates `text` beyond 40,000 characters; a notification needs far less.
MAX_MESSAGE_TEXT = 40_000
# chat.postMessage refuses blocks whose text adds up to more than about 12,000 characters
# (`msg_blocks_too_long`, undocumented; bolt-js#2509). Messages we post stay under this, with a
# margin; respond() is not known to have the limit.
MAX_POSTED_BLOCKS_TEXT = 11_000
FALLBACK_TEXT_LIMIT = 3000

ELLIPSIS = "…"

# Characters that attach to the one before them: cutting between the two would leave a bare
# accent, a broken emoji sequence or a lone skin-tone modifier.
_JOINERS = {"\u200d", "\u20e3"}


class InvalidMessage(Exception):
    """The message would be rejected by Slack (or silently mangled by it)."""


class MessageTooLarge(InvalidMessage):
    """A count or length limit is exceeded."""


def slack_len(text: str) -> int:
    """Length in UTF-16 code units: an emoji outside the BMP counts 2."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def _attaches_to_previous(char: str) -> bool:
    code = ord(char)
    return (
        unicodedata.combining(char) != 0
        or char in _JOINERS
        or 0xFE00 <= code <= 0xFE0F  # variation selectors
        or 0x1F3FB <= code <= 0x1F3FF  # emoji skin-tone modifiers
        or 0xE0020 <= code <= 0xE007F  # emoji tag sequences (flags of regions)
        or 0xDC00 <= code <= 0xDFFF  # the low half of a surrogate pair kept as two code points
    )


_ENTITY_PREFIX = re.compile(r"&[a-z]{0,3}$")


def _safe_cut(text: str, end: int) -> str:
    """text[:end], moved left so that it ends on a whole character, entity and Slack token."""
    # A zero-width joiner binds both neighbours, so a cut just after one moves left as well.
    while 0 < end < len(text) and (_attaches_to_previous(text[end]) or text[end - 1] == "\u200d"):
        end -= 1
    head = text[:end]
    if head and 0xD800 <= ord(head[-1]) <= 0xDBFF:
        head = head[:-1]
    # `&amp;` cut to `&am` would show as literal text, and a cut `<#C123|` token as raw markup.
    partial_entity = _ENTITY_PREFIX.search(head)
    if partial_entity and text.startswith(("&amp;", "&lt;", "&gt;"), partial_entity.start()):
        head = head[: partial_entity.start()]
    open_token = head.rfind("<")
    if open_token != -1 and ">" not in head[open_token:]:
        head = head[:open_token]
    return head


def truncate(text: str, limit: int, *, suffix: str = ELLIPSIS) -> str:
    """Shorten `text` to at most `limit` UTF-16 units, ending with `suffix` when it was cut.

    Never splits a character (surrogate pair, base + combining mark, emoji sequence), an HTML
    entity (`&amp;`) or a Slack `<...>` token.
    """
    if slack_len(text) <= limit:
        return text
    room = limit - slack_len(suffix)
    if room <= 0:
        return _safe_cut(suffix, _fit_prefix(suffix, limit))
    return _safe_cut(text, _fit_prefix(text, room)).rstrip() + suffix


def _fit_prefix(text: str, units: int) -> int:
    """The largest index i such that slack_len(text[:i]) <= units."""
    used = 0
    for index, char in enumerate(text):
        used += 2 if ord(char) > 0xFFFF else 1
        if used > units:
            return index
    return len(text)


def escape(text: str) -> str:
    """Escape text for mrkdwn so that it can never become a mention, link or channel token.

    Slack's message formatting docs: only &, < and > need escaping; `<!channel>`, `<@U..>` and
    `<url|label>` all start with `<`, so escaping it disarms every one of them.
    """
    # A lone surrogate (JSON allows "\\ud83d") cannot be sent as UTF-8: show U+FFFD instead.
    text = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def unescape(text: str) -> str:
    # &amp; last, so that a typed "&amp;lt;" comes back as "&lt;", not "<".
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


# A zero-width space between backticks keeps the text readable while stopping it from closing a
# code span or code block early.
_ZWSP = "\u200b"


def escape_code_block(text: str) -> str:
    """Escape text that goes between ``` fences: a ``` inside would end the block early."""
    return escape(text).replace("```", f"`{_ZWSP}`{_ZWSP}`")


def escape_inline_code(text: str) -> str:
    """Escape text that goes between single backticks, where any backtick ends the span."""
    return escape(text).replace("`", "ˋ")


def code_block(body: str) -> str:
    """Wrap already-escaped text in a code block."""
    return f"```\n{body}\n```"


def strip_code_guards(text: str) -> str:
    return text.replace(_ZWSP, "")


# ---- the checker -----------------------------------------------------------------------------


def _text_of(obj: Any) -> str | None:
    if isinstance(obj, dict) and obj.get("type") in ("plain_text", "mrkdwn"):
        text = obj.get("text")
        return text if isinstance(text, str) else ""
    return None


def _check_text_object(obj: Any, where: str, limit: int | None) -> None:
    text = _text_of(obj)
    if text is None:
        raise InvalidMessage(f"{where}: not a text object: {obj!r:.200}")
    if not text.strip():
        # Slack: "must be more than 0 characters" (whitespace-only counts as empty).
        raise InvalidMessage(f"{where}: text is empty")
    if limit is not None and slack_len(text) > limit:
        raise MessageTooLarge(f"{where}: text is {slack_len(text)} characters (limit {limit})")


def _check_element(element: Any, where: str, action_ids: set[str]) -> None:
    if not isinstance(element, dict):
        raise InvalidMessage(f"{where}: not an object")
    kind = element.get("type")
    if kind in ("plain_text", "mrkdwn"):
        _check_text_object(element, where, None)
        return
    action_id = element.get("action_id")
    if action_id is not None:
        if not isinstance(action_id, str) or not action_id:
            raise InvalidMessage(f"{where}: action_id must be a non-empty string")
        if len(action_id) > MAX_ID:
            raise MessageTooLarge(f"{where}: action_id is {len(action_id)} chars (limit {MAX_ID})")
        if action_id in action_ids:
            raise InvalidMessage(f"{where}: action_id {action_id!r} is used twice in the message")
        action_ids.add(action_id)
    if kind == "button":
        _check_text_object(element.get("text"), f"{where} text", MAX_BUTTON_TEXT)
        value = element.get("value")
        if value is not None and slack_len(str(value)) > MAX_BUTTON_VALUE:
            raise MessageTooLarge(
                f"{where}: value is {slack_len(str(value))} chars (limit {MAX_BUTTON_VALUE})"
            )
        url = element.get("url")
        if url is not None and slack_len(str(url)) > MAX_BUTTON_URL:
            raise MessageTooLarge(f"{where}: url is {slack_len(str(url))} chars")


def _check_block(block: dict[str, Any], where: str, action_ids: set[str]) -> None:
    kind = block.get("type")
    if kind == "section":
        if "text" in block:
            _check_text_object(block["text"], f"{where} text", MAX_SECTION_TEXT)
        fields = block.get("fields") or []
        if len(fields) > MAX_SECTION_FIELDS:
            raise MessageTooLarge(f"{where}: {len(fields)} fields (limit {MAX_SECTION_FIELDS})")
        for n, field in enumerate(fields):
            _check_text_object(field, f"{where} field {n}", MAX_FIELD_TEXT)
        if "text" not in block and not fields:
            raise InvalidMessage(f"{where}: a section needs text or fields")
        if "accessory" in block:
            _check_element(block["accessory"], f"{where} accessory", action_ids)
    elif kind == "header":
        _check_text_object(block.get("text"), f"{where} text", MAX_HEADER_TEXT)
        if block["text"].get("type") != "plain_text":
            raise InvalidMessage(f"{where}: a header takes plain_text only")
    elif kind in ("context", "actions"):
        elements = block.get("elements") or []
        limit = MAX_CONTEXT_ELEMENTS if kind == "context" else MAX_ACTIONS_ELEMENTS
        if not elements:
            raise InvalidMessage(f"{where}: {kind} block has no elements")
        if len(elements) > limit:
            raise MessageTooLarge(f"{where}: {len(elements)} elements (limit {limit})")
        for n, element in enumerate(elements):
            _check_element(element, f"{where} element {n}", action_ids)


def _roundtrip(block: dict[str, Any], where: str) -> None:
    try:
        parsed = Block.parse(block)
        if parsed is None:
            raise InvalidMessage(f"{where}: unknown block type {block.get('type')!r}")
        again = parsed.to_dict()
    except SlackObjectFormationError as exc:
        raise InvalidMessage(f"{where}: {exc}") from exc
    except (TypeError, ValueError, AttributeError, KeyError) as exc:
        raise InvalidMessage(f"{where}: malformed: {exc}") from exc
    if again != block:
        # slack_sdk drops keys it does not know; a dropped key is a typo Slack would reject.
        raise InvalidMessage(f"{where}: slack_sdk does not read it back the same: {again!r:.300}")


def blocks_text_len(blocks: list[dict[str, Any]]) -> int:
    """What `msg_blocks_too_long` counts, as far as anyone can tell: the text of every block."""
    total = 0
    for block in blocks:
        for key in ("text", "title"):
            if isinstance(block.get(key), dict):
                total += slack_len(str(block[key].get("text", "")))
        for item in [*(block.get("fields") or []), *(block.get("elements") or [])]:
            if isinstance(item, dict):
                text = item.get("text")
                total += slack_len(
                    str(text.get("text", "") if isinstance(text, dict) else text or "")
                )
    return total


def check_posted_message(message: dict[str, Any]) -> None:
    """check_message, plus the total size chat.postMessage accepts."""
    check_message(message)
    size = blocks_text_len(message.get("blocks") or [])
    if size > MAX_POSTED_BLOCKS_TEXT:
        raise MessageTooLarge(f"the blocks hold {size} characters of text")


def check_message(message: dict[str, Any]) -> None:
    """Raise InvalidMessage (or MessageTooLarge) with the reason if Slack would reject `message`."""
    if not isinstance(message, dict):
        raise InvalidMessage("the message is not an object")
    text = message.get("text")
    if not isinstance(text, str) or not text.strip():
        raise InvalidMessage("top-level text is missing or empty (notifications need it)")
    if slack_len(text) > MAX_MESSAGE_TEXT:
        raise MessageTooLarge(f"top-level text is {slack_len(text)} characters")
    blocks = message.get("blocks", [])
    if not isinstance(blocks, list):
        raise InvalidMessage("blocks is not a list")
    if len(blocks) > MAX_BLOCKS:
        raise MessageTooLarge(f"{len(blocks)} blocks (limit {MAX_BLOCKS})")
    block_ids: set[str] = set()
    action_ids: set[str] = set()
    for n, block in enumerate(blocks):
        if not isinstance(block, dict):
            raise InvalidMessage(f"block {n} is not an object")
        where = f"block {n} ({block.get('type')}, {block.get('block_id')})"
        block_id = block.get("block_id")
        if block_id is not None:
            if not isinstance(block_id, str) or not block_id:
                raise InvalidMessage(f"{where}: block_id must be a non-empty string")
            if len(block_id) > MAX_ID:
                raise MessageTooLarge(
                    f"{where}: block_id is {len(block_id)} chars (limit {MAX_ID})"
                )
            if block_id in block_ids:
                raise InvalidMessage(f"{where}: block_id {block_id!r} is used twice")
            block_ids.add(block_id)
        _check_block(block, where, action_ids)
        _roundtrip(block, where)


def iter_elements(message: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every interactive element, in the order Slack shows them (section accessories inline)."""
    for block in message.get("blocks", []):
        accessory = block.get("accessory")
        if isinstance(accessory, dict):
            yield accessory
        if block.get("type") == "actions":
            yield from (e for e in block.get("elements", []) if isinstance(e, dict))


# ---- building blocks -------------------------------------------------------------------------
# They cut what they are given to Slack's limits, so that no data can break a message;
# `checked_message` catches whatever they cannot.


def mrkdwn_text(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": text}


def plain_text(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text, "emoji": True}


def section_block(
    block_id: str, text: str, accessory: dict[str, Any] | None = None
) -> dict[str, Any]:
    block: dict[str, Any] = {
        "type": "section",
        "block_id": block_id,
        # Slack rejects an empty section text ("must be more than 0 characters").
        "text": mrkdwn_text(truncate(text, MAX_SECTION_TEXT) or "—"),
    }
    if accessory is not None:
        block["accessory"] = accessory
    return block


def context_block(block_id: str, *texts: str) -> dict[str, Any]:
    # Empty texts are left out: Slack rejects an element whose text is blank.
    elements = [mrkdwn_text(truncate(t, MAX_SECTION_TEXT)) for t in texts if t.strip()]
    return {"type": "context", "block_id": block_id, "elements": elements[:MAX_CONTEXT_ELEMENTS]}


def button_element(text: str, action_id: str, value: str | None) -> dict[str, Any] | None:
    """A button, or None when its value cannot fit (the button would break the whole message)."""
    if not value:
        return None
    if slack_len(value) > MAX_BUTTON_VALUE:
        log.warning("button %s dropped: value is %d characters", action_id, len(value))
        return None
    return {"type": "button", "text": plain_text(text), "action_id": action_id, "value": value}


def actions_block(block_id: str, buttons: Iterable[dict[str, Any] | None]) -> dict[str, Any] | None:
    """The buttons that exist, or None: Slack rejects an actions block with no elements."""
    elements = [b for b in buttons if b is not None][:MAX_ACTIONS_ELEMENTS]
    if not elements:
        return None
    return {"type": "actions", "block_id": block_id, "elements": elements}


def slack_message(text: str, blocks: list[dict[str, Any] | None]) -> dict[str, Any]:
    """`text` is what notifications and screen readers show, so it is never left empty."""
    return {
        "text": truncate(text.strip() or "dms-tasks", FALLBACK_TEXT_LIMIT),
        "blocks": [b for b in blocks if b is not None],
    }


def checked_message(
    message: dict[str, Any], about: str, *, fallback_block_id: str
) -> dict[str, Any]:
    """`message` if Slack would accept it, else a short notice that it could not be laid out.

    Slack rejects a message that breaks one limit whole and the user sees nothing at all, so a
    notice in its place is always better.
    """
    try:
        check_message(message)
    except InvalidMessage as exc:
        # A bug in the renderer, not in the data: still say something rather than nothing.
        log.error("rendered message failed the Block Kit check: %s", exc)
        text = truncate(escape(about), 200)
        return {
            "text": f"I could not lay out the answer for {text}.",
            "blocks": [
                section_block(
                    fallback_block_id,
                    f"I could not lay out the answer for {text} within Slack's limits. "
                    "Try a smaller page with limit=10.",
                )
            ],
        }
    return message
