"""The simulated account's instances and their background tasks: seeded, realistic, and
deterministic for a given seed and time anchor.

Each instance draws from its own RNG (seeded with the run's seed and the instance name), so
changing `bulk_tasks` leaves every other instance's data unchanged.
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.simulator.ids import fake_secret, seeded_uuid
from bot.simulator.model import SimInstance
from bot.simulator.params import connector_params
from bot.simulator.taskgen import PAAS_USER, SCALE_TASKS, TaskFactory
from bot.simulator.timestamps import iso_ms, iso_s, parse_task_time

# The data's public face: tests and the routes import these from here, wherever they live.
__all__ = [
    "SCALE_TASKS",
    "SimInstance",
    "build_extra_instances",
    "build_instances",
    "extra_name",
    "iso_ms",
    "parse_task_time",
]

# Kinds the running tasks of extra instances are drawn from: ones that take a while.
_LONG_KINDS = ("extendStorage", "extendBroker", "resizeFlavor", "partitionReassign")


def _newest_first(tasks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(tasks, key=lambda t: (parse_task_time(t["created_at"]), t["id"]), reverse=True)


def _instance(
    seed: int, name: str, now: datetime, **fields: Any
) -> tuple[SimInstance, random.Random]:
    rng = random.Random(f"{seed}:{name}")
    inst = SimInstance(
        instance_id=seeded_uuid(rng),
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

    deep: Any = {"sasl_plain_password": fake_secret(rng), "note": "deepest"}
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
        f.task("createConnectorTask", at(15), "DELETED", params=json.dumps(connector_params(rng))),
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
    # Credentials inside URLs, as connector and client configs carry them.
    url_secrets = f.task(
        "modifyConnectorSink",
        at(21),
        "SUCCESS",
        params=json.dumps(
            {
                "sink_url": "sasl_ssl://orders-app:url-pass-7Hq2@broker-1.internal:9093",
                "log": "connecting to https://svc:url-pass-9Kz4@obs.example.internal/ingest",
            }
        ),
    )
    specs += [no_ms, missing_updated, url_secrets]
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


def extra_name(n: int) -> str:
    """The name of the n-th extra instance (1-based): extra-001, extra-002, …"""
    return f"extra-{n:03d}"


def build_extra_instances(
    seed: int, now: datetime, count: int, tasks: int, span_days: float, running: int
) -> list[SimInstance]:
    """`count` more instances for load figures, each with `tasks` tasks: `running` of them
    EXECUTING since one to three hours ago, the others settled over the `span_days` before `now`.
    Each draws from its own RNG (seed and name), as the seeded instances do."""
    now = now.astimezone(UTC)
    built = []
    for n in range(1, count + 1):
        inst = _plain(
            seed,
            extra_name(n),
            now,
            tasks - running,
            timedelta(days=span_days),
            status="RUNNING",
            engine_version="3.x",
            flavor="c6.2u4g.cluster",
            broker_num=3,
            storage_space=300,
            description=f"Extra instance {n} of {count}",
        )
        rng = random.Random(f"{seed}:{inst.name}:running")
        f = TaskFactory(rng)
        active = [
            f.task(
                rng.choice(_LONG_KINDS),
                now - timedelta(hours=rng.uniform(1, 3)),
                "EXECUTING",
            )
            for _ in range(running)
        ]
        inst.tasks = _newest_first([*inst.tasks, *active])
        built.append(inst)
    return built
