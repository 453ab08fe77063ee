"""Builds a running lastmile from settings: config, wording, database, engine."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from bot.config import LastmileConfig, Settings, example_config_path, load_config
from bot.delivery import Sender
from bot.engine import Clock, Engine, utc_now
from bot.wording import Wording, load_wording
from storage.db import Database
from storage.migrate import check_schema, upgrade

logger = logging.getLogger(__name__)


@dataclass
class Runtime:
    """Everything a command or the server needs, built once."""

    settings: Settings
    config_path: Path
    config: LastmileConfig
    wording: Wording
    db: Database
    engine: Engine
    clock: Clock = field(default=utc_now)
    senders: dict[str, Sender] = field(default_factory=dict)
    """Outbound senders by platform, registered by each configured platform adapter."""

    async def close(self) -> None:
        """Release the database connections."""
        await self.db.dispose()


def load_checked(settings: Settings) -> tuple[Path, LastmileConfig, Wording]:
    """Load and check the config file and the wording it asks for.

    Raises:
        ConfigError: or WordingError, naming the problem.
    """
    from bot.features import register_wording

    register_wording()
    path = settings.lastmile_config or example_config_path()
    config = load_config(path)
    wording = load_wording(config.settings.locale, settings.lastmile_prompts_dir)
    return path, config, wording


async def build_runtime(
    settings: Settings, *, clock: Clock = utc_now, prepare_schema: bool = True
) -> Runtime:
    """Check everything, prepare the database and mirror the config into it.

    SQLite is upgraded in place (it is a local file the bot owns); PostgreSQL must
    be upgraded with `lastmile db upgrade`, so replicas never race to migrate.

    Raises:
        ConfigError, WordingError, SchemaOutOfDate: with a message for a person.
    """
    path, config, wording = load_checked(settings)
    db = Database(settings.database_url)
    try:
        if prepare_schema:
            if db.is_sqlite:
                await upgrade(settings.database_url)
            else:
                await check_schema(settings.database_url)
        engine = Engine(db, config, wording, clock=clock)
        await engine.directory.sync(db, clock())
    except BaseException:
        await db.dispose()
        raise
    from bot.features import install_features

    runtime = Runtime(settings, path, config, wording, db, engine, clock)
    install_features(runtime)
    return runtime
