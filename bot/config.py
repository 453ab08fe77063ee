"""Configuration: environment variables and the programme/cohort config file."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable
from datetime import time
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_SLOT = re.compile(r"^(?P<days>[a-z,\-]+)\s+(?P<hour>\d{1,2}):(?P<minute>\d{2})$")
_IDENTITY = re.compile(r"^[a-z][a-z0-9]*:\S+$|^[^@\s:]+@[^@\s]+\.[^@\s]+$")


class ConfigError(ValueError):
    """The config file has a problem; the message names the file and the field."""


class Settings(BaseSettings):
    """Environment variables (a `.env` file is read too)."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    database_url: str | None = None
    lastmile_config: Path | None = None
    lastmile_prompts_dir: Path | None = None
    port: int = 3978
    host: str = "0.0.0.0"
    lastmile_public_url: str | None = None
    """Where people reach this server (report links start with it); default
    http://127.0.0.1:PORT."""
    lastmile_secret_key: str | None = None
    """Signs report links and pseudonymises exports; default: a random key kept in the
    database (shared by every replica)."""
    lastmile_web_chat: str = "auto"
    """`auto`: the browser chat at / when no chat platform is configured; `off`: never."""

    @property
    def public_url(self) -> str:
        """The base of every link lastmile sends, without a trailing slash."""
        return (self.lastmile_public_url or f"http://127.0.0.1:{self.port}").rstrip("/")


def _time_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {value!r} (use a name like Europe/London)") from None
    return value


def zone_named(name: str, fallback: str) -> ZoneInfo:
    """The time zone called `name`, else `fallback` (an unknown or empty name)."""
    if name:
        try:
            return ZoneInfo(name)
        except (KeyError, ValueError):
            pass
    return ZoneInfo(fallback)


def _identity(value: str) -> str:
    if not _IDENTITY.match(value):
        raise ValueError(
            f"{value!r} is not a person: write platform:id (local:ana, slack:U0123, "
            "teams:29:1a2b) or an e-mail address"
        )
    return value


TimeZone = Annotated[str, AfterValidator(_time_zone)]
Identity = Annotated[str, AfterValidator(_identity)]


class Slot(BaseModel):
    """A weekly moment such as "tue,thu 15:30", read in local time."""

    model_config = ConfigDict(frozen=True)

    days: str
    hour: int
    minute: int

    @classmethod
    def parse(cls, text: str) -> Slot:
        """Read "DAYS HH:MM" where DAYS is e.g. `tue,thu` or `mon-fri`."""
        match = _SLOT.match(text.strip().lower())
        if not match:
            raise ValueError(f"{text!r} is not a slot: write days and a time, like 'tue,thu 15:30'")
        days, hour, minute = match["days"], int(match["hour"]), int(match["minute"])
        for part in days.split(","):
            for day in part.split("-"):
                if day not in _DAYS:
                    raise ValueError(f"{day!r} in {text!r} is not a day (use mon, tue, … sun)")
        if hour > 23 or minute > 59:
            raise ValueError(f"{text!r} has no such time of day")
        return cls(days=days, hour=hour, minute=minute)

    def __str__(self) -> str:
        return f"{self.days} {self.hour:02d}:{self.minute:02d}"


class QuietHours(BaseModel):
    """Local hours when nobody is asked anything, e.g. 19:00-08:00."""

    model_config = ConfigDict(frozen=True)

    start: time
    end: time

    @classmethod
    def parse(cls, text: str) -> QuietHours:
        """Read "HH:MM-HH:MM"."""
        try:
            start, end = (time.fromisoformat(part.strip()) for part in text.split("-"))
        except ValueError:
            raise ValueError(f"{text!r} is not a time range: write it like '19:00-08:00'") from None
        return cls(start=start, end=end)

    def contains(self, moment: time) -> bool:
        """True when `moment` falls inside the quiet hours (which may wrap midnight)."""
        if self.start <= self.end:
            return self.start <= moment < self.end
        return moment >= self.start or moment < self.end


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class GeneralSettings(_Strict):
    """Settings that apply to every programme."""

    locale: str = "en"
    anonymity_k: int = Field(default=5, ge=3)
    checkin_expiry_hours: float = Field(default=4, gt=0)
    reminder_after_minutes: float = Field(default=90, gt=0)
    trigger_delay_minutes: float = Field(default=10, ge=0)
    admins: tuple[Identity, ...] = ()


class SeedTheme(_Strict):
    """A theme the programme owner names before people write: a name and example phrases."""

    name: str = Field(min_length=1, max_length=80)
    examples: tuple[str, ...] = Field(min_length=1)
    reasons: tuple[str, ...] = ()
    """Fixed answers (slugs such as `no-access`) whose pickers hear this theme's updates."""


class ProgrammeConfig(_Strict):
    """A pilot of one AI tool."""

    name: str
    tool: str
    timezone: TimeZone
    owners: tuple[Identity, ...] = ()
    digest_destination: str = ""
    digest_schedule: str = "mon 09:00"
    api_key_sha256: str = ""
    themes: tuple[SeedTheme, ...] = ()
    retention_days: int | None = Field(default=None, ge=1)
    """Free text older than this many days is erased (counts stay); None keeps it."""

    @field_validator("digest_schedule")
    @classmethod
    def _check_schedule(cls, value: str) -> str:
        Slot.parse(value)
        return value

    @field_validator("digest_destination")
    @classmethod
    def _check_destination(cls, value: str) -> str:
        if value and not re.match(r"^[a-z][a-z0-9]*:\S", value):
            raise ValueError(
                f"{value!r} must start with the platform: slack:C0123, teams:19:…, local:name"
            )
        return value


class CohortConfig(_Strict):
    """A team in a programme, with its check-in schedule and caps."""

    programme: str
    name: str = ""
    timezone: TimeZone | None = None
    schedule: tuple[str, ...] = ("tue,thu 15:30",)
    max_per_week: int = Field(default=3, ge=0)
    quiet_hours: str = "19:00-08:00"
    quiet_weekends: bool = True
    members: tuple[Identity, ...] = ()
    leads: tuple[Identity, ...] = ()

    @field_validator("schedule")
    @classmethod
    def _check_schedule(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for text in value:
            Slot.parse(text)
        return value

    @field_validator("quiet_hours")
    @classmethod
    def _check_quiet(cls, value: str) -> str:
        QuietHours.parse(value)
        return value

    @property
    def slots(self) -> tuple[Slot, ...]:
        """The schedule, parsed."""
        return tuple(Slot.parse(text) for text in self.schedule)

    @property
    def quiet(self) -> QuietHours:
        """The quiet hours, parsed."""
        return QuietHours.parse(self.quiet_hours)


class LastmileConfig(_Strict):
    """The whole config file."""

    settings: GeneralSettings = GeneralSettings()
    programmes: dict[str, ProgrammeConfig]
    cohorts: dict[str, CohortConfig] = {}

    @model_validator(mode="after")
    def _check_references(self) -> LastmileConfig:
        for cohort_id, cohort in self.cohorts.items():
            if cohort.programme not in self.programmes:
                known = ", ".join(sorted(self.programmes)) or "none"
                raise ValueError(
                    f"cohorts.{cohort_id}.programme: no programme {cohort.programme!r} "
                    f"(known: {known})"
                )
        seen: dict[str, str] = {}
        for cohort_id, cohort in self.cohorts.items():
            for member in cohort.members:
                if member in seen:
                    raise ValueError(
                        f"cohorts.{cohort_id}.members: {member} is already in cohort "
                        f"{seen[member]}; a person belongs to one cohort"
                    )
                seen[member] = cohort_id
        return self

    def unknown_platforms(self, known: Iterable[str]) -> list[str]:
        """Every field naming a platform that is not among `known`, as "field: problem"."""
        names = set(known)
        listed = ", ".join(sorted(names))
        problems = []

        def check(where: str, identity: str) -> None:
            prefix, colon, _ = identity.partition(":")
            if colon and "@" not in prefix and prefix not in names:
                problems.append(f"{where}: {identity!r} names no platform {prefix!r} ({listed})")

        for programme_id, programme in self.programmes.items():
            for owner in programme.owners:
                check(f"programmes.{programme_id}.owners", owner)
            if programme.digest_destination:
                check(f"programmes.{programme_id}.digest_destination", programme.digest_destination)
        for cohort_id, cohort in self.cohorts.items():
            for field_name in ("members", "leads"):
                for identity in getattr(cohort, field_name):
                    check(f"cohorts.{cohort_id}.{field_name}", identity)
        for admin in self.settings.admins:
            check("settings.admins", admin)
        return problems

    def cohort_timezone(self, cohort_id: str) -> str:
        """The cohort's time zone, else its programme's."""
        cohort = self.cohorts[cohort_id]
        return cohort.timezone or self.programmes[cohort.programme].timezone


def _describe(error: ValidationError, path: Path) -> str:
    problems = []
    for item in error.errors():
        where = ".".join(str(part) for part in item["loc"])
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            message = "unknown field (check the spelling)"
        elif item["type"] == "missing":
            message = "required field is missing"
        problems.append(f"{where}: {message}" if where else message)
    return f"config file {path} has {len(problems)} problem(s):\n  " + "\n  ".join(problems)


def load_config(path: Path) -> LastmileConfig:
    """Read and check the config file.

    Args:
        path: the TOML file (LASTMILE_CONFIG).

    Returns:
        The checked configuration.

    Raises:
        ConfigError: listing every problem with the field that has it.
    """
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ConfigError(f"cannot read config file {path}: {error.strerror}") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"config file {path} is not valid TOML: {error}") from None
    try:
        return LastmileConfig.model_validate(raw)
    except ValidationError as error:
        raise ConfigError(_describe(error, path)) from None


def example_config_path() -> Path:
    """The example config shipped with lastmile, used by the local trial."""
    from importlib import resources

    return Path(str(resources.files("bot") / "examples" / "lastmile.toml"))
