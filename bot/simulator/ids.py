"""Identifiers and fake secrets drawn from a seeded RNG, so the same seed gives the same ids."""

from __future__ import annotations

import random
import uuid


def hex32(rng: random.Random) -> str:
    return f"{rng.getrandbits(128):032x}"


def seeded_uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def fake_secret(rng: random.Random, prefix: str = "Sim") -> str:
    return f"{prefix}-{rng.getrandbits(64):016x}!"
