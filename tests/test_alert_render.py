"""Alert posts and replies: what they say, and that Slack takes them for any data (long names,
huge params, secrets, markup in names, a hundred failures at once)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.blockkit import check_posted_message
from bot.domain.alerts import (
    ALL_TARGETS,
    Alert,
    AlertAdded,
    AlertEvent,
    AlertKind,
    AlertListing,
    AlertRemoved,
    AlertView,
)
from bot.domain.durations import DurationRange
from bot.domain.instances import InstanceRef
from bot.grammar.state import decode_state
from bot.ids import ActionId
from bot.render import render_text
from bot.render.alerts import (
    Fired,
    render_alert_announcement,
    render_alert_event,
    render_alert_outcome,
    render_alert_summary,
)
from tests.render_builders import (
    INSTANCE,
    NOW,
    SECRET,
    all_text,
    api_tasks,
    assert_valid,
    buttons_by_action,
    make_task,
    secret_fragments,
    wild_text,
)

CMD = "/dms-tasks"
ALERT = Alert("k3m9qa", "C1", ("prod-orders",), created_at=NOW - timedelta(hours=1), stuck=True)
LONG = InstanceRef(
    instance_id="a1b2c3d4-0000-4000-8000-123456789abc",
    project_id="p",
    region="r",
    name="<!channel> " + "very-long-instance-name-" * 20,
)


def posted(message: dict[str, Any]) -> str:
    """The message as Slack would take it from chat.postMessage, as text."""
    assert_valid(message)
    check_posted_message(message)
    return render_text(message)


def failed(n: int = 1, **kwargs: Any) -> Fired:
    params = kwargs.pop("params", {"group": "orders-consumer", "topic": "orders"})
    task = make_task(n, name="kafkaResetConsumerOffset", status="FAILED", params=params, **kwargs)
    return Fired(INSTANCE, AlertEvent(AlertKind.FAILED, task))


def test_a_failure_post_names_instance_task_user_times_and_key_params() -> None:
    fired = failed(user="bob.ops", minutes_ago=12, took=65)
    message = render_alert_event(ALERT.id, fired, NOW, CMD)
    text = posted(message)
    assert "Reset consumer offset" in text and "prod-orders" in text and "bob.ops" in text
    assert "failed" in message["text"] and "prod-orders" in message["text"]
    assert "*Consumer group*: orders-consumer; *Topic*: orders" in text
    assert "took 1 min" in text
    raw = all_text(message)
    # Times everyone reads in their own zone: date tokens, nothing relative.
    assert raw.count("<!date^") == 2 and "ago" not in raw
    assert "alert remove k3m9qa" in text
    (button,) = buttons_by_action(message)[ActionId.OPEN_LIST.value]
    query, _ = decode_state(button["value"])
    assert query.target == "prod-orders"
    assert query.window.begin <= fired.event.task.created_at <= query.window.end  # type: ignore[operator]


def test_secrets_in_params_never_show() -> None:
    fired = failed(params={"sasl_plain_password": SECRET, "user": "admin", "token": SECRET})
    raw = all_text(render_alert_event(ALERT.id, fired, NOW, CMD))
    assert SECRET not in raw
    assert "*User*: admin" in raw


def test_a_stuck_post_says_why() -> None:
    task = make_task(2, name="extendStorage", status="EXECUTING", minutes_ago=190, took=None)
    usual = DurationRange(timedelta(minutes=4), timedelta(minutes=6), samples=5)
    fired = Fired(INSTANCE, AlertEvent(AlertKind.STUCK, task, usual))
    text = posted(render_alert_event(ALERT.id, fired, NOW, CMD))
    assert "running far too long" in text
    assert "running 3 h 10 min; usually done in 4–6 min" in text
    bare = Fired(INSTANCE, AlertEvent(AlertKind.STUCK, task, None))
    assert "no finished run of this kind to compare with, and past 2 h" in posted(
        render_alert_event(ALERT.id, bare, NOW, CMD)
    )


def test_a_hundred_failures_at_once_are_one_summary_within_slacks_limits() -> None:
    fired = [
        Fired(
            LONG if n % 2 else INSTANCE,
            AlertEvent(
                AlertKind.FAILED,
                make_task(
                    n,
                    name="x" * 200,
                    status="FAILED",
                    user="u" * 300,
                    params={f"k{i}": "v" * 500 for i in range(20)},
                ),
            ),
        )
        for n in range(100)
    ]
    message = render_alert_summary(ALERT.id, fired, NOW, CMD)
    text = posted(message)
    assert "100 tasks failed" in message["text"]
    assert "more: Open list shows them all" in text
    assert len(buttons_by_action(message)[ActionId.OPEN_LIST.value]) == 2
    assert "&lt;!channel&gt;" in all_text(message) and "<!channel>" not in all_text(message)


def test_a_summary_of_failures_and_stuck_tasks_counts_both() -> None:
    task = make_task(9, name="extendStorage", status="EXECUTING", minutes_ago=300, took=None)
    fired = [failed(1), failed(2), Fired(INSTANCE, AlertEvent(AlertKind.STUCK, task))]
    message = render_alert_summary(ALERT.id, fired, NOW, CMD)
    assert "2 tasks failed and 1 task running far too long on prod-orders" in posted(message)


@settings(
    max_examples=60,
    deadline=None,
    # Hostile task data is large on purpose: up to 12 tasks of long names and deep params.
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    tasks=st.lists(st.integers(0, 10**6), min_size=1, max_size=12).flatmap(
        lambda ns: st.tuples(*(api_tasks(n) for n in ns))
    ),
    name=wild_text,
    stuck=st.booleans(),
)
def test_any_task_data_makes_posts_slack_takes(
    tasks: tuple[Any, ...], name: str, stuck: bool
) -> None:
    instance = InstanceRef(instance_id="i-1", project_id="p", region="r", name=name or None)
    kind = AlertKind.STUCK if stuck else AlertKind.FAILED
    fired = [Fired(instance, AlertEvent(kind, task)) for task in tasks]
    for one in fired:
        raw = all_text(render_alert_event(ALERT.id, one, NOW, CMD))
        posted(render_alert_event(ALERT.id, one, NOW, CMD))
        for secret in secret_fragments((one.event.task,)):
            assert secret not in raw
    posted(render_alert_summary(ALERT.id, fired, NOW, CMD))


def view(alert: Alert = ALERT, covers: tuple[str, ...] = ()) -> AlertView:
    return AlertView(alert, covers)


def test_the_replies_to_add_list_and_remove() -> None:
    added = posted(render_alert_outcome(AlertAdded(CMD, view())))
    assert "Alert `k3m9qa` added" in added and "fail or run far too long" in added
    assert "/dms-tasks alert remove k3m9qa" in added
    assert "before that is not posted" in added
    every = Alert("ab2345", "C1", (ALL_TARGETS,), created_at=NOW, paused="not_in_channel")
    listing = posted(
        render_alert_outcome(
            AlertListing(CMD, "C1", (view(), view(every, ("prod-orders", "billing"))))
        )
    )
    assert "2 alerts in this channel" in listing
    assert "every instance this channel may see (now prod-orders and billing)" in listing
    assert "*paused* (not_in_channel): invite the bot" in listing
    assert "/dms-tasks alert add prod-orders" in posted(
        render_alert_outcome(AlertListing(CMD, "C1", ()))
    )
    removed = posted(render_alert_outcome(AlertRemoved(ALERT)))
    assert "Alert `k3m9qa` removed" in removed


def test_a_listing_of_many_alerts_with_long_targets_fits() -> None:
    many = tuple(
        view(
            Alert(f"a{n:05d}", "C1", tuple("t" * 100 + str(i) for i in range(30)), created_at=NOW),
        )
        for n in range(60)
    )
    text = posted(render_alert_outcome(AlertListing(CMD, "C1", many)))
    shown = text.count("· tasks that fail on")
    assert "60 alerts" in text and f"… and {60 - shown} more" in text and shown >= 10
    assert "and 25 more" in text  # of one alert's 30 targets


def test_the_announcement_names_who_and_what_and_disarms_markup() -> None:
    message = render_alert_announcement(view(replace_targets("<!here>")), "U0ALICE")
    text = posted(message)
    assert "<@U0ALICE>" in all_text(message) and "<!here>" not in all_text(message)
    assert "will be posted in this channel" in text
    assert "Someone added" in posted(render_alert_announcement(view(), "not-an-id"))


def replace_targets(*targets: str) -> Alert:
    return Alert("k3m9qa", "C1", targets, created_at=datetime(2026, 1, 1, tzinfo=NOW.tzinfo))
