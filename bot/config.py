"""Configuration: environment variables and the programme/cohort config file."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Annotated, Literal
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

from bot.ratelimit import RateLimits, parse_rate_limits

_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_SLOT = re.compile(r"^(?P<days>[a-z,\-]+)\s+(?P<hour>\d{1,2}):(?P<minute>\d{2})$")
_IDENTITY = re.compile(r"^[a-z][a-z0-9]*:\S+$|^[^@\s:]+@[^@\s]+\.[^@\s]+$")


class ConfigError(ValueError):
    """The config file has a problem; the message names the file and the field."""


def _rate_limits(value: str) -> str:
    parse_rate_limits(value)
    return value


RateLimitsText = Annotated[str, AfterValidator(_rate_limits)]


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
    log_format: Literal["text", "json"] = "text"
    """`json`: one JSON object a log line, for a log pipeline (`bot.safe_logs`)."""
    lastmile_rate_limits: RateLimitsText = ""
    """Send budgets in place of the platforms' own, shared by every replica:
    `slack.workspace=600/60:30,teams.tenant=50/1` (`bot.ratelimit.parse_rate_limits`)."""

    @property
    def rate_limits(self) -> RateLimits:
        """LASTMILE_RATE_LIMITS, read."""
        return parse_rate_limits(self.lastmile_rate_limits)

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


SHIFTS: dict[str, tuple[str, str]] = {
    "early": ("06:00-14:00", "mon-fri"),
    "day": ("08:00-19:00", "mon-fri"),
    "late": ("14:00-22:00", "mon-fri"),
    "night": ("22:00-06:00", "mon-fri"),
}
"""Shift names a cohort can give, with their working hours and the days they start on."""


class Shift(BaseModel):
    """When a cohort works: hours (which may run past midnight) starting on some weekdays.

    Everything outside it is quiet: nobody is asked then.
    """

    model_config = ConfigDict(frozen=True)

    hours: QuietHours
    """The working hours, start to end (a night shift's end is the next morning)."""
    days: frozenset[int]
    """The weekdays a shift starts on (Monday = 0)."""

    @property
    def overnight(self) -> bool:
        """True when the shift ends the day after it starts."""
        return self.hours.end <= self.hours.start

    def contains(self, local: datetime) -> bool:
        """True when the local moment falls inside one of the shifts."""
        moment = local.time()
        if not self.overnight:
            return local.weekday() in self.days and self.hours.contains(moment)
        if moment >= self.hours.start:
            return local.weekday() in self.days
        return moment < self.hours.end and (local.weekday() - 1) % 7 in self.days

    def default_slots(self) -> tuple[str, ...]:
        """Two check-ins a week, half an hour before the end of a shift: the 2nd and 4th
        of the week (the 1st and 3rd of three, both of two)."""
        ordered = sorted(self.days)
        spread = {1: (0,), 2: (0, 1), 3: (0, 2)}.get(len(ordered), (1, 3))
        picked = [ordered[i] for i in spread]
        end = datetime.combine(date(2000, 1, 3), self.hours.end) - timedelta(minutes=30)
        start = datetime.combine(date(2000, 1, 3), self.hours.start)
        # The slot's calendar day: the next day when the shift is over midnight by then.
        shift_day = 1 if self.overnight and end.time() < self.hours.start else 0
        if end < start and not self.overnight:
            end = start
        days = ",".join(_DAYS[(day + shift_day) % 7] for day in picked)
        return (f"{days} {end.hour:02d}:{end.minute:02d}",)


def parse_days(text: str) -> frozenset[int]:
    """Read weekdays such as `mon-fri` or `sun,mon,tue` (Monday = 0)."""
    found: set[int] = set()
    for part in text.strip().lower().split(","):
        first, _, last = part.strip().partition("-")
        if first not in _DAYS or (last and last not in _DAYS):
            raise ValueError(
                f"{text!r} is not a list of days: write it like 'mon-fri' or 'sat,sun'"
            )
        start = _DAYS.index(first)
        end = _DAYS.index(last) if last else start
        found.update((start + offset) % 7 for offset in range((end - start) % 7 + 1))
    return frozenset(found)


def _slot_in_shift(slot: Slot, shift: Shift) -> bool:
    days = parse_days(slot.days)
    # 2001-01-01 is a Monday: each of the slot's weekdays in that week, at its time.
    return all(
        shift.contains(datetime.combine(date(2001, 1, 1 + day), time(slot.hour, slot.minute)))
        for day in days
    )


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class GeneralSettings(_Strict):
    """Settings that apply to every programme."""

    locale: str = "en"
    """The language of people whose platform does not say theirs, and of digests."""
    anonymity_k: int = Field(default=5, ge=3)
    checkin_expiry_hours: float = Field(default=4, gt=0)
    reminder_after_minutes: float = Field(default=90, gt=0)
    trigger_delay_minutes: float = Field(default=10, ge=0)
    admins: tuple[Identity, ...] = ()
    slack_workspaces: tuple[str, ...] = ()
    """Slack workspace (T…) or Enterprise Grid org (E…) ids served besides the bot token's."""
    teams_tenants: tuple[str, ...] = ()
    """Microsoft 365 tenant ids served besides MICROSOFT_APP_TENANT_ID."""


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
    locale: str | None = None
    """The language of the programme's digests (default: the settings' locale)."""
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
    schedule: tuple[str, ...] = ()
    """Weekly check-in moments; by default "tue,thu 15:30", or near the end of the shift
    (an empty list: no scheduled check-ins)."""
    max_per_week: int = Field(default=3, ge=0)
    quiet_hours: str = "19:00-08:00"
    quiet_weekends: bool = True
    shift: str | None = None
    """A named shift (early, day, late, night): quiet hours are whatever is outside it."""
    working_hours: str | None = None
    """Or the shift's own hours, e.g. "22:00-06:00" (with `working_days`)."""
    working_days: str | None = None
    """The days a shift starts on, e.g. "sun-thu" (default mon-fri)."""
    locale: str | None = None
    """The cohort's language for people whose platform does not say theirs."""
    members: tuple[Identity, ...] = ()
    leads: tuple[Identity, ...] = ()

    @model_validator(mode="after")
    def _check_shift(self) -> CohortConfig:
        if self.shift is not None and self.shift not in SHIFTS:
            raise ValueError(
                f"shift {self.shift!r} is not a shift: use {', '.join(SHIFTS)}, "
                "or give working_hours (and working_days)"
            )
        if self.shift is not None and self.working_hours is not None:
            raise ValueError("give either shift or working_hours, not both")
        if self.working_days is not None and self.working is None:
            raise ValueError("working_days needs a shift or working_hours")
        given = {"quiet_hours", "quiet_weekends"} & self.model_fields_set
        if self.working is not None and given:
            raise ValueError(
                f"{' and '.join(sorted(given))} cannot be combined with a shift: "
                "outside the shift is quiet"
            )
        if self.working is not None:
            for text in self.schedule:
                slot = Slot.parse(text)
                if not _slot_in_shift(slot, self.working):
                    raise ValueError(
                        f"schedule {text!r} falls outside the shift, so nobody would be asked"
                    )
        return self

    @field_validator("schedule")
    @classmethod
    def _check_schedule(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for text in value:
            Slot.parse(text)
        return value

    @field_validator("working_hours")
    @classmethod
    def _check_working_hours(cls, value: str | None) -> str | None:
        if value is not None:
            QuietHours.parse(value)
        return value

    @field_validator("working_days")
    @classmethod
    def _check_working_days(cls, value: str | None) -> str | None:
        if value is not None:
            parse_days(value)
        return value

    @field_validator("quiet_hours")
    @classmethod
    def _check_quiet(cls, value: str) -> str:
        QuietHours.parse(value)
        return value

    @property
    def working(self) -> Shift | None:
        """The cohort's shift, when it works one; None for the default office day."""
        if self.shift is None and self.working_hours is None:
            return None
        hours, days = SHIFTS[self.shift] if self.shift is not None else (self.working_hours, "")
        assert hours is not None
        return Shift(
            hours=QuietHours.parse(hours), days=parse_days(self.working_days or days or "mon-fri")
        )

    @property
    def slots(self) -> tuple[Slot, ...]:
        """The schedule, parsed: the given one, or a default that falls in the shift."""
        schedule = self.schedule
        if "schedule" not in self.model_fields_set:
            working = self.working
            schedule = working.default_slots() if working is not None else ("tue,thu 15:30",)
        return tuple(Slot.parse(text) for text in schedule)

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

    def locales(self) -> set[str]:
        """Every locale the config names (settings, programmes, cohorts)."""
        named = {self.settings.locale}
        named |= {p.locale for p in self.programmes.values() if p.locale}
        named |= {c.locale for c in self.cohorts.values() if c.locale}
        return named

    def programme_locale(self, programme_id: str) -> str:
        """The language of a programme's digests."""
        programme = self.programmes.get(programme_id)
        return (programme.locale if programme else None) or self.settings.locale

    def cohort_locale(self, cohort_id: str | None) -> str:
        """The language of a cohort's people whose platform does not say theirs."""
        cohort = self.cohorts.get(cohort_id or "")
        return (cohort.locale if cohort else None) or self.settings.locale

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
