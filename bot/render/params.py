"""One task's params, after a click on its Params button.

A title line; the params the table in `param_sentences` knows as sentences ("Broker count:
3 → 5"), the others as `x: old → new` or `key: value`; then the whole params as redacted, pretty
JSON in a code block. Secrets are masked by `bot.redact` before anything here sees a value.
"""

from __future__ import annotations

import json
from typing import Any

from bot.blockkit import (
    ELLIPSIS,
    MAX_SECTION_TEXT,
    actions_block,
    button_element,
    code_block,
    context_block,
    escape,
    escape_code_block,
    escape_inline_code,
    section_block,
    slack_len,
    slack_message,
    strip_code_guards,
    truncate,
    unescape,
)
from bot.domain.tasks import Task
from bot.ids import ActionId, BlockId
from bot.labels import status_emoji, task_label
from bot.redact import REDACTED, key_words, redact
from bot.render.button_state import button_state
from bot.render.param_sentences import sentences
from bot.render.safety_net import checked
from bot.render.timewords import clock_time, date_token, zone_name
from bot.render.words import NAME_LIMIT, USER_LIMIT, bold, piece, short_task_id
from bot.report import ParamsView

PARAMS_LINE_VALUE_LIMIT = 200
PARAMS_KEY_LIMIT = 80
# The `x: old → new` lines summarise; past this many the JSON below says the rest.
PARAMS_SUMMARY_LINES = 30


def _value_text(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return piece(text, PARAMS_LINE_VALUE_LIMIT)


def _paired_name(key: str, params: dict[str, Any]) -> str | None:
    """`x` when `key` is `old_x` or `origin_x` and the params also hold `new_x`."""
    for prefix in ("old_", "origin_"):
        name = key.removeprefix(prefix)
        if name != key and f"new_{name}" in params:
            return name
    return None


_OLD_WORDS = frozenset({"old", "origin", "original", "previous", "current", "before"})


def _entry_line(entry: Any, safe: Any) -> str | None:
    """`log.retention.hours: 72 → 48` for one name/value entry of a config change (the shape
    of `kafka_configs`: `{"name": ..., "origin_value": ..., "new_value": ...}`); None for
    anything else."""
    if not isinstance(entry, dict) or not isinstance(safe, dict):
        return None
    name_keys = [k for k in entry if key_words(str(k))[-1:] == ["name"] or str(k) == "key"]
    value_keys = [k for k in entry if "value" in key_words(str(k))]
    if len(name_keys) != 1 or not value_keys or not isinstance(entry[name_keys[0]], str):
        return None
    old = [k for k in value_keys if _OLD_WORDS & set(key_words(str(k)))]
    new = [k for k in value_keys if k not in old]
    keys = [*old[:1], *new[:1]] if old and new else value_keys[:1]
    heading = bold(piece(entry[name_keys[0]], PARAMS_KEY_LIMIT))
    if any(safe.get(k) == REDACTED for k in keys):
        return f"{heading}: {REDACTED} (hidden)"
    return f"{heading}: {' → '.join(_value_text(safe.get(k)) for k in keys)}"


def params_lines(params: dict[str, Any], task_name: str = "") -> list[str]:
    """Sentences for the keys `param_sentences` knows; for the rest `x: old → new` for
    old_x/new_x and origin_x/new_x pairs, one `name: old → new` line per entry of a config-change
    list, and `key: value`.

    Takes the params as sent by the API (not redacted): secrets become "•••••• (hidden)".
    """
    safe = redact(params)
    known = {s.keys[0]: s for s in sentences(safe, task_name)}
    lines: list[str] = []
    shown: set[Any] = {key for sentence in known.values() for key in sentence.keys}
    for key in params:
        if key in known:
            lines.extend(known[key].lines)
            continue
        if key in shown:
            continue
        value = params[key]
        if isinstance(value, list) and value:
            entries = [_entry_line(e, s) for e, s in zip(value, safe[key], strict=False)]
            if all(entries):
                shown.add(key)
                lines.extend(line for line in entries if line)
                continue
        label, keys = str(key), [key]
        name = _paired_name(label, params)
        if name is not None and f"new_{name}" not in shown:
            label, keys = name.replace("_", " "), [key, f"new_{name}"]
        shown.update(keys)
        heading = bold(piece(label, PARAMS_KEY_LIMIT))
        # The redactor alone decides what is secret; a value it masked whole is said to be hidden.
        if any(safe[k] == REDACTED for k in keys):
            lines.append(f"{heading}: {REDACTED} (hidden)")
        else:
            lines.append(f"{heading}: {' → '.join(_value_text(safe[k]) for k in keys)}")
    return lines


def _lines_section(lines: list[str]) -> dict[str, Any] | None:
    if not lines:
        return None
    kept: list[str] = []
    used = 0
    for line in lines[:PARAMS_SUMMARY_LINES]:
        if used + slack_len(line) + 1 > MAX_SECTION_TEXT - 80:
            break
        kept.append(line)
        used += slack_len(line) + 1
    more = len(lines) - len(kept)
    if more:
        kept.append(f"_… and {more} more (in the JSON below)_")
    return section_block(BlockId.PARAMS.unique("changes"), "\n".join(kept))


def _params_document(value: Any) -> str:
    safe = redact(value)
    if isinstance(safe, dict | list):
        return json.dumps(safe, ensure_ascii=False, indent=2)
    return str(safe)


def _params_blocks(task: Task) -> list[dict[str, Any] | None]:
    value = task.params
    if value in (None, {}, [], ""):
        return [section_block(BlockId.PARAMS.unique("empty"), "This task has no params.")]
    blocks: list[dict[str, Any] | None] = []
    if isinstance(value, dict):
        blocks.append(_lines_section(params_lines(value, task.name)))
    code, cut = _code_section(BlockId.PARAMS.unique("json"), _params_document(value))
    blocks.append(code)
    if cut:
        blocks.append(
            context_block(BlockId.PARAMS.unique("cut"), f"({cut} more characters not shown)")
        )
    return blocks


def _too_deep(task: Task) -> dict[str, Any]:
    # Params are free text to DMS: JSON nested a few hundred levels deep breaks Python's own
    # recursion (decoding, redacting, pretty-printing). Raw text cannot be shown instead: only
    # the parsed document tells which values sit under secret keys and name/value entries.
    return section_block(
        BlockId.PARAMS.unique("deep"),
        f"These params are nested too deeply to show ({len(task.params_raw):,} characters).",
    )


def _code_section(block_id: str, document: str) -> tuple[dict[str, Any], int]:
    """The document in a code block cut to fit one section; also how many characters were cut."""
    escaped = escape_code_block(document)
    budget = MAX_SECTION_TEXT - slack_len(code_block(""))
    shown = truncate(escaped, budget)
    if shown == escaped:
        return section_block(block_id, code_block(escaped)), 0
    kept = len(unescape(strip_code_guards(shown.removesuffix(ELLIPSIS))))
    return section_block(block_id, code_block(shown)), max(len(document) - kept, 0)


def render_params(view: ParamsView) -> dict[str, Any]:
    """One task's params: a title line, the known params as sentences and the other changes as
    `x: old → new`, then the redacted JSON."""
    task = view.task
    label = piece(task_label(task.name), NAME_LIMIT)
    if task.created_at is None:
        when = "start unknown"
    elif view.public:
        when = date_token(task.created_at)
    else:
        when = (
            f"{clock_time(task.created_at, view.tz, view.now)} "
            f"{escape(zone_name(view.tz, view.now))}"
        )
    title = " · ".join(
        [
            f"{status_emoji(task.status)} {bold(label)}",
            piece(view.instance.display_name, NAME_LIMIT),
            when,
            piece(task.status_upper or "UNKNOWN", 30),
            f"task {piece(short_task_id(task.id), 20)}" if task.id else "no task id",
        ]
    )
    user = piece(task.user_name, USER_LIMIT)
    if user:
        title += f"\nstarted by {user}"
    if task.id:
        # The whole id, in code so that it copies cleanly: support and the API ask for it.
        title += f"\ntask id `{escape_inline_code(truncate(task.id, 200))}`"
    blocks: list[dict[str, Any] | None] = [section_block(BlockId.PARAMS.unique("title"), title)]
    try:
        blocks.extend(_params_blocks(task))
    except RecursionError:
        blocks.append(_too_deep(task))
    buttons = [button_element("◀ Back to list", ActionId.BACK.unique(1), button_state(view.query))]
    if task.id:
        buttons.append(
            button_element(
                "Share in channel",
                ActionId.SHARE.unique(1),
                button_state(view.query, task_id=task.id),
            )
        )
    blocks.append(actions_block(BlockId.PAGER, buttons))
    text = f"Params of {label} on {piece(view.instance.display_name, NAME_LIMIT)}"
    return checked(slack_message(text, blocks), view.instance.display_name)


# Summaries of a failed task show this many params, each cut to this many characters.
KEY_PARAMS = 3
KEY_PARAM_TEXT = 80


def key_params(task: Task) -> str:
    """The first few params as the Params view words them (secrets hidden), on one line: for
    digests, alerts and watches, where a failed task is summed up."""
    try:
        params = task.params
        lines = params_lines(params, task.name) if isinstance(params, dict) else []
    except RecursionError:
        # Nested too deeply to read; the Params view says so, a summary line leaves them out.
        return ""
    return "; ".join(piece(line, KEY_PARAM_TEXT) for line in lines[:KEY_PARAMS])
