"""One simulated Kafka instance: what the instance APIs list and the tasks it holds."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.simulator.timestamps import parse_task_time


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
