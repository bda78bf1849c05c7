"""Watch messages for any data: every state of the message, the reply and the private answers
pass the Block Kit checks chat.postMessage applies, escape what came from the API, and say what
the on-call engineer needs (label, instance, status, progress, elapsed, start, who asked)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.blockkit import check_posted_message, iter_elements
from bot.domain.instances import InstanceRef
from bot.domain.tasks import Task
from bot.domain.watches import (
    AlreadyFinished,
    AlreadyWatched,
    Ending,
    EndReason,
    NotWatching,
    Progress,
    Stopping,
    StopRefused,
    TooManyWatches,
    Watch,
    WatchStarted,
    watch_id,
)
from bot.ids import ActionId
from bot.render.watch import render_watch, render_watch_outcome, render_watch_reply

NOW = datetime(2026, 12, 2, 10, 12, tzinfo=UTC)
STARTED = NOW - timedelta(hours=1, minutes=12)
REF = InstanceRef(instance_id="4f1c-e2a1", project_id="p1", region="r1", alias="prod-orders")
NASTY = "<!channel> *bold* `tick` &amp; " + "長" * 3000


def task(status: str = "EXECUTING", **fields: Any) -> Task:
    data = {
        "id": "8abfa7b372160bfd0172165864064079",
        "name": "extendBroker",
        "user_name": "alice.ops",
        "status": status,
        "params": json.dumps({"old_broker_num": 3, "new_broker_num": 5, "sasl_password": "s3cr3t"}),
        "created_at": STARTED.isoformat(),
        "updated_at": NOW.isoformat(),
    }
    return Task.model_validate({**data, **fields})


def watch(**changes: Any) -> Watch:
    base = dict(
        id=watch_id("U0ALICE", REF, "8abf"),
        user_id="U0ALICE",
        asked_in="C0ONCALL",
        target="prod-orders",
        instance=REF,
        task_id="8abfa7b372160bfd0172165864064079",
        started_at=STARTED,
        channel_id="C0ONCALL",
        message_ts="1796217111.000100",
        task=task(),
        checked_at=NOW,
        interval_s=10.0,
    )
    return Watch(**{**base, **changes})  # type: ignore[arg-type]


def raw(message: dict[str, Any]) -> str:
    check_posted_message(message)
    return message["text"] + json.dumps(message["blocks"], ensure_ascii=False)


def test_the_live_message_says_what_runs_where_since_when_and_for_whom() -> None:
    message = render_watch(watch(progress=Progress(42, 300, "rebalance")), NOW)
    text = raw(message)
    assert "👀 Watching *Add brokers* on *prod-orders* · ⏳ running" in text
    assert "42 % · step rebalance · about 5 min left" in text
    assert "running 1 h 12 min" in text and "asked by <@U0ALICE>" in text
    assert f"started <!date^{int(STARTED.timestamp())}^" in text
    [stop] = list(iter_elements(message))
    assert stop["action_id"] == ActionId.WATCH_STOP.unique(1)


def test_a_failed_look_is_shown_with_when_it_tries_again() -> None:
    text = raw(render_watch(watch(error="Huawei Cloud's DMS API timed out.", interval_s=22.5), NOW))
    assert "⚠ could not check: Huawei Cloud's DMS API timed out. Trying again in 22 s." in text


@pytest.mark.parametrize(
    ("status", "head"),
    [
        ("SUCCESS", "✅ *Add brokers* on *prod-orders* finished: *SUCCESS* after 1 h 12 min"),
        ("FAILED", "❌ *Add brokers* on *prod-orders* finished: *FAILED* after 1 h 12 min"),
        ("CANCELLED", "finished: *CANCELLED*"),
        ("DELETED", "finished: *DELETED*"),
    ],
)
def test_the_final_state_has_no_button_and_says_how_it_ended(status: str, head: str) -> None:
    ended = watch(task=task(status), ending=Ending(EndReason.FINISHED, NOW))
    message = render_watch(ended, NOW)
    text = raw(message)
    assert head in text and list(iter_elements(message)) == []
    assert f"ended <!date^{int(NOW.timestamp())}^" in text
    assert "s3cr3t" not in text


def test_the_reply_mentions_whoever_asked_with_the_outcome() -> None:
    ok = render_watch_reply(
        watch(task=task("SUCCESS"), ending=Ending(EndReason.FINISHED, NOW)), NOW
    )
    assert raw(ok).startswith(
        "<@U0ALICE> *Add brokers* on *prod-orders* finished: *SUCCESS* after 1 h 12 min"
    )
    failed = raw(
        render_watch_reply(watch(task=task("FAILED"), ending=Ending(EndReason.FINISHED, NOW)), NOW)
    )
    assert ("FAILED after 1 h 12 min · " in failed and "3 → 5" in failed) or "3" in failed
    assert "s3cr3t" not in failed


def test_ends_other_than_finishing_say_why() -> None:
    gone = raw(render_watch(watch(ending=Ending(EndReason.GONE, NOW)), NOW))
    assert "the task record is gone" in gone and "Last seen: ⏳ running" in gone
    expired = watch(ending=Ending(EndReason.EXPIRED, NOW), progress=Progress(42))
    assert "after 24 h; it was still ⏳ running, 42 %" in raw(render_watch(expired, NOW))
    assert "after 24 h" in raw(render_watch_reply(expired, NOW))
    stopped = raw(render_watch(watch(ending=Ending(EndReason.STOPPED, NOW, "U0ALICE")), NOW))
    assert "<@U0ALICE> stopped it" in stopped
    no_access = raw(render_watch(watch(ending=Ending(EndReason.NO_ACCESS, NOW)), NOW))
    assert "access rules no longer" in no_access


@pytest.mark.parametrize("reason", list(EndReason))
@pytest.mark.parametrize("status", ["EXECUTING", "SUCCESS", "FAILED", "ROLLING_BACK", ""])
def test_any_data_makes_messages_slack_accepts_and_nothing_becomes_a_mention(
    reason: EndReason, status: str
) -> None:
    nasty_task = task(
        status,
        name=NASTY,
        user_name=NASTY,
        params=json.dumps({NASTY: NASTY, "token": NASTY}),
        created_at=None if status == "" else STARTED.isoformat(),
    )
    nasty = watch(
        instance=REF.model_copy(update={"alias": NASTY}),
        task=nasty_task,
        progress=Progress(100, 10**9, NASTY),
        error=NASTY,
        user_id="<!here>",
    )
    for shown in (
        render_watch(nasty, NOW),
        render_watch(Watch(**{**nasty.__dict__, "ending": Ending(reason, NOW, "<!here>")}), NOW),
        render_watch_reply(Watch(**{**nasty.__dict__, "ending": Ending(reason, NOW)}), NOW),
    ):
        text = raw(shown)
        assert "<!channel>" not in text and "<!here>" not in text
        assert "layout" not in text  # not the safety net's notice


def test_a_watch_never_seen_still_renders() -> None:
    assert "not seen yet" in raw(render_watch(watch(task=None, checked_at=None), NOW))


def test_the_private_answers() -> None:
    w = watch(thread_ts=None)
    assert "in <#C0ONCALL>" in raw(render_watch_outcome(WatchStarted(w)))
    dm = raw(render_watch_outcome(WatchStarted(watch(in_dm=True), "not_in_channel")))
    assert "in your DM with the bot (the bot is not in this channel" in dm
    assert "<https://x.test/p1|its message>" in raw(
        render_watch_outcome(AlreadyWatched(w, "https://x.test/p1"))
    )
    assert "its message (posted <!date^1796217111^" in raw(render_watch_outcome(AlreadyWatched(w)))
    done = raw(render_watch_outcome(AlreadyFinished(REF, task("SUCCESS"), NOW)))
    assert "has already finished: *SUCCESS* after 1 h 12 min" in done
    mine = raw(render_watch_outcome(TooManyWatches(5, True, (w,) * 5)))
    assert "You are watching 5 tasks already" in mine
    assert "The bot is watching 200" in raw(render_watch_outcome(TooManyWatches(200, False)))
    assert "Only <@U0ALICE> can stop" in raw(render_watch_outcome(StopRefused(w)))
    assert "Stopping" in raw(render_watch_outcome(Stopping(w)))
    assert "already ended" in raw(render_watch_outcome(NotWatching()))
