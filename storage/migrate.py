"""Schema migrations through Alembic: upgrade, and the check `serve` runs first.

Alembic itself (11 MB and a third of a second to import) loads only to migrate or to
answer `lastmile db …`: `serve` on PostgreSQL, which never migrates, checks the schema
with one query and the migration files' own `revision` lines.
"""

from __future__ import annotations

import ast
import asyncio
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import Connection

from storage.db import Database, normalise_url, sync_url

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig

VERSION_TABLE = "alembic_version"


class SchemaOutOfDate(RuntimeError):
    """The database is behind the code; `lastmile db upgrade` brings it up to date."""


def _migrations() -> Path:
    return Path(str(resources.files("storage") / "migrations"))


def _alembic_config(url: str) -> AlembicConfig:
    from alembic.config import Config as AlembicConfig

    config = AlembicConfig()
    config.set_main_option("script_location", str(_migrations()))
    config.set_main_option("sqlalchemy.url", sync_url(normalise_url(url)).replace("%", "%%"))
    return config


def head_revision(url: str | None) -> str:
    """The newest migration this code ships, as Alembic reads it."""
    from alembic.script import ScriptDirectory

    heads = ScriptDirectory.from_config(_alembic_config(url or "")).get_heads()
    return str(heads[0])


def _declared(path: Path) -> tuple[str, tuple[str, ...]] | None:
    """A migration file's `revision` and `down_revision`s, read without importing it."""
    found: dict[str, object] = {}
    for node in ast.parse(path.read_text("utf-8")).body:
        target, value = None, None
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign):
            target, value = node.target, node.value
        named = isinstance(target, ast.Name) and target.id in ("revision", "down_revision")
        if named and value is not None:
            assert isinstance(target, ast.Name)
            found[target.id] = ast.literal_eval(value)
    revision, down = found.get("revision"), found.get("down_revision")
    if not isinstance(revision, str):
        return None
    downs = (down,) if isinstance(down, str) else tuple(down or ())  # type: ignore[arg-type]
    return revision, tuple(str(item) for item in downs)


@cache
def shipped_head() -> str:
    """The newest migration this code ships, read once per process from the files' own
    `revision` and `down_revision` lines (Alembic's answer when they are not one chain)."""
    declared = [_declared(path) for path in sorted((_migrations() / "versions").glob("*.py"))]
    revisions = {found[0] for found in declared if found is not None}
    replaced = {down for found in declared if found is not None for down in found[1]}
    heads = revisions - replaced
    if len(heads) == 1 and None not in declared:
        return heads.pop()
    return head_revision(None)


def _revision_in(connection: Connection) -> str | None:
    if not inspect(connection).has_table(VERSION_TABLE):
        return None
    found = connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()
    return str(found) if found is not None else None


async def schema_revision(db: Database) -> str | None:
    """The migration the database is at (None for an empty one), on the app's own pool."""
    async with db.engine.connect() as connection:
        return await connection.run_sync(_revision_in)


def current_revision(url: str | None) -> str | None:
    """The migration the database is at, or None for an empty database."""
    engine = create_engine(sync_url(normalise_url(url)))
    try:
        with engine.connect() as connection:
            return _revision_in(connection)
    finally:
        engine.dispose()


def upgrade_sync(url: str | None) -> None:
    """Bring the schema to the newest migration."""
    from alembic import command

    command.upgrade(_alembic_config(url or ""), "head")


async def upgrade(url: str | None) -> None:
    """Bring the schema to the newest migration without blocking the event loop."""
    await asyncio.to_thread(upgrade_sync, url)


async def check_schema(db: Database) -> None:
    """Raise SchemaOutOfDate unless the database is at the newest migration."""
    current = await schema_revision(db)
    head = await asyncio.to_thread(shipped_head)
    if current != head:
        raise SchemaOutOfDate(
            f"The database schema is at {current or 'nothing yet'} but this version needs "
            f"{head}. Run `lastmile db upgrade` first."
        )
