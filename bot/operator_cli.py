"""`dms-tasks-bot digest list | send`: the operator's view of scheduled digests, from a shell
next to the running bot (same settings, same store, same Slack app).

- `digest list` reads the store only (no cloud, no Slack): every subscription, its schedule,
  next run, last result and whether it is paused.
- `digest send <target>[,…] --channel C` posts a one-off digest of the last 24 h now, through the
  configured Slack, judged by the same access rules as a scheduled one for channel C.

Exit codes: 0 done, 1 Slack or the store refused (the message says why and what to do), 2 bad
settings or arguments.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TextIO
from zoneinfo import ZoneInfo

from bot.digests import PREVIEW_PERIOD
from bot.domain.digests import DigestResult, Subscription
from bot.domain.schedule import next_due
from bot.poster import ChannelUnavailable, Posted
from bot.render import render_digest
from bot.runtime import Runtime
from bot.settings import Settings, SettingsError
from bot.store import StoreError, open_store

# Slack channel ids: C… public, G… private (older), D… a DM.
_CHANNEL_PREFIXES = ("C", "G", "D")


def _local(moment: datetime, tz: str) -> str:
    local = moment.astimezone(ZoneInfo(tz))
    return f"{local:%Y-%m-%d %H:%M} {local.tzname()} ({moment.astimezone(UTC):%H:%M} UTC)"


def _result(result: DigestResult | None, tz: str) -> str:
    if result is None:
        return "not run yet"
    detail = f" ({result.detail})" if result.detail else ""
    return f"{result.kind.value}{detail}, due {_local(result.due, tz)}"


def subscription_lines(sub: Subscription, now: datetime) -> list[str]:
    schedule = f"{sub.days.value} at {sub.at:%H:%M} {sub.tz}" + (" quiet" if sub.quiet else "")
    nxt = f"paused ({sub.paused})" if sub.paused else _local(next_due(sub, now), sub.tz)
    return [
        f"{sub.id}  channel {sub.channel_id}  {','.join(sub.targets)}",
        f"    schedule:    {schedule}",
        f"    next run:    {nxt}",
        f"    last result: {_result(sub.last_result, sub.tz)}",
        f"    added by:    {sub.created_by or 'unknown'}",
    ]


async def digest_list(settings: Settings, out: TextIO, *, now: datetime | None = None) -> int:
    try:
        store = await open_store(
            str(settings.db_path),
            settings.redis_url.get_secret_value() if settings.redis_url else None,
        )
    except StoreError as exc:
        raise SettingsError(str(exc)) from None
    try:
        subs = await store.all()
    except StoreError as exc:
        print(str(exc), file=out)
        return 1
    finally:
        await store.close()
    moment = now or datetime.now(UTC)
    where = "Redis (REDIS_URL)" if settings.redis_url else str(settings.db_path)
    if not subs:
        print(
            f"No digests in {where}. Add one in a Slack channel: "
            f"{settings.command} digest add <instance> at 09:00",
            file=out,
        )
        return 0
    print(f"{len(subs)} digest{'s' if len(subs) != 1 else ''} in {where}:", file=out)
    for sub in subs:
        print("\n".join(subscription_lines(sub, moment)), file=out)
    return 0


def _check_channel(channel: str) -> None:
    if not channel or not channel.startswith(_CHANNEL_PREFIXES) or not channel.isalnum():
        raise SettingsError(
            f"--channel {channel!r} is not a Slack channel id: use the id (C0123ABCD) from the "
            "channel's details, not its #name."
        )


async def digest_send(settings: Settings, targets: str, channel: str, out: TextIO) -> int:
    _check_channel(channel)
    wanted = tuple(t.strip() for t in targets.split(",") if t.strip())
    if not wanted:
        raise SettingsError("digest send needs a target: an instance alias or id, or all.")
    settings.check_cloud()
    if not settings.slack_bot_token:
        raise SettingsError(
            "SLACK_BOT_TOKEN is not set: digest send posts as the bot, with its Bot User OAuth "
            "Token (xoxb-…)."
        )
    runtime = Runtime(settings, with_slack=False, with_store=False)
    try:
        _, poster = runtime.open_poster()
        refs, refused = await runtime.digests.targets(channel, wanted)
        if not refs:
            print(
                f"Channel {channel} may not see {', '.join(refused) or 'any instance'}: nothing "
                "was posted. The access rules are in DMS_BOT_CONFIG.",
                file=out,
            )
            return 1
        end = runtime.service.now()
        report = await runtime.digests.build(channel, wanted, end - PREVIEW_PERIOD, end)
        message = render_digest(report)
        assert message is not None  # only a quiet digest with nothing to say posts nothing
        posted = await poster.post(channel, message)
    finally:
        await runtime.stop()
    if isinstance(posted, Posted):
        covered = ", ".join(r.display_name for r in refs)
        print(f"Posted a digest of {covered} (the last 24 h) to {channel}.", file=out)
        for target in refused:
            print(f"Left out {target}.", file=out)
        return 0
    if isinstance(posted, ChannelUnavailable):
        print(
            f"Slack answered {posted.reason} for {channel}: invite the bot to the channel "
            "(/invite @dms-tasks-bot) or check the id, then send again.",
            file=out,
        )
        return 1
    print(
        f"Slack refused the post ({posted.error}); nothing was posted. Check SLACK_BOT_TOKEN "
        "and the bot's chat:write scope, then send again.",
        file=out,
    )
    return 1
