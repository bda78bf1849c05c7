"""The simulated account's instances and their background tasks: seeded, realistic, and
deterministic for a given seed and time anchor.

Each instance draws from its own RNG (seeded with the run's seed and the instance name), so
changing `bulk_tasks` leaves every other instance's data unchanged.
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

PAAS_USER = "paas_dms"
HUMAN_USERS = ("alice.wong", "m.schneider", "ops-automation", "jdoe", "priya.k")

# Task kinds: name -> (relative weight, (shortest, longest) duration in seconds).
# Durations follow what the console shows: config flips take seconds, restarts and public IP
# binding minutes, storage expansion several minutes, broker and flavor changes tens of minutes.
TASK_KINDS: dict[str, tuple[int, tuple[int, int]]] = {
    "modifyAutoTopic": (6, (2, 20)),
    "changeRetentionPolicy": (5, (2, 30)),
    "bindInstancePublicIp": (3, (60, 300)),
    "unbindInstancePublicIp": (2, (30, 180)),
    "kafkaConfigModify": (10, (5, 90)),
    "kafkaResetConsumerOffset": (14, (1, 15)),
    "kafkaClientQuotaCreate": (4, (1, 10)),
    "kafkaClientQuotaModify": (4, (1, 10)),
    "kafkaClientQuotaDelete": (2, (1, 10)),
    "restartInstance": (3, (120, 480)),
    "modifyInstanceConfigs": (5, (10, 240)),
    "modifyCapacityThresholdPolicy": (2, (2, 20)),
    "extendStorage": (3, (240, 720)),
    "extendBroker": (1, (600, 1800)),
    "extendBandwidth": (1, (600, 1500)),
    "resizeFlavor": (1, (900, 2400)),
    "enableSsl": (1, (180, 600)),
    "enableSmartConnect": (1, (120, 420)),
    "partitionReassign": (2, (60, 1200)),
    "modifyTopicAccessPolicy": (5, (2, 12)),
    "createKafkaUser": (3, (2, 15)),
    "resetKafkaUserPassword": (2, (2, 15)),
    "modifySaslConfig": (1, (180, 600)),
    "createConnectorTask": (2, (10, 120)),
}

# Tasks that report step-by-step progress (GET .../tasks/{id}/progress).
SCALE_TASKS = frozenset({"extendStorage", "extendBroker", "extendBandwidth", "resizeFlavor"})

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


def iso_ms(moment: datetime) -> str:
    """The API's timestamp form: `2020-05-15T03:19:51.046Z`."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def iso_s(moment: datetime) -> str:
    """The same without milliseconds, as some responses carry it."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_task_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


def _hex32(rng: random.Random) -> str:
    return f"{rng.getrandbits(128):032x}"


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _secret(rng: random.Random, prefix: str = "Sim") -> str:
    return f"{prefix}-{rng.getrandbits(64):016x}!"


@dataclass
class SimInstance:
    """One Kafka instance of the simulated project and its task records, newest first."""

    instance_id: str
    name: str
    status: str
    engine_version: str
    flavor: str
    broker_num: int
    storage_space: int
    created_at: datetime
    tasks: list[dict[str, Any]] = field(default_factory=list)
    description: str = ""

    _parsed: dict[str, datetime] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def created_of(self, task: dict[str, Any]) -> datetime:
        text = task["created_at"]
        moment = self._parsed.get(text)
        if moment is None:
            moment = self._parsed[text] = parse_task_time(text)
        return moment

    def find_task(self, task_id: str) -> dict[str, Any] | None:
        return next((t for t in self.tasks if t.get("id") == task_id), None)

    def as_api(self, project_user: tuple[str, str]) -> dict[str, Any]:
        """The instance as GET /v2/{project_id}/instances lists it."""
        user_id, user_name = project_user
        octet = int(self.instance_id[:2], 16)
        addresses = ",".join(f"192.168.{octet}.{10 + i}" for i in range(self.broker_num))
        return {
            "name": self.name,
            "engine": "kafka",
            "engine_version": self.engine_version,
            "description": self.description,
            "specification": f"{self.flavor} * {self.broker_num} broker",
            "storage_space": self.storage_space,
            "partition_num": str(250 * self.broker_num),
            "used_storage_space": self.storage_space // 7,
            "dns_enable": False,
            "connect_address": addresses,
            "port": 9092,
            "status": self.status,
            "instance_id": self.instance_id,
            "resource_spec_code": "",
            "charging_mode": 1,
            "vpc_id": str(uuid.uuid5(uuid.NAMESPACE_URL, "vpc:" + self.instance_id)),
            "vpc_name": "vpc-kafka",
            "created_at": str(int(self.created_at.timestamp() * 1000)),
            "user_id": user_id,
            "user_name": user_name,
            "maintain_begin": "02:00:00",
            "maintain_end": "06:00:00",
            "enable_publicip": False,
            "ssl_enable": False,
            "broker_ssl_enable": False,
            "type": "cluster",
            "enterprise_project_id": "0",
            "broker_num": self.broker_num,
            "storage_spec_code": "dms.physical.storage.ultra.v2",
            "kafka_public_status": "closed",
        }


class TaskFactory:
    """Builds task records for one instance from its own RNG."""

    def __init__(self, rng: random.Random, *, human_share: float = 0.2) -> None:
        self.rng = rng
        self.human_share = human_share
        self.user_ids = {name: _hex32(rng) for name in (PAAS_USER, *HUMAN_USERS)}
        self._names = list(TASK_KINDS)
        self._weights = [TASK_KINDS[n][0] for n in self._names]

    def pick_name(self) -> str:
        return self.rng.choices(self._names, self._weights)[0]

    def pick_user(self) -> str:
        if self.rng.random() < self.human_share:
            return self.rng.choice(HUMAN_USERS)
        return PAAS_USER

    def duration(self, name: str) -> timedelta:
        low, high = TASK_KINDS.get(name, (1, (1, 60)))[1]
        return timedelta(seconds=self.rng.uniform(low, high))

    def task(
        self,
        name: str,
        created: datetime,
        status: str,
        *,
        user: str | None = None,
        duration: timedelta | None = None,
        params: str | None = None,
    ) -> dict[str, Any]:
        user = user if user is not None else self.pick_user()
        if status in {"CREATED", "EXECUTING"}:
            # An active task's record was last touched right after it was accepted.
            updated = created + timedelta(milliseconds=self.rng.randint(5, 40))
        else:
            updated = created + (duration if duration is not None else self.duration(name))
        return {
            "id": _hex32(self.rng),
            "name": name,
            "user_name": user,
            "user_id": self.user_ids.get(user) or _hex32(self.rng),
            "params": params if params is not None else self.params(name),
            "status": status,
            "created_at": iso_ms(created),
            "updated_at": iso_ms(updated),
        }

    def params(self, name: str) -> str:
        maker = _PARAMS.get(name)
        return "" if maker is None else json.dumps(maker(self.rng), separators=(",", ":"))

    def history(
        self,
        count: int,
        now: datetime,
        span: timedelta,
        *,
        failed_share: float = 0.04,
    ) -> list[dict[str, Any]]:
        """`count` settled tasks created over `span` before `now`, all finished by `now`."""
        tasks: list[dict[str, Any]] = []
        # The newest settled task started 45 min ago, so even a long one has finished.
        margin = timedelta(minutes=45)
        for _ in range(count):
            created = now - margin - (span - margin) * self.rng.random()
            created = created.replace(microsecond=self.rng.randrange(0, 1_000_000, 1000))
            name = self.pick_name()
            roll = self.rng.random()
            if roll < failed_share:
                status = "FAILED"
            elif roll < failed_share + 0.012:
                status = "CANCELLED"
            else:
                status = "SUCCESS"
            tasks.append(self.task(name, created, status))
        return tasks


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
        "sasl_plain_password": _secret(rng),
    }


def _kafka_user(rng: random.Random) -> dict[str, Any]:
    return {"user_name": rng.choice(("app-reporting", "app-orders")), "user_passwd": _secret(rng)}


def _reset_password(rng: random.Random) -> dict[str, Any]:
    return {"user_name": rng.choice(("app-reporting", "admin")), "new_password": _secret(rng)}


def _connector(rng: random.Random) -> dict[str, Any]:
    return {
        "task_name": rng.choice(("orders-to-obs", "audit-archive")),
        "destination_type": "OBS_SINK",
        "topics": rng.choice(TOPICS),
        "obs_destination_descriptor": {
            "obs_bucket_name": "kafka-archive",
            "access_key": "SIMAK" + f"{rng.getrandbits(60):015X}",
            "secret_key": _secret(rng, "SimSK"),
            "partition_format": "yyyy/MM/dd/HH",
        },
    }


def _public_ip(rng: random.Random) -> dict[str, Any]:
    return {"public_ip_ids": [_uuid(rng) for _ in range(3)], "public_bandwidth": 30}


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


_PARAMS: dict[str, Callable[[random.Random], dict[str, Any]]] = {
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
    "createConnectorTask": _connector,
}


def _newest_first(tasks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(tasks, key=lambda t: (parse_task_time(t["created_at"]), t["id"]), reverse=True)


def _instance(
    seed: int, name: str, now: datetime, **fields: Any
) -> tuple[SimInstance, random.Random]:
    rng = random.Random(f"{seed}:{name}")
    inst = SimInstance(
        instance_id=_uuid(rng),
        name=name,
        created_at=now - timedelta(days=rng.randint(40, 700), seconds=rng.randint(0, 86400)),
        **fields,
    )
    return inst, rng


def _prod_orders(seed: int, now: datetime) -> SimInstance:
    inst, rng = _instance(
        seed,
        "prod-orders",
        now,
        status="EXTENDING",
        engine_version="3.x",
        flavor="c6.4u8g.cluster",
        broker_num=3,
        storage_space=900,
        description="Order pipeline (production)",
    )
    f = TaskFactory(rng, human_share=0.12)
    tasks = f.history(320, now, timedelta(days=14), failed_share=0.0)
    # Enough finished storage expansions for a typical duration, so the running one stands out.
    for day in (2, 5, 8, 11, 13):
        created = now - timedelta(days=day, hours=rng.uniform(0, 12))
        tasks.append(f.task("extendStorage", created, "SUCCESS", user=PAAS_USER))
    for hours, name in (
        (20, "kafkaConfigModify"),
        (52, "bindInstancePublicIp"),
        (130, "kafkaResetConsumerOffset"),
        (200, "resizeFlavor"),
    ):
        tasks.append(
            f.task(name, now - timedelta(hours=hours, minutes=rng.uniform(0, 50)), "FAILED")
        )
    tasks.append(
        f.task(
            "extendStorage",
            now - timedelta(hours=3, seconds=rng.uniform(0, 90)),
            "EXECUTING",
            user=PAAS_USER,
        )
    )
    tasks.append(
        f.task(
            "restartInstance",
            now - timedelta(seconds=rng.uniform(40, 110)),
            "CREATED",
            user="m.schneider",
        )
    )
    inst.tasks = _newest_first(tasks)
    return inst


def _plain(
    seed: int, name: str, now: datetime, count: int, span: timedelta, **fields: Any
) -> SimInstance:
    human_share = fields.pop("human_share", 0.15)
    inst, rng = _instance(seed, name, now, **fields)
    f = TaskFactory(rng, human_share=human_share)
    inst.tasks = _newest_first(f.history(count, now, span))
    return inst


def _edge_cases(seed: int, now: datetime) -> SimInstance:
    inst, rng = _instance(
        seed,
        "edge-cases",
        now,
        status="RUNNING",
        engine_version="2.7",
        flavor="c6.2u4g.cluster",
        broker_num=3,
        storage_space=300,
        description="Adversarial task records <b>&amp;</b> 🧪",
    )
    f = TaskFactory(rng)
    minute = timedelta(minutes=1)
    t0 = now - timedelta(hours=47)

    def at(i: int) -> datetime:
        return (t0 + i * 97 * minute).replace(microsecond=rng.randrange(0, 1_000_000, 1000))

    deep: Any = {"sasl_plain_password": _secret(rng), "note": "deepest"}
    for level in range(12):
        deep = {f"level_{11 - level}": deep, "access_key": "SIMAKDEEP" if level == 6 else None}
    big = {
        "topics": [
            {"name": f"bulk.topic.{i:05d}", "partitions": 12, "replicas": 3, "note": "x" * 40}
            for i in range(520)
        ]
    }
    long_name = ("modifyVeryLongBackgroundTaskNameForTopic" * 6)[:200]
    specs: list[dict[str, Any]] = [
        f.task(long_name, at(0), "SUCCESS", params='{"topic":"orders.v1"}'),
        f.task("rebalancePartitionLeadersAcrossAZs", at(1), "SUCCESS", params="{}"),
        f.task("kafkaMirrorMakerSwitchover", at(2), "FAILED", params='{"direction":"dr->prod"}'),
        f.task("修改实例配置", at(3), "SUCCESS", user="zoë.müller 🚀", params='{"备注":"扩容 ✅"}'),
        f.task("restartInstance", at(4), "SUCCESS", user="Дмитрий Петров", params=""),
        f.task("kafkaConfigModify", at(5), "SUCCESS", params=json.dumps(big)),
        f.task("modifyAutoTopic", at(6), "SUCCESS", params=""),
        f.task("changeRetentionPolicy", at(7), "FAILED", params="not json"),
        f.task("kafkaClientQuotaDelete", at(8), "SUCCESS", params='[{"user":"a"},{"user":"b"}]'),
        f.task("modifySaslConfig", at(9), "SUCCESS", params=json.dumps(deep)),
        f.task(
            "modifyAutoTopic",
            at(10),
            "SUCCESS",
            user="<!channel>",
            params='{"old_auto_status":true,"new_auto_status":false}',
        ),
        f.task(
            "bindInstancePublicIp",
            at(11),
            "SUCCESS",
            user="R&D <ops> @here",
            params='{"note":"<https://evil.example|click> & <@U012345> *bold*"}',
        ),
        f.task("partitionReassign", at(12), "ROLLING_BACK", params='{"topic":"orders.v1"}'),
        f.task("kafkaResetConsumerOffset", at(13), "SUCCESS", params="null"),
        f.task("kafkaClientQuotaCreate", at(14), "CANCELLED", params="42"),
        f.task("createConnectorTask", at(15), "DELETED", params=json.dumps(_connector(rng))),
        f.task("enableSsl", at(16), "success", params='{"old_ssl_enable":false}'),
        f.task("", at(17), "SUCCESS", user="", params='"just a string"'),
        f.task(
            "resetKafkaUserPassword",
            at(18),
            "SUCCESS",
            params='{"user_name":"admin","new_password":"Pa$$w0rd```<>&"}',
        ),
    ]
    no_ms = f.task("modifyTopicAccessPolicy", at(19), "SUCCESS")
    no_ms["created_at"] = iso_s(at(19))
    no_ms["updated_at"] = iso_s(at(19) + timedelta(seconds=4))
    missing_updated = f.task("extendBroker", at(20), "SUCCESS")
    del missing_updated["updated_at"]
    specs += [no_ms, missing_updated]
    inst.tasks = _newest_first(specs)
    return inst


def build_instances(seed: int, now: datetime, bulk_tasks: int) -> list[SimInstance]:
    """Every instance of the simulated project, anchored at `now` (aware UTC)."""
    now = now.astimezone(UTC)
    return [
        _prod_orders(seed, now),
        _plain(
            seed,
            "prod-orders-dr",
            now,
            60,
            timedelta(days=14),
            status="RUNNING",
            engine_version="3.x",
            flavor="c6.4u8g.cluster",
            broker_num=3,
            storage_space=900,
            description="Disaster-recovery replica of prod-orders",
            human_share=0.05,
        ),
        _plain(
            seed,
            "prod-billing",
            now,
            140,
            timedelta(days=14),
            status="RUNNING",
            engine_version="2.7",
            flavor="c6.2u4g.cluster",
            broker_num=3,
            storage_space=600,
            description="Billing events",
        ),
        _plain(
            seed,
            "staging-events",
            now,
            180,
            timedelta(days=14),
            status="RUNNING",
            engine_version="3.x",
            flavor="c6.2u4g.cluster",
            broker_num=3,
            storage_space=300,
            description="Staging",
            human_share=0.45,
        ),
        _plain(
            seed,
            "bulk-audit",
            now,
            bulk_tasks,
            timedelta(days=7),
            status="RUNNING",
            engine_version="3.x",
            flavor="c6.12u24g.cluster",
            broker_num=6,
            storage_space=6000,
            description="Audit log fan-in (busy)",
            human_share=0.03,
        ),
        _edge_cases(seed, now),
    ]
