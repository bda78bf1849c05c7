"""The Slack app manifests the README tells people to paste: both modes, the command the bot
listens for, the minimal scopes, and the App Home messages tab."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
MANIFESTS = {
    "http": ROOT / "slack-app-manifest.yml",
    "socket": ROOT / "slack-app-manifest-socket.yml",
}
# Each scope is explained in the README; a new one must be argued for there, and here.
SCOPES = {"commands", "chat:write", "users:read"}


def manifest(mode: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(MANIFESTS[mode].read_text(encoding="utf-8"))
    return loaded


@pytest.mark.parametrize("mode", sorted(MANIFESTS))
def test_the_manifest_names_the_command_the_bot_listens_for(mode: str) -> None:
    [command] = manifest(mode)["features"]["slash_commands"]
    assert command["command"] == Settings.model_validate({}).command


@pytest.mark.parametrize("mode", sorted(MANIFESTS))
def test_scopes_are_the_minimal_set_the_readme_explains(mode: str) -> None:
    scopes = manifest(mode)["oauth_config"]["scopes"]["bot"]
    assert set(scopes) == SCOPES and len(scopes) == len(SCOPES)
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for scope in SCOPES:
        assert f"`{scope}`" in readme


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


def test_socket_mode_needs_no_url() -> None:
    app = manifest("socket")
    assert app["settings"]["socket_mode_enabled"] is True
    assert "request_url" not in app["settings"]["interactivity"]
    assert "url" not in app["features"]["slash_commands"][0]
