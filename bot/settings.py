"""All configuration: environment variables plus the optional TOML file named by DMS_BOT_CONFIG.

This is the only module that reads the environment. Everything is validated at start-up so that a
missing or contradictory setting stops the process with a message naming the variable to fix,
instead of surfacing as a confusing error in Slack at 3 a.m.
"""

from __future__ import annotations

import tomllib
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AliasChoices,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.domain.access import AccessRule
from bot.domain.durations import ExpectedDurations
from bot.domain.instances import RESERVED_WORDS, InstanceRef, is_typeable_alias
from bot.domain.query import MAX_WINDOW
from bot.grammar.durations import FORMS, parse_duration


class SettingsError(Exception):
    """A configuration problem, worded for the operator: which variable, and what to put in it."""


class InstanceConfig(BaseModel):
    """One `[instances.<alias>]` table of the config file."""

    model_config = ConfigDict(extra="forbid")

    instance_id: str = Field(min_length=1)
    project_id: str | None = None
    region: str | None = None
    # Access rules: when set, only these channels (and, if given, users) may see this instance.
    channels: list[str] | None = None
    users: list[str] | None = None


class ChannelConfig(BaseModel):
    """One `[channels.<channel id>]` table: what a bare `/dms-tasks` means in that channel."""

    model_config = ConfigDict(extra="forbid")

    default_instance: str


class DigestConfig(BaseModel):
    """`[digests]`: who may add and remove a channel's digests."""

    model_config = ConfigDict(extra="forbid")

    # Slack user ids; unset means anyone who may use the bot in that channel.
    managers: list[str] | None = None
    # What a `quiet` digest posts over a period with no tasks: one line, or nothing at all.
    quiet_posts: Literal["line", "nothing"] = "line"


def _expected_bound(value: Any) -> Any:
    """One `[expected]` entry: a duration as `last …` reads it ("2h", "90m", "1h30m"), at most a
    window's length (a task running longer has left the look-back of running tasks anyway)."""
    if isinstance(value, str):
        try:
            return parse_duration(value, at_most=MAX_WINDOW)
        except ValueError as exc:
            problem = f"{value!r} {exc}"
    else:
        number = isinstance(value, int | float) and not isinstance(value, bool)
        shown = "a table" if isinstance(value, dict) else repr(value)
        problem = f"{shown}{' (a number without a unit)' * number} is not a duration: write "
        problem += f"it as {FORMS}"
    raise PydanticCustomError("expected_duration", "{problem}", {"problem": problem})


ExpectedBound = Annotated[timedelta, BeforeValidator(_expected_bound)]


class BotConfig(BaseModel):
    """The TOML file named by DMS_BOT_CONFIG."""

    model_config = ConfigDict(extra="forbid")

    default_timezone: str | None = None
    instances: dict[str, InstanceConfig] = Field(default_factory=dict)
    channels: dict[str, ChannelConfig] = Field(default_factory=dict)
    # Slack user id -> that person's Huawei Cloud user name, for `user=me`.
    cloud_users: dict[str, str] = Field(default_factory=dict)
    digests: DigestConfig = Field(default_factory=DigestConfig)
    # `[expected]`: task name (the API's, or its label) -> how long a task of that name is
    # expected to take at most; a running one past it is flagged, whatever its history says.
    expected: dict[str, ExpectedBound] = Field(default_factory=dict)

    @property
    def expected_durations(self) -> ExpectedDurations:
        return ExpectedDurations(self.expected)

    @property
    def has_access_rules(self) -> bool:
        return any(i.channels is not None or i.users is not None for i in self.instances.values())


def _env(*names: str) -> AliasChoices:
    return AliasChoices(*names)


class Settings(BaseSettings):
    """Every setting the bot reads, named as the operator sets it."""

    model_config = SettingsConfigDict(env_file=None, extra="ignore", populate_by_name=True)

    # Huawei Cloud credentials, under the names the official SDK uses.
    ak: SecretStr | None = Field(default=None, validation_alias=_env("HUAWEICLOUD_SDK_AK"))
    sk: SecretStr | None = Field(default=None, validation_alias=_env("HUAWEICLOUD_SDK_SK"))
    project_id: str | None = Field(
        default=None, validation_alias=_env("HUAWEICLOUD_SDK_PROJECT_ID")
    )
    security_token: SecretStr | None = Field(
        default=None, validation_alias=_env("HUAWEICLOUD_SDK_SECURITY_TOKEN")
    )
    # IAM password-token authentication, the alternative to AK/SK.
    iam_username: str | None = Field(default=None, validation_alias=_env("DMS_IAM_USERNAME"))
    iam_password: SecretStr | None = Field(default=None, validation_alias=_env("DMS_IAM_PASSWORD"))
    iam_domain: str | None = Field(default=None, validation_alias=_env("DMS_IAM_DOMAIN"))
    iam_endpoint: str | None = Field(default=None, validation_alias=_env("DMS_IAM_ENDPOINT"))

    region: str | None = Field(default=None, validation_alias=_env("DMS_REGION"))
    endpoint: str | None = Field(default=None, validation_alias=_env("DMS_ENDPOINT"))
    config_path: Path | None = Field(default=None, validation_alias=_env("DMS_BOT_CONFIG"))
    timeout_seconds: float = Field(default=10.0, gt=0, validation_alias=_env("DMS_TIMEOUT"))
    retry_budget_seconds: float = Field(
        default=20.0, ge=0, validation_alias=_env("DMS_RETRY_BUDGET")
    )
    default_timezone: str = Field(default="UTC", validation_alias=_env("DMS_BOT_TIMEZONE"))
    # How far before a window the bot looks for tasks still running: the API filters on
    # created_at, so a scale-out that started before `last 1h` is otherwise invisible.
    running_lookback_days: int = Field(
        default=7, ge=1, le=31, validation_alias=_env("DMS_BOT_RUNNING_LOOKBACK_DAYS")
    )

    # Slack.
    slack_bot_token: SecretStr | None = Field(
        default=None, validation_alias=_env("SLACK_BOT_TOKEN")
    )
    slack_signing_secret: SecretStr | None = Field(
        default=None, validation_alias=_env("SLACK_SIGNING_SECRET")
    )
    slack_app_token: SecretStr | None = Field(
        default=None, validation_alias=_env("SLACK_APP_TOKEN")
    )
    slack_api_url: str = Field(
        default="https://slack.com/api/", validation_alias=_env("SLACK_API_URL")
    )
    # The slash command as named in the app's manifest: a command Bolt does not listen for is
    # acked by nobody, and Slack shows the user a bare "dispatch_failed".
    command: str = Field(
        default="/dms-tasks",
        pattern=r"^/[a-z0-9_-]{1,31}$",
        validation_alias=_env("DMS_BOT_COMMAND"),
    )
    # Digests: the store, and how late a missed digest may still be posted.
    db_path: Path = Field(default=Path("dms-tasks-bot.db"), validation_alias=_env("DMS_BOT_DB"))
    redis_url: SecretStr | None = Field(default=None, validation_alias=_env("REDIS_URL"))
    digest_grace_minutes: float = Field(
        default=120, ge=0, le=24 * 60, validation_alias=_env("DMS_BOT_DIGEST_GRACE_MINUTES")
    )
    scheduler_poll_seconds: float = Field(
        default=15, gt=0, le=60, validation_alias=_env("DMS_BOT_SCHEDULER_POLL_SECONDS")
    )
    # How often the alert job reads the instances its alerts cover (one read per instance).
    alert_interval_seconds: float = Field(
        default=60, ge=5, validation_alias=_env("DMS_BOT_ALERT_INTERVAL")
    )
    # On SIGTERM, how long answers already acknowledged may take to finish.
    shutdown_grace_seconds: float = Field(
        default=10.0, ge=0, le=300, validation_alias=_env("DMS_BOT_SHUTDOWN_GRACE")
    )
    port: int = Field(default=3000, ge=1, le=65535, validation_alias=_env("PORT"))

    # The config file, read once on first use.
    _config: BotConfig | None = PrivateAttr(default=None)

    @field_validator("config_path", "redis_url", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: Any) -> Any:
        # `docker run --env-file` turns `DMS_BOT_CONFIG=` into an empty string: that means unset.
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("endpoint", "iam_endpoint", "slack_api_url", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, str) and not value.strip():
            return None if info.field_name != "slack_api_url" else "https://slack.com/api/"
        return value

    @field_validator("db_path", mode="before")
    @classmethod
    def _default_db(cls, value: Any) -> Any:
        return "dms-tasks-bot.db" if isinstance(value, str) and not value.strip() else value

    @property
    def digest_grace(self) -> timedelta:
        return timedelta(minutes=self.digest_grace_minutes)

    @property
    def default_region(self) -> str | None:
        """The region for instance ids and names; with DMS_ENDPOINT set and no DMS_REGION, the
        endpoint alone says where the API is, so ids work without a region."""
        return self.region or ("custom-endpoint" if self.endpoint else None)

    # ---- derived views, validated on demand -------------------------------------------------

    @property
    def has_cloud_credentials(self) -> bool:
        return bool(self.ak or self.sk or self.iam_username or self.iam_password)

    def check_cloud(self) -> None:
        """Fail fast on missing or contradictory cloud settings."""
        problems: list[str] = []
        for name, url in (("DMS_ENDPOINT", self.endpoint), ("DMS_IAM_ENDPOINT", self.iam_endpoint)):
            if url is not None and (problem := endpoint_problem(url)):
                problems.append(f"{name} {problem}")
        if bool(self.ak) != bool(self.sk):
            missing = "HUAWEICLOUD_SDK_SK" if self.ak else "HUAWEICLOUD_SDK_AK"
            problems.append(
                f"{missing} is not set: AK/SK signing needs both HUAWEICLOUD_SDK_AK (the access "
                "key id) and HUAWEICLOUD_SDK_SK (the secret access key)."
            )
        uses_iam = bool(self.iam_username or self.iam_password)
        if self.ak and uses_iam:
            problems.append(
                "Both AK/SK (HUAWEICLOUD_SDK_AK) and IAM password (DMS_IAM_USERNAME/"
                "DMS_IAM_PASSWORD) are set: unset one of them so it is clear which identity acts."
            )
        if uses_iam and not (self.iam_username and self.iam_password and self.iam_domain):
            problems.append(
                "IAM password authentication needs DMS_IAM_USERNAME, DMS_IAM_PASSWORD and "
                "DMS_IAM_DOMAIN (the account name that owns the IAM user)."
            )
        if uses_iam and not (self.region or self.iam_endpoint):
            problems.append(
                "IAM password authentication needs DMS_REGION (the IAM endpoint is per region) "
                "or DMS_IAM_ENDPOINT."
            )
        if self.security_token and not self.ak:
            problems.append(
                "HUAWEICLOUD_SDK_SECURITY_TOKEN is set without HUAWEICLOUD_SDK_AK/SK: temporary "
                "credentials come as an AK, an SK and a security token together."
            )
        if not self.ak and not uses_iam:
            problems.append(
                "No Huawei Cloud credentials: set HUAWEICLOUD_SDK_AK and HUAWEICLOUD_SDK_SK "
                "(or DMS_IAM_USERNAME, DMS_IAM_PASSWORD and DMS_IAM_DOMAIN)."
            )
        if not self.region and not self.endpoint:
            problems.append(
                "DMS_REGION is not set: put the region of your Kafka instances in it, e.g. "
                "cn-north-4 (or set DMS_ENDPOINT to the full API address)."
            )
        config = self.load_config()
        needs_default_project = not self.project_id and (
            not config.instances or any(i.project_id is None for i in config.instances.values())
        )
        if needs_default_project:
            problems.append(
                "HUAWEICLOUD_SDK_PROJECT_ID is not set: put the project id of the region "
                "(console → My Credentials → API Credentials) in it, or give project_id for "
                "every instance in the DMS_BOT_CONFIG file."
            )
        if problems:
            raise SettingsError("\n".join(problems))

    def check_slack(self) -> None:
        problems: list[str] = []
        if problem := endpoint_problem(self.slack_api_url):
            problems.append(f"SLACK_API_URL {problem}")
        if not self.slack_bot_token:
            problems.append(
                "SLACK_BOT_TOKEN is not set: put the app's Bot User OAuth Token (xoxb-…) in it."
            )
        if self.slack_app_token:
            if not self.slack_app_token.get_secret_value().startswith("xapp-"):
                problems.append(
                    "SLACK_APP_TOKEN must be an app-level token (xapp-…) with connections:write, "
                    "for Socket Mode; unset it to serve HTTP instead."
                )
        elif not self.slack_signing_secret:
            problems.append(
                "SLACK_SIGNING_SECRET is not set: put the app's Signing Secret (Basic "
                "Information page) in it, or set SLACK_APP_TOKEN to use Socket Mode."
            )
        if problems:
            raise SettingsError("\n".join(problems))

    def endpoint_for(self, region: str) -> str:
        """The DMS API base URL for a region; DMS_ENDPOINT overrides it for every region."""
        if self.endpoint:
            return self.endpoint.rstrip("/")
        if _is_europe(region):
            # Huawei Cloud Europe (e.g. eu-west-101) lives under its own top-level domain.
            return f"https://dms.{region}.myhuaweicloud.eu"
        return f"https://dms.{region}.myhuaweicloud.com"

    def iam_endpoint_for(self, region: str) -> str:
        if self.iam_endpoint:
            return self.iam_endpoint.rstrip("/")
        if _is_europe(region):
            # As in the official SDK's iam_region.py: Huawei Cloud Europe has its own domain.
            return f"https://iam.{region}.myhuaweicloud.eu"
        return f"https://iam.{region}.myhuaweicloud.com"

    def timezone(self) -> ZoneInfo:
        name = self.load_config().default_timezone or self.default_timezone
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise SettingsError(
                f"Unknown time zone {name!r} (DMS_BOT_TIMEZONE or default_timezone in the config "
                "file): use an IANA name such as Europe/Berlin or UTC."
            ) from exc

    def load_config(self) -> BotConfig:
        if self._config is None:
            self._config = _read_config(self.config_path)
        return self._config

    def access_rules(self) -> dict[str, AccessRule]:
        """The config file's access rules, by alias as written there."""
        return {
            alias: AccessRule(
                channels=None if inst.channels is None else tuple(inst.channels),
                users=None if inst.users is None else tuple(inst.users),
            )
            for alias, inst in self.load_config().instances.items()
        }

    def instance_refs(self) -> dict[str, InstanceRef]:
        """Aliases from the config file, each with project and region filled in."""
        refs: dict[str, InstanceRef] = {}
        for alias, inst in self.load_config().instances.items():
            project = inst.project_id or self.project_id
            region = inst.region or self.default_region
            if not project or not region:
                raise SettingsError(
                    f"Instance alias {alias!r} in {self.config_path} has no project_id/region "
                    "and HUAWEICLOUD_SDK_PROJECT_ID / DMS_REGION are not set."
                )
            refs[alias.lower()] = InstanceRef(
                instance_id=inst.instance_id, project_id=project, region=region, alias=alias
            )
        return refs


def _is_europe(region: str) -> bool:
    return region.startswith("eu-west-1") and len(region) > len("eu-west-1")


def endpoint_problem(url: str) -> str | None:
    """What is wrong with an endpoint URL, worded without echoing it: it may hold a password."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return "is not a URL with a valid port (use e.g. https://dms.cn-north-4.myhuaweicloud.com)."
    if parts.scheme not in ("http", "https"):
        return "must start with https:// (or http:// for a local simulator)."
    if not parts.hostname:
        return "has no host name (use e.g. https://dms.cn-north-4.myhuaweicloud.com)."
    if parts.username is not None or parts.password is not None:
        return (
            "holds a user name or password: the API signs every request itself, so put only "
            "the address there, and the credentials in HUAWEICLOUD_SDK_AK / HUAWEICLOUD_SDK_SK."
        )
    if port == 0:
        return "has port 0: use a port from 1 to 65535."
    if parts.query or parts.fragment:
        return "must be only scheme, host, optional port and path, with no ?query or #fragment."
    return None


def _read_config(path: Path | None) -> BotConfig:
    if path is None:
        return BotConfig()
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise SettingsError(
            f"DMS_BOT_CONFIG names {path}, which does not exist: fix the path or unset it."
        ) from exc
    except IsADirectoryError as exc:
        raise SettingsError(
            f"DMS_BOT_CONFIG names {path}, which is a directory: name the TOML file in it."
        ) from exc
    except PermissionError as exc:
        raise SettingsError(
            f"DMS_BOT_CONFIG names {path}, which this process may not read: fix its permissions."
        ) from exc
    except UnicodeDecodeError as exc:
        raise SettingsError(
            f"DMS_BOT_CONFIG file {path} is not UTF-8 text: save it as UTF-8 TOML."
        ) from exc
    except OSError as exc:
        raise SettingsError(
            f"DMS_BOT_CONFIG file {path} cannot be read ({exc.strerror or type(exc).__name__})."
        ) from exc
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"DMS_BOT_CONFIG file {path} is not valid TOML: {exc}") from exc
    try:
        config = BotConfig.model_validate(raw)
    except ValidationError as exc:
        lines = [f"  {'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()]
        raise SettingsError(
            f"DMS_BOT_CONFIG file {path} has invalid entries:\n" + "\n".join(lines)
        ) from exc
    for alias in config.instances:
        if not is_typeable_alias(alias):
            raise SettingsError(
                f"DMS_BOT_CONFIG file {path}: alias {alias!r} cannot be typed as a command "
                "target: use letters, digits, '.', '_' or '-', starting with a letter or digit, "
                f"and none of {', '.join(sorted(w for w in RESERVED_WORDS if w.isalpha()))}."
            )
    lowered = [a.lower() for a in config.instances]
    if len(set(lowered)) != len(lowered):
        raise SettingsError(
            f"DMS_BOT_CONFIG file {path} defines the same alias twice (aliases are "
            "case-insensitive)."
        )
    folded: dict[str, str] = {}
    for name in config.expected:
        if not name.strip():
            raise SettingsError(
                f"DMS_BOT_CONFIG file {path}: [expected] has an empty task name: write the "
                'task\'s name as the API gives it, e.g. extendBroker = "2h".'
            )
        if (first := folded.setdefault(name.casefold(), name)) != name:
            raise SettingsError(
                f"DMS_BOT_CONFIG file {path}: expected.{first} and expected.{name} name the same "
                "task (names are matched case-insensitively): keep one."
            )
    by_alias = {a.lower(): inst for a, inst in config.instances.items()}
    for channel, chan in config.channels.items():
        default = by_alias.get(chan.default_instance.lower())
        if default is None:
            raise SettingsError(
                f"DMS_BOT_CONFIG file {path}: channels.{channel}.default_instance is "
                f"{chan.default_instance!r}, which is not an alias under [instances]."
            )
        if default.channels is not None and channel not in default.channels:
            raise SettingsError(
                f"DMS_BOT_CONFIG file {path}: channels.{channel}.default_instance is "
                f"{chan.default_instance!r}, but that instance's channels do not include "
                f"{channel}: add it there, or pick another default."
            )
    return config


def with_simulator(settings: Settings, url: str) -> Settings:
    """`settings` signing with the demo credentials against the simulator at `url`, for every
    region; the rest (config file, time zone, timeouts) stays as it was."""
    from bot.simulator import DEMO_AK, DEMO_PROJECT_ID, DEMO_REGION, DEMO_SK

    return settings.model_copy(
        update={
            "ak": SecretStr(DEMO_AK),
            "sk": SecretStr(DEMO_SK),
            "project_id": DEMO_PROJECT_ID,
            "region": DEMO_REGION,
            "endpoint": url,
        }
    )


def load_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            loc = ".".join(str(p) for p in err["loc"])
            lines.append(f"  {loc}: {err['msg']}")
        raise SettingsError("Invalid settings:\n" + "\n".join(lines)) from exc
