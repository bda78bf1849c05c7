"""Known params read as sentences; unknown ones keep the plain rendering; secrets stay hidden;
any params at all, of any depth or size, still make a valid message."""

from __future__ import annotations

import json
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.domain.query import TaskQuery
from bot.redact import REDACTED, is_secret_key, key_words
from bot.render import params_lines, render_params, render_text, shared_copy
from bot.render.param_sentences import (
    _TABLE,
    bytes_per_second,
    epoch_ms,
    sentences,
    split_role,
)
from bot.report import ParamsView
from tests.render_builders import (
    INSTANCE,
    NOW,
    SECRET,
    WINDOW,
    ZONES,
    all_text,
    assert_valid,
    make_task,
    params_view,
    wild_text,
)

# ---- the wording -----------------------------------------------------------------------------

# The two params documents the API reference shows, verbatim (note `new_` before `origin_`).
API_EXAMPLES = [
    ('{"old_auto_status":true,"new_auto_status":false}', ["*Auto topic creation*: on → off"]),
    (
        '{"new_retention_policy":"produce_reject","origin_retention_policy":"time_base"}',
        ["*Retention policy*: time based → reject production"],
    ),
]


@pytest.mark.parametrize(("raw", "expected"), API_EXAMPLES)
def test_the_api_reference_examples_read_as_sentences(raw: str, expected: list[str]) -> None:
    assert params_lines(json.loads(raw)) == expected


WORDING: list[tuple[dict[str, Any], str, list[str]]] = [
    ({"origin_broker_num": 3, "new_broker_num": 5}, "", ["*Broker count*: 3 → 5"]),
    (
        {"origin_storage_space": 300, "new_storage_space": 600},
        "",
        ["*Storage space*: 300 GB → 600 GB"],
    ),
    (
        {"old_flavor": "c6.2u4g.cluster", "new_flavor": "c6.4u8g.cluster"},
        "",
        ["*Flavor*: c6.2u4g.cluster → c6.4u8g.cluster"],
    ),
    (
        {"old_bandwidth": "100MB", "new_bandwidth": "300MB"},
        "",
        ["*Bandwidth*: 100 MB/s → 300 MB/s"],
    ),
    ({"old_ssl_enable": False, "new_ssl_enable": True}, "", ["*SSL*: off → on"]),
    (
        {"enable_publicip": True, "public_bandwidth": 30},
        "",
        ["*Public access*: enabled", "*Public bandwidth*: 30 Mbit/s"],
    ),
    ({"enable_auto_topic": "false"}, "", ["*Auto topic creation*: off"]),
    # ResizeEngineInstanceReq sends only the new value.
    (
        {"oper_type": "horizontal", "new_broker_num": 5, "publicip_id": "eip-1,eip-2"},
        "",
        ["*What changes*: broker count", "*Broker count*: 5 (new)", "*Elastic IPs*: eip-1, eip-2"],
    ),
    (
        {"oper_type": "vertical", "new_product_id": "c6.4u8g.cluster"},
        "",
        [
            "*What changes*: flavor",
            "*Flavor*: c6.4u8g.cluster (new)",
        ],
    ),
    ({"old_ssl_enable": False}, "enableSsl", ["*SSL*: off (before)"]),
    (
        {"group": "orders-consumer", "topic": "orders.v1", "partition": -1, "message_offset": 42},
        "kafkaResetConsumerOffset",
        [
            "*Consumer group*: orders-consumer",
            "*Topic*: orders.v1",
            "*Partition*: all",
            "*Offset*: 42",
        ],
    ),
    (
        {"topic": "orders", "partition": 2, "timestamp": 1700000000000},
        "",
        [
            "*Topic*: orders",
            "*Partition*: 2",
            "*Time*: 2023-11-14 22:13:20 UTC",
        ],
    ),
    # CreateInstanceTopicReq: `id` is the topic and `partition` a count, in a topic creation.
    (
        {"id": "orders", "partition": 6, "replication": 3, "retention_time": 72},
        "createTopic",
        ["*Topic*: orders", "*Partitions*: 6", "*Replicas*: 3", "*Message retention*: 72 h"],
    ),
    (
        {"sync_replication": True, "sync_message_flush": 0},
        "",
        [
            "*Synchronous replication*: on",
            "*Synchronous flushing*: off",
        ],
    ),
    (
        {"sasl_enabled_mechanisms": ["SCRAM-SHA-512", "PLAIN"], "sasl_plain_username": "admin"},
        "",
        ["*SASL mechanisms*: SCRAM-SHA-512, PLAIN", "*SASL user*: admin"],
    ),
    (
        {"user": "", "client": "etl", "producer-byte-rate": 10485760, "consumer-byte-rate": 1536},
        "kafkaClientQuotaCreate",
        [
            "*User*: (none)",
            "*Client ID*: etl",
            "*Producer rate limit*: 10 MiB/s",
            "*Consumer rate limit*: 1.5 KiB/s",
        ],
    ),
    ({"user-default": True}, "", ["*For every user*: yes"]),
    (
        {
            "reassignments": [
                {"topic": "orders", "brokers": [0, 1, 2], "replication_factor": 3},
                {"topic": "audit"},
            ],
            "throttle": 10485760,
            "is_schedule": False,
        },
        "partitionReassign",
        [
            "*Reassign*: orders to brokers 0, 1, 2 (3 replicas)",
            "*Reassign*: audit",
            "*Reassignment throttle*: 10 MiB/s",
            "*Scheduled*: no",
        ],
    ),
    (
        {"topic": "audit.log", "policies": [{"user_name": "app", "access_policy": "sub"}]},
        "modifyTopicAccessPolicy",
        ["*Topic*: audit.log", "*Access*: app can subscribe"],
    ),
    (
        {"origin_policy": "time_base", "new_policy": "produce_reject"},
        "modifyCapacityThresholdPolicy",
        ["*Retention policy*: time based → reject production"],
    ),
    (
        {"auto_volume_expand_enable": True, "expand_threshold": 80, "max_volume_size": "900GB"},
        "",
        ["*Disk auto-expansion*: on", "*Expand at*: 80 %", "*Max storage*: 900 GB"],
    ),
    ({"protocol": "public_sasl_ssl_enable"}, "", ["*Protocol*: public SASL_SSL"]),
    # Other spellings of a change: suffixes, camelCase, before/after.
    ({"broker_num_before": 3, "brokerNumAfter": 6}, "", ["*Broker count*: 3 → 6"]),
]


@pytest.mark.parametrize(("params", "task_name", "expected"), WORDING)
def test_known_params_read_as_sentences(
    params: dict[str, Any], task_name: str, expected: list[str]
) -> None:
    assert params_lines(params, task_name) == expected


def test_a_change_reads_old_then_new_whatever_the_order_and_stays_where_it_stood() -> None:
    lines = params_lines({"note": "x", "new_broker_num": 5, "topic": "t", "origin_broker_num": 3})
    assert lines == ["*note*: x", "*Broker count*: 3 → 5", "*Topic*: t"]


def test_values_the_formatter_does_not_know_are_shown_as_they_came() -> None:
    params = {
        "broker_num": "lots",
        "storage_space": [300, 600],
        "old_retention_policy": "time_base",
        "new_retention_policy": "delete_oldest",
        "ssl_enable": "maybe",
        "timestamp": -5,
        "partitions": float("nan"),
    }
    assert params_lines(params) == [
        "*Broker count*: lots",
        "*Storage space*: [300, 600]",
        "*Retention policy*: time based → delete_oldest",
        "*SSL*: maybe",
        "*Time*: -5",
        "*Partitions*: NaN",
    ]


def test_two_spellings_of_one_key_each_get_a_line() -> None:
    lines = params_lines({"broker_num": 3, "new_broker_num": 5, "old_broker_num": 2})
    assert lines == ["*Broker count*: 3", "*Broker count*: 5 (new)", "*Broker count*: 2 (before)"]


# ---- the fallback ----------------------------------------------------------------------------


def test_unknown_params_keep_the_plain_rendering() -> None:
    params = {
        "specification": "2u4g",
        "policy": "time_base",  # only a capacity-policy task's `policy` is known
        "old_x": "o",
        "id": "t-1",  # only a topic creation's `id` is known
        "new_x": "n",
        "list": [1, 2],
        "kafka_configs": [{"name": "log.retention.hours", "origin_value": "72", "new_value": "48"}],
    }
    assert params_lines(params, "restartInstance") == [
        "*specification*: 2u4g",
        "*policy*: time_base",
        "*x*: o → n",
        "*id*: t-1",
        "*list*: [1, 2]",
        "*log.retention.hours*: 72 → 48",
    ]


def test_entries_that_are_not_reassignments_fall_back_to_the_plain_value() -> None:
    lines = params_lines({"reassignments": [{"brokers": [1]}], "policies": "all"})
    assert lines == ['*Reassign*: [{"brokers": [1]}]', "*Access*: all"]


def test_the_table_only_holds_keys_as_the_lookup_spells_them_and_none_is_secret() -> None:
    for key in _TABLE:
        assert "_".join(key_words(key)) == key
        assert split_role(key) == (key, ""), key
        assert not is_secret_key(key), key


def test_formatters() -> None:
    assert bytes_per_second(1048576) == "1 MiB/s"
    assert bytes_per_second("512") == "512 B/s"
    assert bytes_per_second(3 * 1024**5) == "3072 TiB/s"
    assert bytes_per_second(-1) is None and bytes_per_second(True) is None
    assert epoch_ms(0) == "1970-01-01 00:00:00 UTC"
    assert epoch_ms(10**20) is None and epoch_ms("soon") is None


def test_split_role() -> None:
    assert split_role("origin_storage_space") == ("storage_space", "old")
    assert split_role("new") == ("new", "")
    assert split_role("producer-byte-rate") == ("producer_byte_rate", "")
    assert split_role("retention_policy_new") == ("retention_policy", "new")


# ---- secrets and escaping --------------------------------------------------------------------


def test_a_known_key_whose_value_was_redacted_shows_the_redaction() -> None:
    # The redactor decides; whatever it masked whole stays masked under the label.
    safe = {"broker_num": REDACTED, "old_flavor": "a", "new_flavor": REDACTED, "user": REDACTED}
    lines = [line for s in sentences(safe) for line in s.lines]
    assert lines == [
        f"*Broker count*: {REDACTED} (hidden)",
        f"*Flavor*: {REDACTED} (hidden)",
        f"*User*: {REDACTED} (hidden)",
    ]


def test_secrets_inside_known_values_stay_masked() -> None:
    params = {
        "topic": f"orders password={SECRET}",
        "user": {"name": "bob", "password": SECRET},
        "client": f"Bearer {SECRET}",
        "topics": [f"https://u:{SECRET}@example.com"],
    }
    lines = params_lines(params)
    assert lines[0] == f"*Topic*: orders password={REDACTED}"
    assert lines[1] == f'*User*: {{"name": "bob", "password": "{REDACTED}"}}'
    assert all(SECRET not in line for line in lines)
    message = render_params(params_view(make_task(1, params=params)))
    assert_valid(message)
    assert SECRET not in all_text(message)


def test_known_values_are_escaped() -> None:
    lines = params_lines({"topic": "<!channel> & *bold*", "user_name": "<@U123>"})
    assert lines == ["*Topic*: &lt;!channel&gt; &amp; *bold*", "*User*: &lt;@U123&gt;"]


def test_the_params_view_reads_sentences_above_the_untouched_json() -> None:
    params = {"new_retention_policy": "produce_reject", "origin_retention_policy": "time_base"}
    task = make_task(1, name="changeRetentionPolicy", params=params)
    text = render_text(render_params(params_view(task)))
    assert "Retention policy: time based → reject production" in text.replace("*", "")
    assert '"origin_retention_policy": "time_base"' in text


def test_params_too_deep_to_decode_say_so_and_show_nothing_of_them() -> None:
    raw = '{"password": "' + SECRET + '", "a": ' + "[" * 5000 + "]" * 5000 + "}"
    for message in (
        render_params(params_view(make_task(1, params=raw))),
        shared_copy(params_view(make_task(1, params=raw)), "U123"),
    ):
        assert_valid(message)
        assert "nested too deeply to show" in render_text(message)
        assert SECRET not in all_text(message)


# ---- any params at all -----------------------------------------------------------------------

_PREFIXES = ["", "old_", "new_", "origin_", "before_", "after_"]
params_keys = st.one_of(
    st.builds(str.__add__, st.sampled_from(_PREFIXES), st.sampled_from(sorted(_TABLE))),
    st.sampled_from(["id", "policy", "x", "new_x", "kafka_configs", "password", "sasl"]),
    wild_text,
)
secrets = st.text(alphabet="QRSTUVWX", min_size=6, max_size=10).map(lambda s: "Qz7" + s)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(),
    wild_text,
    st.sampled_from(["time_base", "produce_reject", "100MB", "300GB", "-1", "true", REDACTED]),
)
documents = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=6),
        st.dictionaries(params_keys, inner, max_size=6),
    ),
    max_leaves=40,
)
DEEP = "@@deep@@"


@st.composite
def any_params(draw: st.DrawFn) -> tuple[str, list[str]]:
    """A params text as the API may send it, and the secrets that must never be shown."""
    doc = draw(st.dictionaries(params_keys, documents, max_size=12))
    hidden = [draw(secrets) for _ in range(3)]
    doc["sasl_password"] = hidden[0]
    doc[draw(st.sampled_from(sorted(_TABLE)))] = f"x password={hidden[1]}"
    if draw(st.booleans()):
        doc["blob"] = (draw(wild_text) or "z") * (50_000 // 200)
    raw = json.dumps(doc, ensure_ascii=draw(st.booleans()))
    depth = draw(st.sampled_from([0, 0, 50, 400, 1200, 3000]))
    if depth:
        # Built as text: the standard library's own encoder cannot nest this deep.
        opener, closer = draw(st.sampled_from([("[", "]"), ('{"a": ', "}")]))
        deep = opener * depth + json.dumps({"token": hidden[2]}) + closer * depth
        key = json.dumps(draw(params_keys) + DEEP)
        raw = raw[:-1] + (", " if doc else "") + f"{key}: {deep}}}"
    return raw, hidden


@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(any_params(), st.sampled_from(ZONES), st.sampled_from(["", "createTopic", "x"]))
def test_any_params_make_a_valid_message_without_secrets(
    generated: tuple[str, list[str]], tz: ZoneInfo, name: str
) -> None:
    raw, hidden = generated
    task = make_task(1, name=name or "modifyCapacityThresholdPolicy", params=raw)
    view = ParamsView(
        instance=INSTANCE,
        query=TaskQuery(target="prod-orders", window=WINDOW),
        task=task,
        tz=tz,
        now=NOW,
    )
    for message in (render_params(view), shared_copy(view, "U123")):
        assert_valid(message)
        dumped = all_text(message)
        for secret in hidden:
            assert secret not in dumped
