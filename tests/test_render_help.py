"""Help: real examples first, commands the grammar reads, only the instances this channel sees."""

from __future__ import annotations

import re

from bot.blockkit import unescape
from bot.domain.query import TaskQuery
from bot.grammar.parser import parse_command
from bot.render import render_help, render_text
from bot.report import HelpView
from tests.render_builders import BERLIN, NOW, assert_valid


def test_help_gives_examples_first_then_grammar_and_only_visible_instances() -> None:
    message = render_help(HelpView(command="/dms-tasks", instances=("billing", "prod-orders")))
    assert_valid(message)
    text = render_text(message)
    first_block = message["blocks"][0]["text"]["text"]
    assert first_block.count("/dms-tasks billing") == 3
    assert text.index("/dms-tasks billing last 1h") < text.index("How to ask")
    assert "Instances you can use here:* billing, prod-orders" in text


def test_help_examples_are_commands_the_grammar_reads() -> None:
    message = render_help(HelpView(command="/dms-tasks", instances=("prod-orders",)))
    examples = re.findall(r"`/dms-tasks ([^`]*)`", message["blocks"][0]["text"]["text"])
    assert len(examples) == 3
    for example in examples:
        query = parse_command(unescape(example), now=NOW, tz=BERLIN)
        assert isinstance(query, TaskQuery)
        assert query.target == "prod-orders"


def test_help_window_forms_are_ones_the_grammar_reads() -> None:
    grammar = render_help(HelpView(command="/dms-tasks", instances=()))["blocks"][1]["text"]["text"]
    line = next(x for x in grammar.splitlines() if "*window*" in x)
    for form in re.findall(r"`([^`]*)`", line):
        assert isinstance(parse_command(f"x {form}", now=NOW, tz=BERLIN), TaskQuery), form


def test_help_without_instances_uses_a_placeholder() -> None:
    text = render_text(render_help(HelpView(command="/dms-tasks", instances=())))
    assert "/dms-tasks <instance id> last 1h" in text


def test_help_under_access_rules_offers_nothing_that_would_be_refused() -> None:
    none_here = render_help(HelpView(command="/dms-tasks", instances=(), restricted=True))
    text = render_text(none_here)
    assert "None of the bot's Kafka instances is available in this channel" in text
    assert "/dms-tasks" not in text and "instance id" not in text
    some = render_text(render_help(HelpView("/dms-tasks", ("billing",), restricted=True)))
    assert "/dms-tasks billing last 1h" in some
    assert "instance id" not in some and "instance name" not in some


def test_help_names_digests_alerts_watch_and_threads_with_examples_that_parse() -> None:
    from bot.grammar.alert_commands import parse_alert_command
    from bot.grammar.digest_commands import parse_digest_command

    message = render_help(HelpView(command="/dms-tasks", instances=("prod-orders",)))
    assert_valid(message)
    beyond = next(b["text"]["text"] for b in message["blocks"] if "Beyond one answer" in str(b))
    digests = re.findall(r"`/dms-tasks (digest [^`]*)`", beyond)
    alerts = re.findall(r"`/dms-tasks (alert [^`]*)`", beyond)
    assert len(digests) == 3 and len(alerts) == 2
    for example in digests:
        parse_digest_command(unescape(example))
    for example in alerts:
        parse_alert_command(unescape(example))
    assert "prod-orders" in digests[0] and "Watch" in beyond
    [mention] = re.findall(r"`@dms-tasks-bot ([^`]*)`", beyond)
    assert isinstance(parse_command(mention, now=NOW, tz=BERLIN), TaskQuery)
