"""The Block Kit checker catches every limit it claims to, and the text helpers are safe."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.blockkit import (
    ELLIPSIS,
    MAX_ACTIONS_ELEMENTS,
    MAX_BLOCKS,
    MAX_BUTTON_TEXT,
    MAX_BUTTON_URL,
    MAX_BUTTON_VALUE,
    MAX_CONTEXT_ELEMENTS,
    MAX_FIELD_TEXT,
    MAX_HEADER_TEXT,
    MAX_ID,
    MAX_MESSAGE_TEXT,
    MAX_SECTION_FIELDS,
    MAX_SECTION_TEXT,
    InvalidMessage,
    MessageTooLarge,
    actions_block,
    button_element,
    check_message,
    checked_message,
    context_block,
    escape,
    escape_code_block,
    escape_inline_code,
    section_block,
    slack_len,
    slack_message,
    truncate,
    unescape,
)


def section(text: str = "hello", block_id: str | None = None, **extra: Any) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "section", "text": {"type": "mrkdwn", "text": text}}
    if block_id is not None:
        block["block_id"] = block_id
    block.update(extra)
    return block


def button(action_id: str, text: str = "Go", value: str = "v", **extra: Any) -> dict[str, Any]:
    element = {
        "type": "button",
        "text": {"type": "plain_text", "text": text},
        "action_id": action_id,
        "value": value,
    }
    element.update(extra)
    return element


def actions(*elements: dict[str, Any], block_id: str | None = None) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "actions", "elements": list(elements)}
    if block_id is not None:
        block["block_id"] = block_id
    return block


def message(*blocks: dict[str, Any], text: str = "fallback") -> dict[str, Any]:
    return {"text": text, "blocks": list(blocks)}


def test_a_well_formed_message_passes() -> None:
    check_message(
        message(
            section("*bold* &amp; text", block_id="b1", accessory=button("a1")),
            actions(button("a2"), button("a3", url="https://example.com"), block_id="b2"),
            {"type": "context", "elements": [{"type": "mrkdwn", "text": "small"}]},
            {"type": "header", "text": {"type": "plain_text", "text": "Title"}},
            {"type": "divider"},
            section(fields=[{"type": "mrkdwn", "text": "f"}]),
        )
    )


@pytest.mark.parametrize("text", [None, "", "   \n"])
def test_top_level_text_is_required(text: str | None) -> None:
    with pytest.raises(InvalidMessage, match="top-level text"):
        check_message({"text": text, "blocks": [section()]})


def test_top_level_text_over_slacks_limit_is_too_large() -> None:
    with pytest.raises(MessageTooLarge):
        check_message(message(text="x" * (MAX_MESSAGE_TEXT + 1)))


def test_fifty_blocks_pass_and_fifty_one_do_not() -> None:
    check_message(message(*[section() for _ in range(MAX_BLOCKS)]))
    with pytest.raises(MessageTooLarge, match="51 blocks"):
        check_message(message(*[section() for _ in range(MAX_BLOCKS + 1)]))


def test_action_ids_must_be_unique_across_the_message() -> None:
    with pytest.raises(InvalidMessage, match="used twice"):
        check_message(message(section(accessory=button("same")), actions(button("same"))))


def test_action_ids_must_be_unique_within_a_block() -> None:
    with pytest.raises(InvalidMessage, match="used twice"):
        check_message(message(actions(button("same"), button("same"))))


def test_block_ids_must_be_unique() -> None:
    with pytest.raises(InvalidMessage, match="block_id"):
        check_message(message(section(block_id="x"), section(block_id="x")))


@pytest.mark.parametrize(
    ("element", "reason"),
    [
        (button("a", value="v" * (MAX_BUTTON_VALUE + 1)), "value"),
        (button("a", text="t" * (MAX_BUTTON_TEXT + 1)), "text"),
        (button("a", url="https://x/" + "u" * MAX_BUTTON_URL), "url"),
        (button("a" * (MAX_ID + 1)), "action_id"),
    ],
)
def test_button_limits(element: dict[str, Any], reason: str) -> None:
    with pytest.raises(MessageTooLarge, match=reason):
        check_message(message(actions(element)))


def test_buttons_at_their_limits_pass() -> None:
    check_message(
        message(
            actions(
                button(
                    "a" * MAX_ID,
                    text="t" * MAX_BUTTON_TEXT,
                    value="v" * MAX_BUTTON_VALUE,
                    url="u" * MAX_BUTTON_URL,
                )
            )
        )
    )


def test_section_text_limit() -> None:
    check_message(message(section("x" * MAX_SECTION_TEXT)))
    with pytest.raises(MessageTooLarge, match="3001"):
        check_message(message(section("x" * (MAX_SECTION_TEXT + 1))))


def test_lengths_count_utf16_units_so_astral_emoji_count_twice() -> None:
    # 1501 code points pass slack_sdk's len() check, but they are 3002 UTF-16 units.
    with pytest.raises(MessageTooLarge):
        check_message(message(section("😀" * (MAX_SECTION_TEXT // 2 + 1))))


def test_section_field_count_and_length() -> None:
    field = {"type": "mrkdwn", "text": "f"}
    with pytest.raises(MessageTooLarge, match="fields"):
        check_message(message(section(fields=[field] * (MAX_SECTION_FIELDS + 1))))
    long_field = {"type": "mrkdwn", "text": "f" * (MAX_FIELD_TEXT + 1)}
    with pytest.raises(MessageTooLarge, match="field 0"):
        check_message(message(section(fields=[long_field])))


def test_context_and_actions_element_counts() -> None:
    elements = [{"type": "mrkdwn", "text": "c"}] * (MAX_CONTEXT_ELEMENTS + 1)
    with pytest.raises(MessageTooLarge, match="elements"):
        check_message(message({"type": "context", "elements": elements}))
    many = [button(f"a{n}") for n in range(MAX_ACTIONS_ELEMENTS + 1)]
    with pytest.raises(MessageTooLarge, match="elements"):
        check_message(message(actions(*many)))
    check_message(message(actions(*many[:MAX_ACTIONS_ELEMENTS])))


def test_header_limit_and_type() -> None:
    header = {"type": "header", "text": {"type": "plain_text", "text": "h" * (MAX_HEADER_TEXT + 1)}}
    with pytest.raises(MessageTooLarge):
        check_message(message(header))
    with pytest.raises(InvalidMessage, match="plain_text"):
        check_message(message({"type": "header", "text": {"type": "mrkdwn", "text": "h"}}))


def test_block_id_length() -> None:
    with pytest.raises(MessageTooLarge, match="block_id"):
        check_message(message(section(block_id="b" * (MAX_ID + 1))))


def test_empty_texts_are_rejected() -> None:
    with pytest.raises(InvalidMessage, match="empty"):
        check_message(message(section(" ")))
    with pytest.raises(InvalidMessage, match="empty"):
        check_message(message(actions(button("a", text=""))))


def test_unknown_block_types_and_misspelt_keys_are_rejected() -> None:
    with pytest.raises(InvalidMessage, match="unknown block type"):
        check_message(message({"type": "sektion", "text": {"type": "mrkdwn", "text": "x"}}))
    with pytest.raises(InvalidMessage, match="read it back"):
        check_message(message(section(acessory=button("a"))))


def test_slack_sdk_validation_is_applied() -> None:
    # An invalid button style is something only slack_sdk checks.
    with pytest.raises(InvalidMessage):
        check_message(message(actions(button("a", style="loud"))))


# ---- text helpers ------------------------------------------------------------------------------


def test_escape_disarms_mentions_and_links() -> None:
    assert (
        escape("<!channel> & <https://evil|x>") == "&lt;!channel&gt; &amp; &lt;https://evil|x&gt;"
    )
    assert unescape(escape("a <b> & c")) == "a <b> & c"


def test_code_escapes_cannot_close_the_code_span_or_block() -> None:
    assert "```" not in escape_code_block("a ``` b ````")
    assert "`" not in escape_inline_code("a `b` c")


def test_truncate_leaves_short_text_alone() -> None:
    assert truncate("short", 10) == "short"


def test_truncate_adds_the_suffix_within_the_limit() -> None:
    assert truncate("abcdefghij", 5) == "abcd" + ELLIPSIS


def test_truncate_never_cuts_an_entity_or_a_slack_token() -> None:
    assert truncate("ab &amp; cd", 6) == "ab" + ELLIPSIS
    assert truncate("see <#C123ABC> now", 10) == "see" + ELLIPSIS
    assert truncate("x&lt;", 4) == "x" + ELLIPSIS


def test_truncate_keeps_characters_whole() -> None:
    assert truncate("ab😀cd", 4) == "ab" + ELLIPSIS
    assert truncate("ae\u0301\u0301bcd", 4) == "a" + ELLIPSIS
    family = "👨\u200d👩\u200d👧"
    assert truncate("a" + family + "zz", 6) == "a" + ELLIPSIS


_PARTIAL_ENTITY = re.compile(r"&[a-z]{0,3}$")


@settings(max_examples=300)
@given(st.text(), st.integers(min_value=1, max_value=400))
def test_truncate_properties(raw: str, limit: int) -> None:
    text = escape(raw)
    result = truncate(text, limit)
    assert slack_len(result) <= limit
    if result == text:
        return
    assert result.endswith(ELLIPSIS)
    head = result[: -len(ELLIPSIS)]
    assert text.startswith(head.rstrip()) or text.startswith(head)
    assert not _PARTIAL_ENTITY.search(head)
    head.encode("utf-8")  # no lone surrogate was created
    if head:
        assert not 0xD800 <= ord(head[-1]) <= 0xDBFF


# ---- building blocks -------------------------------------------------------------------------


def test_building_blocks_cut_their_text_to_fit() -> None:
    built = slack_message(
        "x" * (MAX_MESSAGE_TEXT + 10),
        [
            section_block("s", "y" * (MAX_SECTION_TEXT + 10)),
            section_block("blank", ""),
            context_block("c", *["z"] * (MAX_CONTEXT_ELEMENTS + 5), " "),
            None,
        ],
    )
    check_message(built)
    assert [b["block_id"] for b in built["blocks"]] == ["s", "blank", "c"]
    assert built["blocks"][0]["text"]["text"].endswith(ELLIPSIS)
    assert built["blocks"][1]["text"]["text"] == "—"
    assert len(built["blocks"][2]["elements"]) == MAX_CONTEXT_ELEMENTS
    assert slack_message("  ", [])["text"] == "dms-tasks"


def test_a_button_whose_value_cannot_be_sent_is_left_out() -> None:
    assert button_element("Go", "a", None) is None
    assert button_element("Go", "a", "") is None
    assert button_element("Go", "a", "v" * (MAX_BUTTON_VALUE + 1)) is None
    kept = button_element("Go", "a", "v" * MAX_BUTTON_VALUE)
    assert kept is not None and kept["value"] == "v" * MAX_BUTTON_VALUE
    assert actions_block("b", [None, None]) is None
    many = actions_block("b", [button_element("Go", f"a{n}", "v") for n in range(30)])
    assert many is not None and len(many["elements"]) == MAX_ACTIONS_ELEMENTS


def test_checked_message_replaces_a_rejected_message_with_a_notice() -> None:
    good = message(section("fine", block_id="b"))
    assert checked_message(good, "x", fallback_block_id="fb") is good
    bad = message(*[section("s") for _ in range(MAX_BLOCKS + 1)])
    notice = checked_message(bad, "<!channel>", fallback_block_id="fb")
    check_message(notice)
    assert notice["blocks"][0]["block_id"] == "fb"
    assert "<!channel>" not in notice["text"] and "&lt;!channel&gt;" in notice["text"]
