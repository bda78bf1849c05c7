"""Secrets in task params are masked wherever they are."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.redact import REDACTED, is_secret_key, key_words, redact, redact_text


@pytest.mark.parametrize(
    "key",
    [
        "password",
        "PASSWORD",
        "passwd",
        "sasl_plain_password",
        "newPassword",
        "secret",
        "client_secret",
        "token",
        "X-Auth-Token",
        "access_key",
        "secret_key",
        "api_key",
        "apiKey",
        "APIKey",
        "apikey",
        "ssl_key",
        "sk",
        "AK",
        "credential",
        "credentials",
        "sasl",
        "sasl.jaas.config",
        "sasl_jaas",
        "sasl_password",
        "saslPlainPassword",
        "private_key_pem",
        "ssl.truststore.password",
        "accessKeyId",
    ],
)
def test_secret_keys(key: str) -> None:
    assert is_secret_key(key)


@pytest.mark.parametrize(
    "key",
    [
        "monkey",
        "task",
        "disk",
        "broker_ask",
        "skip",
        "keyword",
        "keystore_location",
        "retention_policy",
        "new_auto_status",
        "user_name",
        "topic",
        "group",
        "",
        # What an on-call engineer needs to see of a SASL setup.
        "sasl_mechanism",
        "saslMechanism",
        "sasl_username",
        "sasl.mechanism",
        "sasl_enabled",
    ],
)
def test_ordinary_keys(key: str) -> None:
    assert not is_secret_key(key)


def test_key_words_split_every_naming_style() -> None:
    assert key_words("sasl_plainPassword") == ["sasl", "plain", "password"]
    assert key_words("APIKey") == ["api", "key"]
    assert key_words("ssl.key-file") == ["ssl", "key", "file"]
    assert key_words("sasl2Password") == ["sasl", "2", "password"]


def test_redact_masks_at_any_depth_and_copies() -> None:
    params = {
        "user": "bob",
        "sasl_plain_password": "hunter2",
        "nested": {"deeper": [{"token": "tok-1", "name": "x"}, {"access_key": 12345}]},
        "credentials": {"user": "u", "pass": "p"},
    }
    original = copy.deepcopy(params)
    result = redact(params)
    assert params == original
    assert result == {
        "user": "bob",
        "sasl_plain_password": REDACTED,
        "nested": {"deeper": [{"token": REDACTED, "name": "x"}, {"access_key": REDACTED}]},
        "credentials": REDACTED,
    }


def test_booleans_and_nulls_under_secret_keys_are_kept() -> None:
    assert redact({"sasl_enabled": True, "password": None}) == {
        "sasl_enabled": True,
        "password": None,
    }


def test_name_value_entries_are_masked_by_their_name() -> None:
    params = {
        "kafka_configs": [
            {"name": "ssl.keystore.password", "value": "ks-pass"},
            {"key": "log.retention.hours", "value": "72"},
        ]
    }
    assert redact(params) == {
        "kafka_configs": [
            {"name": "ssl.keystore.password", "value": REDACTED},
            {"key": "log.retention.hours", "value": "72"},
        ]
    }


def test_json_inside_strings_is_redacted_too() -> None:
    result = redact({"config": json.dumps({"password": "pw-in-json", "a": 1})})
    assert "pw-in-json" not in json.dumps(result)
    assert json.loads(result["config"]) == {"password": REDACTED, "a": 1}


def test_jaas_config_in_a_string_value() -> None:
    jaas = 'PlainLoginModule required username="admin" password="jaas-secret";'
    # A key naming JAAS is hidden whole; the same text under another key is masked inside.
    result = redact({"sasl_jaas": "x", "connector": {"login": jaas}})
    assert result["sasl_jaas"] == REDACTED
    assert "jaas-secret" not in json.dumps(result)
    assert 'username="admin"' in result["connector"]["login"]


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("password=abc123 user=bob", "abc123"),
        ("url?token=tkn&x=1", "tkn"),
        ('"api_key": "zz-top", "name": "n"', "zz-top"),
        ("sk: 'quoted value'", "quoted value"),
        ('{"sasl_plain_password": "cut-off-json', "cut-off-json"),
        ("SECRET_KEY = s3cr3t; next", "s3cr3t"),
    ],
)
def test_redact_text_masks_secret_pairs(text: str, secret: str) -> None:
    result = redact_text(text)
    assert secret not in result
    assert REDACTED in result


def test_redact_text_leaves_other_pairs_alone() -> None:
    text = "topic=orders group: consumers monkey=banana enabled=true"
    assert redact_text(text) == text


SECRET_MARK = "QzXq"
secret_values = st.text(alphabet="abcdefgh0123456789", min_size=4, max_size=12).map(
    lambda s: SECRET_MARK + s
)
plain_words = st.text(alphabet="lmnopqrstuvwxyz_", min_size=1, max_size=10).filter(
    lambda k: not is_secret_key(k)
)
secret_words = st.sampled_from(
    ["password", "Token", "api_key", "sk", "ak", "ssl_key", "saslPassword", "client_secret"]
)


def documents(depth: int = 3) -> st.SearchStrategy[Any]:
    leaf = st.one_of(st.integers(), plain_words, st.booleans())
    if depth == 0:
        return leaf
    child = documents(depth - 1)
    entry = st.one_of(
        st.tuples(plain_words, child),
        st.tuples(secret_words, st.one_of(secret_values, st.lists(secret_values, max_size=3))),
    )
    return st.one_of(
        leaf,
        st.lists(child, max_size=4),
        st.lists(entry, max_size=5).map(dict),
    )


@settings(max_examples=200)
@given(documents())
def test_no_secret_value_survives_redaction(document: Any) -> None:
    assert SECRET_MARK not in json.dumps(redact(document), ensure_ascii=False)
    assert SECRET_MARK not in redact_text(json.dumps(document))


@pytest.mark.parametrize(
    ("document", "secret"),
    [
        ({"configs": [{"config_name": "sasl.jaas.config", "config_value": "jaas1"}]}, "jaas1"),
        ({"configs": [{"name": "ssl.keystore.password", "current_value": "ks2"}]}, "ks2"),
        ({"keys": ["k1"]}, "k1"),
        ({"apiKeys": ["k2"]}, "k2"),
        ({"ssl_keystore_pass": "p8"}, "p8"),
        ({"pw": "p9"}, "p9"),
        ({"url": "https://admin:hunter2@obs.example.com/bucket"}, "hunter2"),
        ("postgres://u:pw9@db.internal/orders", "pw9"),
        ({"Authorization": "Bearer eyJhbGciOi"}, "eyJhbGciOi"),
        ({"headers": "Authorization: Bearer eyJhbGciOi"}, "eyJhbGciOi"),
        ("--password hunter3 --sk AKSK99", "hunter3"),
        ("--password hunter3 --sk AKSK99", "AKSK99"),
        ("password：hunter4", "hunter4"),
    ],
)
def test_secrets_in_less_common_shapes_are_masked(document: Any, secret: str) -> None:
    assert secret not in json.dumps(redact(document), ensure_ascii=False)


def test_name_value_entries_with_ordinary_names_stay_readable() -> None:
    entry = {"config_name": "retention.ms", "config_value": "86400000"}
    assert redact(entry) == entry
