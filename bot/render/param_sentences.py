"""Known task params as sentences: "Broker count: 3 → 5", "Auto topic creation: on → off".

DMS documents no params per task name: the API reference shows only two examples
(`modifyAutoTopic`: `{"old_auto_status":true,"new_auto_status":false}`, `changeRetentionPolicy`:
`{"new_retention_policy":"produce_reject","origin_retention_policy":"time_base"}`). The other
keys below are the request fields of the API call that starts each task (huaweicloudsdkkafka's
request models: ResizeEngineInstanceReq, CreateInstanceTopicReq, ResetMessageOffsetReq,
CreateKafkaUserClientQuotaTaskReq, PartitionReassignRequest, UpdateInstanceReq,
CreatePostPaidInstanceReq; Terraform's kafka instance resource for the port-protocol switch and
disk auto-expansion), which the console echoes into the task's params, and the shapes our
simulator seeds. A key may come plain (`broker_num`), or as a change: `old_`/`origin_`/
`original_`/`previous_`/`before_` and `new_`/`after_`/`target_` in front, or `_old`/`_before`,
`_new`/`_after` behind, in any order (the API reference's own example lists `new_` before
`origin_`).

Everything here reads values that `bot.redact` has already masked: a value it hid whole shows as
hidden under its label, and a formatter never sees what the redactor took out. A value a
formatter does not recognise is shown as it came, under its label.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bot.labels import split_words
from bot.redact import REDACTED, key_words
from bot.render.words import bold, piece

VALUE_LIMIT = 200
# A list of names or ids is cut after this many, with "and N more".
LIST_ITEMS = 20

Formatter = Callable[[Any], str | None]


@dataclass(frozen=True)
class Known:
    label: str
    fmt: Formatter
    # Each entry of a list on a line of its own (reassignments, access policies).
    per_entry: bool = False


# ---- value formatters: a value in, words out; None when the value is not of the expected shape


def _truth(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        word = value.strip().lower()
        if word in ("true", "on", "yes", "1", "enable", "enabled"):
            return True
        if word in ("false", "off", "no", "0", "disable", "disabled"):
            return False
    return None


def _switch(on: str, off: str) -> Formatter:
    def fmt(value: Any) -> str | None:
        truth = _truth(value)
        return None if truth is None else (on if truth else off)

    return fmt


ON_OFF = _switch("on", "off")
ENABLED = _switch("enabled", "disabled")
YES_NO = _switch("yes", "no")

_NUMBER = re.compile(r"\s*(-?\d+(?:\.\d+)?)\s*([A-Za-z/%]*)\s*")


def _number(value: Any, units: tuple[str, ...] = ()) -> float | int | None:
    """A number, or a numeric string, optionally ending in one of `units` ("300GB", "100MB")."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, str) and len(value) <= 40:
        match = _NUMBER.fullmatch(value)
        if match and (not match.group(2) or match.group(2).lower() in units):
            text = match.group(1)
            return float(text) if "." in text else int(text)
    return None


def _number_text(number: float | int) -> str:
    if isinstance(number, float) and number.is_integer() and abs(number) < 1e15:
        return str(int(number))
    return f"{number:g}" if isinstance(number, float) else str(number)


def _amount(unit: str, *accepted: str) -> Formatter:
    def fmt(value: Any) -> str | None:
        number = _number(value, accepted)
        return None if number is None else f"{_number_text(number)}{unit}"

    return fmt


COUNT = _amount("")
GB = _amount(" GB", "gb")
HOURS = _amount(" h", "h")
PERCENT = _amount(" %", "%")
# Instance bandwidth comes as "100MB" (CreatePostPaidInstanceReq.specification): MB per second.
MB_PER_S = _amount(" MB/s", "mb", "mb/s")
# EIP bandwidth is sold in Mbit/s.
MBIT_PER_S = _amount(" Mbit/s", "mbit/s")


def bytes_per_second(value: Any) -> str | None:
    """`10485760` → "10 MiB/s": quotas and throttles are bytes per second, set in powers of 2."""
    number = _number(value)
    if number is None or number < 0:
        return None
    size = float(number)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            break
        size /= 1024
    shown = f"{size:.1f}".removesuffix(".0") if size < 1e15 else f"{size:g}"
    return f"{shown} {unit}/s"


def epoch_ms(value: Any) -> str | None:
    """Unix milliseconds (ResetMessageOffsetReq.timestamp, execute_at) as a UTC time."""
    number = _number(value)
    if number is None or not 0 <= number < 10**14:
        return None
    try:
        moment = datetime.fromtimestamp(number / 1000, UTC)
    except (OverflowError, OSError, ValueError):
        return None
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def _words(mapping: dict[str, str]) -> Formatter:
    def fmt(value: Any) -> str | None:
        if not isinstance(value, str):
            return None
        return mapping.get(value.strip().lower(), value)

    return fmt


def as_text(value: Any) -> str | None:
    if isinstance(value, str):
        return value if value.strip() else "(none)"
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _number_text(value) if _number(value) is not None else None
    return None


def items(value: Any) -> str | None:
    """A list of names or ids, or the API's comma-separated string of them (`publicip_id`)."""
    if isinstance(value, str):
        value = [part.strip() for part in value.split(",") if part.strip()] or [value]
    if not isinstance(value, list) or not value:
        return None
    shown = [as_text(item) for item in value[:LIST_ITEMS]]
    if any(item is None for item in shown):
        return None
    joined = ", ".join(item for item in shown if item)
    more = len(value) - LIST_ITEMS
    return f"{joined} and {more} more" if more > 0 else joined


def partition(value: Any) -> str | None:
    # ResetMessageOffsetReq: partition -1 (the default) resets every partition.
    number = _number(value)
    if number == -1:
        return "all"
    return None if number is None else _number_text(number)


def reassignment(entry: Any) -> str | None:
    """`{"topic": "orders", "brokers": [0, 1, 2], "replication_factor": 3}` (a
    PartitionReassignEntity) → "orders to brokers 0, 1, 2 (3 replicas)"."""
    if not isinstance(entry, dict) or not isinstance(entry.get("topic"), str):
        return None
    words = entry["topic"]
    brokers = items(entry.get("brokers"))
    if brokers:
        words += f" to brokers {brokers}"
    notes = []
    replicas = _number(entry.get("replication_factor"))
    if replicas is not None:
        notes.append(f"{_number_text(replicas)} replicas")
    if isinstance(entry.get("assignment"), list):
        notes.append(f"{len(entry['assignment'])} partitions placed by hand")
    return f"{words} ({', '.join(notes)})" if notes else words


_ACCESS_WORDS = {"all": "publish and subscribe", "pub": "publish", "sub": "subscribe"}
access = _words(_ACCESS_WORDS)


def access_entry(entry: Any) -> str | None:
    """`{"user_name": "app", "access_policy": "pub"}` (AccessPolicyEntity) → "app can
    publish"."""
    if not isinstance(entry, dict) or not isinstance(entry.get("user_name"), str):
        return None
    policy = access(entry.get("access_policy"))
    return None if policy is None else f"{entry['user_name']} can {policy}"


# ---- the table: normalised key (words joined by "_") → label and formatter ------------------

_RETENTION = _words({"time_base": "time based", "produce_reject": "reject production"})
_RESIZE = _words({"storage": "storage space", "horizontal": "broker count", "vertical": "flavor"})
_PROTOCOLS = _words(
    {
        f"{side}_{name}_enable": f"{side} {shown}"
        for side in ("private", "public")
        for name, shown in (
            ("plain", "PLAINTEXT"),
            ("sasl_ssl", "SASL_SSL"),
            ("sasl_plaintext", "SASL_PLAINTEXT"),
        )
    }
)

_TABLE: dict[str, Known] = {
    # API reference examples.
    "auto_status": Known("Auto topic creation", ON_OFF),
    "retention_policy": Known("Retention policy", _RETENTION),
    # UpdateInstanceAutoCreateTopic's body; Terraform waits for a kafkaConfigModify task after it.
    "enable_auto_topic": Known("Auto topic creation", ON_OFF),
    # ResizeEngineInstanceReq (new_*), and the old/new pairs the simulator seeds.
    "broker_num": Known("Broker count", COUNT),
    "storage_space": Known("Storage space", GB),
    "flavor": Known("Flavor", as_text),
    "flavor_id": Known("Flavor", as_text),
    "product_id": Known("Flavor", as_text),
    "oper_type": Known("What changes", _RESIZE),
    "bandwidth": Known("Bandwidth", MB_PER_S),
    "publicip_id": Known("Elastic IPs", items),
    "public_ip_ids": Known("Elastic IPs", items),
    # CreatePostPaidInstanceReq: the switches an instance is created or changed with.
    "enable_publicip": Known("Public access", ENABLED),
    "public_bandwidth": Known("Public bandwidth", MBIT_PER_S),
    "ssl_enable": Known("SSL", ON_OFF),
    "connector_enable": Known("Smart Connect", ON_OFF),
    "connector_node_num": Known("Smart Connect nodes", COUNT),
    "partition_num": Known("Max partitions", COUNT),
    "engine_version": Known("Kafka version", as_text),
    # Topics (CreateInstanceTopicReq) and consumer offsets (ResetMessageOffsetReq).
    "topic": Known("Topic", as_text),
    "topic_name": Known("Topic", as_text),
    "topics": Known("Topics", items),
    "group": Known("Consumer group", as_text),
    "partition": Known("Partition", partition),
    "partitions": Known("Partitions", COUNT),
    "partition_count": Known("Partitions", COUNT),
    "replication": Known("Replicas", COUNT),
    "replication_factor": Known("Replicas", COUNT),
    "replicas": Known("Replicas", COUNT),
    "retention_time": Known("Message retention", HOURS),
    "sync_replication": Known("Synchronous replication", ON_OFF),
    "sync_message_flush": Known("Synchronous flushing", ON_OFF),
    "message_offset": Known("Offset", COUNT),
    "timestamp": Known("Time", epoch_ms),
    # SASL and users. The redactor keeps mechanisms and user names visible, passwords not.
    "sasl_enabled_mechanisms": Known("SASL mechanisms", items),
    "sasl_mechanism": Known("SASL mechanism", as_text),
    "sasl_username": Known("SASL user", as_text),
    "sasl_plain_username": Known("SASL user", as_text),
    "user_name": Known("User", as_text),
    "access_user": Known("User", as_text),
    "protocol": Known("Protocol", _PROTOCOLS),
    # Client quotas: `producer-byte-rate` and friends, hyphens and all.
    "user": Known("User", as_text),
    "client": Known("Client ID", as_text),
    "user_default": Known("For every user", YES_NO),
    "client_default": Known("For every client", YES_NO),
    "producer_byte_rate": Known("Producer rate limit", bytes_per_second),
    "consumer_byte_rate": Known("Consumer rate limit", bytes_per_second),
    # Partition reassignment (PartitionReassignRequest) and topic permissions.
    "reassignments": Known("Reassign", reassignment, per_entry=True),
    "throttle": Known("Reassignment throttle", bytes_per_second),
    "is_schedule": Known("Scheduled", YES_NO),
    "execute_at": Known("Scheduled for", epoch_ms),
    "policies": Known("Access", access_entry, per_entry=True),
    "access_policy": Known("Access", access),
    # Disk auto-expansion (Terraform's volume auto-expand configuration).
    "auto_volume_expand_enable": Known("Disk auto-expansion", ON_OFF),
    "expand_threshold": Known("Expand at", PERCENT),
    "expand_increment": Known("Expand by", PERCENT),
    "max_volume_size": Known("Max storage", GB),
}

# CreateInstanceTopicReq names the topic `id` and its partition count `partition`; elsewhere
# `partition` is one partition's number and `id` anything at all.
_TOPIC_CREATION: dict[str, Known] = {
    "id": Known("Topic", as_text),
    "partition": Known("Partitions", COUNT),
}

# The capacity threshold policy *is* `retention_policy` (UpdateInstanceReq: 容量阈值策略); a task
# about it may call it just `policy` (as the simulator's modifyCapacityThresholdPolicy does).
_CAPACITY_POLICY: dict[str, Known] = {"policy": Known("Retention policy", _RETENTION)}

_OLD_WORDS = frozenset({"old", "origin", "original", "previous", "before"})
_NEW_WORDS = frozenset({"new", "after", "target"})


def split_role(key: str) -> tuple[str, str]:
    """`origin_broker_num` → ("broker_num", "old"); `auto_status_new` → ("auto_status", "new");
    `producer-byte-rate` → ("producer_byte_rate", ""). The base is "" when nothing is left."""
    words = key_words(key)
    role = ""
    if len(words) > 1 and words[0] in _OLD_WORDS | _NEW_WORDS:
        role = "old" if words[0] in _OLD_WORDS else "new"
        words = words[1:]
    elif len(words) > 1 and words[-1] in {"old", "before", "new", "after"}:
        role = "old" if words[-1] in ("old", "before") else "new"
        words = words[:-1]
    return "_".join(words), role


def table_for(task_name: str) -> dict[str, Known]:
    words = {w.lower() for w in split_words(task_name)}
    if "topic" in words and words & {"create", "add"}:
        return {**_TABLE, **_TOPIC_CREATION}
    if "policy" in words and words & {"capacity", "threshold", "retention"}:
        return {**_TABLE, **_CAPACITY_POLICY}
    return _TABLE


# ---- lines -----------------------------------------------------------------------------------


def _plain(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def shown_value(known: Known, value: Any) -> str:
    """The value in words, escaped for mrkdwn; as it came when the formatter does not know it."""
    words = known.fmt(value)
    return piece(_plain(value) if words is None else words, VALUE_LIMIT)


def _hidden(label: str) -> str:
    return f"{bold(label)}: {REDACTED} (hidden)"


@dataclass(frozen=True)
class Sentence:
    """Lines standing for `keys` of the params, placed where the first of them stood."""

    keys: tuple[str, ...]
    lines: tuple[str, ...]


def _entry_lines(known: Known, value: Any) -> tuple[str, ...] | None:
    if not isinstance(value, list) or not value:
        return None
    shown = [known.fmt(entry) for entry in value]
    if any(words is None for words in shown):
        return None
    return tuple(f"{bold(known.label)}: {piece(w or '', VALUE_LIMIT)}" for w in shown)


def _single(known: Known, key: str, role: str, value: Any) -> Sentence:
    if value == REDACTED:
        return Sentence((key,), (_hidden(known.label),))
    if known.per_entry and not role:
        entries = _entry_lines(known, value)
        if entries:
            return Sentence((key,), entries)
    tail = {"old": " (before)", "new": " (new)"}.get(role, "")
    return Sentence((key,), (f"{bold(known.label)}: {shown_value(known, value)}{tail}",))


def sentences(safe: dict[str, Any], task_name: str = "") -> list[Sentence]:
    """The known keys of `safe` (params already redacted) as sentences, in the order their first
    key appears. Keys the table does not know are left to the caller."""
    table = table_for(task_name)
    groups: dict[str, list[tuple[str, str]]] = {}
    for key in safe:
        base, role = split_role(str(key))
        if base in table:
            groups.setdefault(base, []).append((key, role))
    found: list[Sentence] = []
    for base, members in groups.items():
        known = table[base]
        roles = sorted(role for _, role in members)
        if roles == ["new", "old"]:
            old = next(k for k, r in members if r == "old")
            new = next(k for k, r in members if r == "new")
            keys = tuple(k for k, _ in members)
            if REDACTED in (safe[old], safe[new]):
                found.append(Sentence(keys, (_hidden(known.label),)))
                continue
            change = f"{shown_value(known, safe[old])} → {shown_value(known, safe[new])}"
            found.append(Sentence(keys, (f"{bold(known.label)}: {change}",)))
            continue
        # Anything but one plain key or one old/new pair (two spellings of the same key, say):
        # each key on its own line, so that none is lost or paired with the wrong one.
        found.extend(_single(known, key, role, safe[key]) for key, role in members)
    order = {key: index for index, key in enumerate(safe)}
    return sorted(found, key=lambda s: min(order[k] for k in s.keys))
