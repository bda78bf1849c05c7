"""Failures in words for the person who reads them in Slack: what happened, what to do, and
what support asks for. The DMS client raises structured errors (bot/dms/errors.py); this layer
alone words them, and alone names the settings an admin should look at."""

from __future__ import annotations

from bot.dms.errors import DmsError
from bot.report import Problem


def problem_for(exc: DmsError) -> Problem:
    return Problem(summary=exc.summary, hint=exc.hint, reference=exc.reference())


def no_default_location() -> Problem:
    return Problem(
        summary="This bot has no default project or region for instance ids.",
        hint="Use an alias from the bot's config, or ask an admin to set "
        "HUAWEICLOUD_SDK_PROJECT_ID and DMS_REGION.",
    )
