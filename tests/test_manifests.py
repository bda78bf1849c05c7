"""The Slack app manifests the README tells people to paste: both modes, the command the bot
listens for, the events it answers, the minimal scopes, and the App Home messages tab."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.settings import Settings
from handlers.mentions import BOT_NAME

ROOT = Path(__file__).resolve().parent.parent
MANIFESTS = {
    "http": ROOT / "slack-app-manifest.yml",
    "socket": ROOT / "slack-app-manifest-socket.yml",
}
# Each scope is explained in the README; a new one must be argued for there, and here.
SCOPES = {"app_mentions:read", "commands", "chat:write", "users:read"}
# Events the bot has listeners for (handlers/mentions.py), each needing its subscription.
BOT_EVENTS = ["app_mention"]


def manifest(mode: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(MANIFESTS[mode].read_text(encoding="utf-8"))
    return loaded


@pytest.mark.parametrize("mode", sorted(MANIFESTS))
def test_the_manifest_names_the_command_the_bot_listens_for(mode: str) -> None:
    [command] = manifest(mode)["features"]["slash_commands"]
    assert command["command"] == Settings.model_validate({}).command


def readme_scope_rows() -> dict[str, str]:
    """The README's scope table ("| scope | why |"): scope -> why."""
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    start = next(
        n for n, line in enumerate(lines) if re.fullmatch(r"\|\s*scope\s*\|\s*why\s*\|", line)
    )
    rows: dict[str, str] = {}
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        rows[cells[0].strip("`")] = cells[1] if len(cells) > 1 else ""
    return rows


@pytest.mark.parametrize("mode", sorted(MANIFESTS))
def test_scopes_are_the_minimal_set(mode: str) -> None:
    scopes = manifest(mode)["oauth_config"]["scopes"]["bot"]
    assert set(scopes) == SCOPES and len(scopes) == len(SCOPES)


@pytest.mark.parametrize("scope", sorted(SCOPES))
def test_the_readme_scope_table_says_why_for_each_scope(scope: str) -> None:
    rows = readme_scope_rows()
    assert rows.get(scope, "").strip(), f"README's scope table does not explain {scope}"
    assert set(rows) <= SCOPES, "README explains a scope the manifests do not ask for"


@pytest.mark.parametrize("mode", sorted(MANIFESTS))
def test_the_manifest_subscribes_to_the_events_the_bot_answers(mode: str) -> None:
    events = manifest(mode)["settings"]["event_subscriptions"]
    assert events["bot_events"] == BOT_EVENTS
    # app_mention is delivered only with its scope.
    assert "app_mentions:read" in manifest(mode)["oauth_config"]["scopes"]["bot"]


@pytest.mark.parametrize("mode", sorted(MANIFESTS))
def test_examples_name_the_bot_as_the_manifest_does(mode: str) -> None:
    # "@dms-tasks-bot <command>" in the answers to mentions.
    assert manifest(mode)["features"]["bot_user"]["display_name"] == BOT_NAME


@pytest.mark.parametrize("mode", sorted(MANIFESTS))
def test_the_bots_dm_takes_commands(mode: str) -> None:
    home = manifest(mode)["features"]["app_home"]
    assert home["messages_tab_enabled"] is True
    assert home["messages_tab_read_only_enabled"] is False


def test_http_mode_points_slack_at_the_events_route() -> None:
    app = manifest("http")
    assert app["settings"]["socket_mode_enabled"] is False
    assert app["settings"]["interactivity"]["request_url"].endswith("/slack/events")
    assert app["features"]["slash_commands"][0]["url"].endswith("/slack/events")
    assert app["settings"]["event_subscriptions"]["request_url"].endswith("/slack/events")


def test_socket_mode_needs_no_url() -> None:
    app = manifest("socket")
    assert app["settings"]["socket_mode_enabled"] is True
    assert "request_url" not in app["settings"]["interactivity"]
    assert "url" not in app["features"]["slash_commands"][0]
    assert "request_url" not in app["settings"]["event_subscriptions"]
