"""Task records for one instance: the kinds, their durations and users, and a factory that
draws them from the instance's own RNG."""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta
from typing import Any

from bot.simulator.ids import hex32
from bot.simulator.params import PARAMS
from bot.simulator.timestamps import iso_ms

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


class TaskFactory:
    """Builds task records for one instance from its own RNG."""

    def __init__(self, rng: random.Random, *, human_share: float = 0.2) -> None:
        self.rng = rng
        self.human_share = human_share
        self.user_ids = {name: hex32(rng) for name in (PAAS_USER, *HUMAN_USERS)}
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
            "id": hex32(self.rng),
            "name": name,
            "user_name": user,
            "user_id": self.user_ids.get(user) or hex32(self.rng),
            "params": params if params is not None else self.params(name),
            "status": status,
            "created_at": iso_ms(created),
            "updated_at": iso_ms(updated),
        }

    def params(self, name: str) -> str:
        maker = PARAMS.get(name)
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
