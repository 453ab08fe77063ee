"""Builds a running lastmile from settings: config, wording, database, engine."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from bot.config import ConfigError, LastmileConfig, Settings, example_config_path, load_config
from bot.engine import Clock, Engine, utc_now
from bot.inbox import Inbox
from bot.metrics import Metrics
from bot.platform import Connection
from bot.ratelimit import RateLimits
from bot.reports.links import ReportLinks
from bot.wording import Wording, Wordings, load_wordings, require
from storage.db import Database
from storage.migrate import check_schema, upgrade

logger = logging.getLogger(__name__)


@dataclass
class Runtime:
    """Everything a command or the server needs, built once."""

    settings: Settings
    config_path: Path
    config: LastmileConfig
    wordings: Wordings
    db: Database
    engine: Engine
    clock: Clock = field(default=utc_now)
    platforms: dict[str, Connection] = field(default_factory=dict)
    """The platforms connected in this process, by name (registered as each is mounted)."""
    inbox: Inbox = field(init=False)
    """Where adapters store what arrives, and the worker that handles it."""
    links: ReportLinks = field(init=False)
    """Signed, expiring links to the report pages."""
    metrics: Metrics = field(init=False)
    """This process's counters and gauges (`GET /metrics`), in a registry of its own."""

    def __post_init__(self) -> None:
        self.metrics = Metrics()
        self.db.on_commit.append(self.metrics.committed)
        self.inbox = Inbox(self)
        self.links = ReportLinks(self.db, self.settings, self.clock)
        self.engine.links = self.links

    @property
    def wording(self) -> Wording:
        """The settings' wording (the default locale)."""
        return self.wordings.default

    async def close(self) -> None:
        """Stop the inbox and release the database connections."""
        await self.inbox.close()
        await self.db.dispose()


@dataclass(frozen=True)
class PlatformFacts:
    """What start-up checks need of the registered platforms: their names and wording."""

    names: tuple[str, ...]
    wording_keys: tuple[str, ...]
    rate_scopes: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Each platform's rate-limit scopes, the names LASTMILE_RATE_LIMITS may use."""


def load_checked(
    settings: Settings, platforms: PlatformFacts | None = None
) -> tuple[Path, LastmileConfig, Wordings]:
    """Load and check the config file and the wording it asks for.

    Args:
        settings: the environment.
        platforms: the registered platforms, whose names the config may use and whose
            wording keys must be there; the composition root always passes them.

    Raises:
        ConfigError: or WordingError, naming the problem.
    """
    from bot.features import register_wording

    register_wording()
    path = settings.lastmile_config or example_config_path()
    config = load_config(path)
    problems: list[str] = []
    if platforms is not None:
        require(*platforms.wording_keys)
        problems = config.unknown_platforms(platforms.names)
        problems += unknown_rate_scopes(settings.rate_limits, platforms.rate_scopes)
    if problems:
        raise ConfigError(
            f"config file {path} has {len(problems)} problem(s):\n  " + "\n  ".join(problems)
        )
    from bot.flows.checkin import wording_keys

    require(*wording_keys())
    wordings = load_wordings(
        config.settings.locale, config.locales(), settings.lastmile_prompts_dir
    )
    return path, config, wordings


def unknown_rate_scopes(limits: RateLimits, scopes: Mapping[str, tuple[str, ...]]) -> list[str]:
    """LASTMILE_RATE_LIMITS entries no platform counts in (a misspelt scope would
    otherwise be a limit nothing is sent under)."""
    problems = []
    for platform, scope in limits:
        if scope not in scopes.get(platform, ()):
            known = ", ".join(f"{platform}.{name}" for name in scopes.get(platform, ()))
            problems.append(
                f"LASTMILE_RATE_LIMITS: {platform}.{scope} is not a scope lastmile counts in"
                + (f" (it has {known})" if known else f" ({platform} has no send limits)")
            )
    return problems


async def build_runtime(
    settings: Settings,
    *,
    clock: Clock = utc_now,
    prepare_schema: bool = True,
    platforms: PlatformFacts | None = None,
) -> Runtime:
    """Check everything, prepare the database and mirror the config into it.

    SQLite is upgraded in place (it is a local file the bot owns); PostgreSQL must
    be upgraded with `lastmile db upgrade`, so replicas never race to migrate.

    Raises:
        ConfigError, WordingError, SchemaOutOfDate: with a message for a person.
    """
    path, config, wordings = load_checked(settings, platforms)
    db = Database(settings.database_url)
    try:
        if prepare_schema:
            if db.is_sqlite:
                await upgrade(settings.database_url)
            else:
                await check_schema(db)
        engine = Engine(db, config, wordings, clock=clock)
        await engine.directory.sync(db, clock())
    except BaseException:
        await db.dispose()
        raise
    from bot.features import install_features

    runtime = Runtime(settings, path, config, wordings, db, engine, clock)
    install_features(runtime)
    return runtime
