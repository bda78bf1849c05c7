"""The `params` document of each task kind: the shapes the console shows, secrets included,
so that redaction has something real to chew on."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from bot.simulator.ids import fake_secret, seeded_uuid

TOPICS = ("orders.v1", "orders.dlq", "payments.events", "audit.log", "inventory.changes", "clicks")
GROUPS = ("orders-consumer", "billing-etl", "fraud-scoring", "search-indexer", "audit-sink")
KAFKA_CONFIGS = (
    ("log.retention.hours", "72", "48"),
    ("auto.create.groups.enable", "true", "false"),
    ("offsets.retention.minutes", "20160", "10080"),
    ("max.message.bytes", "10485760", "5242880"),
    ("unclean.leader.election.enable", "false", "true"),
)
FLAVORS = ("c6.2u4g.cluster", "c6.4u8g.cluster", "c6.8u16g.cluster", "c6.12u24g.cluster")


def _reset_offset(rng: random.Random) -> dict[str, Any]:
    base = {"group": rng.choice(GROUPS), "topic": rng.choice(TOPICS), "partition": -1}
    if rng.random() < 0.5:
        base["message_offset"] = rng.randint(0, 5_000_000)
    else:
        base["timestamp"] = rng.randint(1_700_000_000, 1_760_000_000) * 1000
    return base


def _quota(rng: random.Random) -> dict[str, Any]:
    return {
        "user": rng.choice(("app-orders", "app-billing", "")),
        "client": rng.choice(("", "orders-producer-1", "etl-client")),
        "producer-byte-rate": rng.choice((1048576, 10485760, 52428800)),
        "consumer-byte-rate": rng.choice((1048576, 20971520)),
    }


def _config_modify(rng: random.Random) -> dict[str, Any]:
    key, old, new = rng.choice(KAFKA_CONFIGS)
    return {"kafka_configs": [{"name": key, "origin_value": old, "new_value": new}]}


def _flavor(rng: random.Random) -> dict[str, Any]:
    i = rng.randrange(len(FLAVORS) - 1)
    return {"old_flavor": FLAVORS[i], "new_flavor": FLAVORS[i + 1]}


def _storage(rng: random.Random) -> dict[str, Any]:
    old = rng.choice((300, 600, 900, 1200))
    return {"origin_storage_space": old, "new_storage_space": old + rng.choice((300, 600))}


def _brokers(rng: random.Random) -> dict[str, Any]:
    old = rng.choice((3, 5, 6))
    return {"origin_broker_num": old, "new_broker_num": old + rng.choice((1, 2, 3))}


def _bandwidth(rng: random.Random) -> dict[str, Any]:
    return {"old_bandwidth": "100MB", "new_bandwidth": rng.choice(("300MB", "600MB"))}


def _sasl(rng: random.Random) -> dict[str, Any]:
    return {
        "sasl_enabled_mechanisms": ["SCRAM-SHA-512"],
        "sasl_plain_username": "admin",
        "sasl_plain_password": fake_secret(rng),
    }


def _kafka_user(rng: random.Random) -> dict[str, Any]:
    return {
        "user_name": rng.choice(("app-reporting", "app-orders")),
        "user_passwd": fake_secret(rng),
    }


def _reset_password(rng: random.Random) -> dict[str, Any]:
    return {"user_name": rng.choice(("app-reporting", "admin")), "new_password": fake_secret(rng)}


def connector_params(rng: random.Random) -> dict[str, Any]:
    return {
        "task_name": rng.choice(("orders-to-obs", "audit-archive")),
        "destination_type": "OBS_SINK",
        "topics": rng.choice(TOPICS),
        "obs_destination_descriptor": {
            "obs_bucket_name": "kafka-archive",
            "access_key": "SIMAK" + f"{rng.getrandbits(60):015X}",
            "secret_key": fake_secret(rng, "SimSK"),
            "partition_format": "yyyy/MM/dd/HH",
        },
    }


def _public_ip(rng: random.Random) -> dict[str, Any]:
    return {"public_ip_ids": [seeded_uuid(rng) for _ in range(3)], "public_bandwidth": 30}


def _reassign(rng: random.Random) -> dict[str, Any]:
    return {
        "reassignments": [
            {"topic": rng.choice(TOPICS), "brokers": [0, 1, 2], "replication_factor": 3}
        ],
        "throttle": 10485760,
        "is_schedule": False,
    }


def _access_policy(rng: random.Random) -> dict[str, Any]:
    return {
        "topic": rng.choice(TOPICS),
        "policies": [
            {"user_name": "app-orders", "access_policy": rng.choice(("all", "pub", "sub"))}
        ],
    }


PARAMS: dict[str, Callable[[random.Random], dict[str, Any]]] = {
    "modifyAutoTopic": lambda r: (lambda v: {"old_auto_status": v, "new_auto_status": not v})(
        r.random() < 0.5
    ),
    "changeRetentionPolicy": lambda r: {
        "old_retention_policy": "time_base",
        "new_retention_policy": r.choice(("produce_reject", "time_base")),
    },
    "bindInstancePublicIp": _public_ip,
    "unbindInstancePublicIp": _public_ip,
    "kafkaConfigModify": _config_modify,
    "modifyInstanceConfigs": _config_modify,
    "kafkaResetConsumerOffset": _reset_offset,
    "kafkaClientQuotaCreate": _quota,
    "kafkaClientQuotaModify": _quota,
    "kafkaClientQuotaDelete": _quota,
    "modifyCapacityThresholdPolicy": lambda r: {
        "origin_policy": "time_base",
        "new_policy": "produce_reject",
    },
    "extendStorage": _storage,
    "extendBroker": _brokers,
    "extendBandwidth": _bandwidth,
    "resizeFlavor": _flavor,
    "enableSsl": lambda r: {"old_ssl_enable": False, "new_ssl_enable": True},
    "enableSmartConnect": lambda r: {"connector_node_num": 2, "specification": "2u4g"},
    "partitionReassign": _reassign,
    "modifyTopicAccessPolicy": _access_policy,
    "createKafkaUser": _kafka_user,
    "resetKafkaUserPassword": _reset_password,
    "modifySaslConfig": _sasl,
    "createConnectorTask": connector_params,
}
