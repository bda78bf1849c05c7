from pathlib import Path

import pytest

from bot.settings import Settings, SettingsError, load_settings

CLOUD = {
    "HUAWEICLOUD_SDK_AK": "AKTEST",
    "HUAWEICLOUD_SDK_SK": "SKTEST",
    "HUAWEICLOUD_SDK_PROJECT_ID": "proj",
    "DMS_REGION": "cn-north-4",
}

ENV_NAMES = [
    *CLOUD,
    "HUAWEICLOUD_SDK_SECURITY_TOKEN",
    "DMS_IAM_USERNAME",
    "DMS_IAM_PASSWORD",
    "DMS_IAM_DOMAIN",
    "DMS_ENDPOINT",
    "DMS_BOT_CONFIG",
    "DMS_BOT_TIMEZONE",
    "SLACK_BOT_TOKEN",
    "SLACK_SIGNING_SECRET",
    "SLACK_APP_TOKEN",
    "PORT",
]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)


def env(monkeypatch: pytest.MonkeyPatch, **values: str) -> Settings:
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return load_settings()


def test_sdk_variable_names_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = env(monkeypatch, **CLOUD, HUAWEICLOUD_SDK_SECURITY_TOKEN="tok")
    settings.check_cloud()
    assert settings.ak is not None and settings.ak.get_secret_value() == "AKTEST"
    assert settings.security_token is not None
    assert settings.endpoint_for("cn-north-4") == "https://dms.cn-north-4.myhuaweicloud.com"
    assert settings.endpoint_for("eu-west-101") == "https://dms.eu-west-101.myhuaweicloud.eu"


def test_secrets_do_not_show_in_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = env(monkeypatch, **CLOUD, SLACK_SIGNING_SECRET="sigsecret")
    assert "SKTEST" not in repr(settings)
    assert "sigsecret" not in repr(settings)


def test_endpoint_override_applies_to_every_region(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = env(monkeypatch, **CLOUD, DMS_ENDPOINT="http://127.0.0.1:9/")
    assert settings.endpoint_for("ap-southeast-1") == "http://127.0.0.1:9"


@pytest.mark.parametrize(
    ("values", "named"),
    [
        ({"HUAWEICLOUD_SDK_AK": "a"}, "HUAWEICLOUD_SDK_SK"),
        ({"HUAWEICLOUD_SDK_SK": "s"}, "HUAWEICLOUD_SDK_AK"),
        ({}, "HUAWEICLOUD_SDK_AK"),
        ({"HUAWEICLOUD_SDK_AK": "a", "HUAWEICLOUD_SDK_SK": "s"}, "DMS_REGION"),
        (
            {"HUAWEICLOUD_SDK_AK": "a", "HUAWEICLOUD_SDK_SK": "s", "DMS_REGION": "r"},
            "HUAWEICLOUD_SDK_PROJECT_ID",
        ),
        ({**CLOUD, "DMS_IAM_USERNAME": "u", "DMS_IAM_PASSWORD": "p"}, "DMS_IAM_USERNAME"),
        (
            {"DMS_IAM_USERNAME": "u", "DMS_REGION": "r", "HUAWEICLOUD_SDK_PROJECT_ID": "p"},
            "DMS_IAM_DOMAIN",
        ),
        (
            {
                "DMS_IAM_USERNAME": "u",
                "DMS_IAM_PASSWORD": "p",
                "DMS_IAM_DOMAIN": "d",
                "DMS_ENDPOINT": "http://127.0.0.1:9",
                "HUAWEICLOUD_SDK_PROJECT_ID": "p",
            },
            "DMS_IAM_ENDPOINT",
        ),
        (
            {"HUAWEICLOUD_SDK_SECURITY_TOKEN": "t", "DMS_REGION": "r"},
            "HUAWEICLOUD_SDK_SECURITY_TOKEN",
        ),
    ],
)
def test_missing_or_contradictory_cloud_settings_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, values: dict[str, str], named: str
) -> None:
    settings = env(monkeypatch, **values)
    with pytest.raises(SettingsError) as err:
        settings.check_cloud()
    assert named in str(err.value)


def test_slack_settings_are_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(SettingsError, match="SLACK_BOT_TOKEN"):
        env(monkeypatch).check_slack()
    with pytest.raises(SettingsError, match="SLACK_SIGNING_SECRET"):
        env(monkeypatch, SLACK_BOT_TOKEN="xoxb-1").check_slack()
    with pytest.raises(SettingsError, match="xapp-"):
        env(monkeypatch, SLACK_BOT_TOKEN="xoxb-1", SLACK_APP_TOKEN="xoxb-2").check_slack()
    env(monkeypatch, SLACK_BOT_TOKEN="xoxb-1", SLACK_APP_TOKEN="xapp-1").check_slack()


def test_bad_port_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(SettingsError, match="PORT"):
        env(monkeypatch, PORT="http")


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "bot.toml"
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_config_aliases_span_projects_and_regions(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = write(
        tmp_path,
        """
default_timezone = "Europe/Berlin"
[instances.prod-orders]
instance_id = "11111111-1111-1111-1111-111111111111"
channels = ["C1"]
[instances.Dr-Orders]
instance_id = "22222222-2222-2222-2222-222222222222"
project_id = "other-project"
region = "ap-southeast-1"
[channels.C1]
default_instance = "prod-orders"
""",
    )
    settings = env(monkeypatch, **CLOUD, DMS_BOT_CONFIG=config)
    settings.check_cloud()
    refs = settings.instance_refs()
    assert refs["prod-orders"].project_id == "proj"
    assert refs["prod-orders"].region == "cn-north-4"
    assert refs["dr-orders"].project_id == "other-project"
    assert refs["dr-orders"].region == "ap-southeast-1"
    assert refs["dr-orders"].alias == "Dr-Orders"
    assert settings.load_config().has_access_rules
    assert str(settings.timezone()) == "Europe/Berlin"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("not = [toml", "not valid TOML"),
        ('[instances.a]\ninstance_id = "x"\ncolour = "red"\n', "colour"),
        ('[instances.a]\nproject_id = "p"\n', "instance_id"),
        ('[channels.C1]\ndefault_instance = "ghost"\n', "ghost"),
        ('[instances.a]\ninstance_id = "x"\n[instances.A]\ninstance_id = "y"\n', "twice"),
    ],
)
def test_bad_config_files_fail_with_a_clear_message(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, text: str, fragment: str
) -> None:
    settings = env(monkeypatch, **CLOUD, DMS_BOT_CONFIG=write(tmp_path, text))
    with pytest.raises(SettingsError, match=fragment):
        settings.check_cloud()


def test_missing_config_file_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    settings = env(monkeypatch, **CLOUD, DMS_BOT_CONFIG=str(tmp_path / "nope.toml"))
    with pytest.raises(SettingsError, match="does not exist"):
        settings.load_config()


def test_unknown_time_zone_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = env(monkeypatch, **CLOUD, DMS_BOT_TIMEZONE="Mars/Olympus")
    with pytest.raises(SettingsError, match="Mars/Olympus"):
        settings.timezone()


@pytest.mark.parametrize("alias", ["prod orders", "help", "Today", "status=x", "-dash"])
def test_aliases_that_cannot_be_typed_are_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, alias: str
) -> None:
    text = f'[instances."{alias}"]\ninstance_id = "x"\n'
    settings = env(monkeypatch, **CLOUD, DMS_BOT_CONFIG=write(tmp_path, text))
    with pytest.raises(SettingsError, match="cannot be typed"):
        settings.check_cloud()


def test_channel_default_must_be_allowed_in_that_channel(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    text = (
        '[instances.billing]\ninstance_id = "x"\nchannels = ["C1"]\n'
        '[channels.C2]\ndefault_instance = "billing"\n'
    )
    settings = env(monkeypatch, **CLOUD, DMS_BOT_CONFIG=write(tmp_path, text))
    with pytest.raises(SettingsError, match="do not include C2"):
        settings.check_cloud()


def test_huawei_cloud_europe_has_its_own_domain_for_dms_and_iam(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = env(monkeypatch, **CLOUD)
    # As in the official SDK's iam_region.py.
    assert settings.iam_endpoint_for("eu-west-101") == "https://iam.eu-west-101.myhuaweicloud.eu"
    assert settings.endpoint_for("eu-west-101") == "https://dms.eu-west-101.myhuaweicloud.eu"
    assert settings.iam_endpoint_for("cn-north-4") == "https://iam.cn-north-4.myhuaweicloud.com"


@pytest.mark.parametrize("name", ["/dms-tasks", "/kafka-tasks", "/k_1"])
def test_the_command_name_is_a_setting(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    assert env(monkeypatch, DMS_BOT_COMMAND=name).command == name


@pytest.mark.parametrize("name", ["dms-tasks", "/dms tasks", "/", "/DMS"])
def test_a_command_name_slack_would_not_accept_is_refused(
    monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    monkeypatch.setenv("DMS_BOT_COMMAND", name)
    with pytest.raises(SettingsError, match="DMS_BOT_COMMAND"):
        load_settings()
