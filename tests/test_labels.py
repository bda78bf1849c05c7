"""Task names and statuses in words people use."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.domain.tasks import TaskStatus
from bot.labels import (
    STATUS_EMOJI,
    STATUS_WORDS,
    TASK_LABELS,
    UNNAMED_TASK,
    split_words,
    status_emoji,
    status_word,
    task_label,
)


@pytest.mark.parametrize(
    ("name", "label"),
    [
        ("modifyAutoTopic", "Modify auto topic creation"),
        ("changeRetentionPolicy", "Change retention policy"),
        ("kafkaConfigModify", "Modify config"),
        ("kafkaResetConsumerOffset", "Reset consumer offset"),
        ("extendStorage", "Expand broker storage"),
    ],
)
def test_known_names_come_from_the_table(name: str, label: str) -> None:
    assert task_label(name) == label


@pytest.mark.parametrize(
    ("name", "label"),
    [
        ("kafkaTopicMigrate", "Topic migrate"),
        ("rebalancePartitionsNow", "Rebalance partitions now"),
        ("enable_sasl_ssl", "Enable SASL SSL"),
        ("bindEipToBroker2", "Bind EIP to broker 2"),
        ("APIKeyRotate", "API key rotate"),
        ("kafka", "Kafka"),
        ("résuméTask", "Résumé task"),
    ],
)
def test_unknown_names_are_split_into_words(name: str, label: str) -> None:
    assert task_label(name) == label


@pytest.mark.parametrize("name", ["", "   "])
def test_empty_names_say_unnamed(name: str) -> None:
    assert task_label(name) == UNNAMED_TASK


def test_every_documented_name_has_a_label() -> None:
    documented = [
        "modifyAutoTopic",
        "changeRetentionPolicy",
        "bindInstancePublicIp",
        "unbindInstancePublicIp",
        "kafkaConfigModify",
        "kafkaResetConsumerOffset",
        "kafkaClientQuotaCreate",
        "kafkaClientQuotaModify",
        "kafkaClientQuotaDelete",
    ]
    assert all(name in TASK_LABELS for name in documented)


def test_split_words() -> None:
    assert split_words("bindInstancePublicIp") == ["bind", "Instance", "Public", "Ip"]
    assert split_words("snake_case-and.dots") == ["snake", "case", "and", "dots"]
    assert split_words("HTTPServer2Go") == ["HTTP", "Server", "2", "Go"]


@given(st.text(max_size=300))
def test_any_name_gets_a_non_empty_label(name: str) -> None:
    assert task_label(name).strip()


def test_every_status_has_an_emoji_and_a_word() -> None:
    for status in TaskStatus:
        assert status in STATUS_EMOJI and status in STATUS_WORDS
    assert status_emoji("failed") == "❌"
    assert status_word("EXECUTING") == "running"
    assert status_word("CREATED") == "queued"


def test_unknown_statuses() -> None:
    # Not known to be finished: shown as in progress.
    assert status_emoji("PAUSED") == status_emoji("EXECUTING")
    assert status_emoji("") == "❔"
    assert status_word("PAUSED") == "paused"
    assert status_word("") == "unknown"


def test_plural_acronyms_stay_whole() -> None:
    assert (
        task_label("rebalancePartitionLeadersAcrossAZs") == "Rebalance partition leaders across AZs"
    )
    assert task_label("listACLsForTopic") == "List ACLs for topic"


def test_cancelled_and_deleted_look_different() -> None:
    assert STATUS_EMOJI["CANCELLED"] != STATUS_EMOJI["DELETED"]
