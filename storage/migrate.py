"""Schema migrations through Alembic: upgrade, and the check `serve` runs first."""

from __future__ import annotations

import asyncio
from functools import cache
from importlib import resources
from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine

from storage.db import Database, normalise_url, sync_url


class SchemaOutOfDate(RuntimeError):
    """The database is behind the code; `lastmile db upgrade` brings it up to date."""


def _alembic_config(url: str) -> AlembicConfig:
    folder = Path(str(resources.files("storage") / "migrations"))
    config = AlembicConfig()
    config.set_main_option("script_location", str(folder))
    config.set_main_option("sqlalchemy.url", sync_url(normalise_url(url)).replace("%", "%%"))
    return config


def head_revision(url: str | None) -> str:
    """The newest migration this code ships."""
    heads = ScriptDirectory.from_config(_alembic_config(url or "")).get_heads()
    return str(heads[0])


@cache
def shipped_head() -> str:
    """The newest migration this code ships, read from its files once per process."""
    return head_revision(None)


async def schema_revision(db: Database) -> str | None:
    """The migration the database is at (None for an empty one), on the app's own pool."""
    async with db.engine.connect() as connection:
        return await connection.run_sync(
            lambda sync: MigrationContext.configure(sync).get_current_revision()
        )


def current_revision(url: str | None) -> str | None:
    """The migration the database is at, or None for an empty database."""
    engine = create_engine(sync_url(normalise_url(url)))
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()


def upgrade_sync(url: str | None) -> None:
    """Bring the schema to the newest migration."""
    command.upgrade(_alembic_config(url or ""), "head")


async def upgrade(url: str | None) -> None:
    """Bring the schema to the newest migration without blocking the event loop."""
    await asyncio.to_thread(upgrade_sync, url)


async def check_schema(url: str | None) -> None:
    """Raise SchemaOutOfDate unless the database is at the newest migration."""
    current = await asyncio.to_thread(current_revision, url)
    head = await asyncio.to_thread(head_revision, url)
    if current != head:
        raise SchemaOutOfDate(
            f"The database schema is at {current or 'nothing yet'} but this version needs "
            f"{head}. Run `lastmile db upgrade` first."
        )
