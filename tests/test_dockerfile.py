"""The image keeps the digest store on a volume, so a new container keeps the subscriptions."""

from __future__ import annotations

import re
from pathlib import Path

DOCKERFILE = (Path(__file__).resolve().parents[1] / "Dockerfile").read_text()


def test_the_digest_store_lives_on_a_declared_volume_the_bot_user_owns() -> None:
    volume = re.search(r"^VOLUME\s+(\S+)", DOCKERFILE, re.M)
    db = re.search(r"DMS_BOT_DB=(\S+)", DOCKERFILE)
    assert volume and db, "the Dockerfile must set DMS_BOT_DB and declare a VOLUME"
    assert Path(db.group(1)).parent == Path(volume.group(1))
    assert f"chown bot {volume.group(1)}" in DOCKERFILE
