"""Start-up mirrors the config's people into storage set-wise: everyone created once, moved
between cohorts and given their roles as the config says, in the same few statements for
any number of people (issue 13)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import event

from bot.config import load_config
from bot.directory import Directory
from bot.runtime import Runtime
from storage.db import Database
from storage.models import Cohort, Person, Programme, Role
from storage.people import ensure_person
from tests.conftest import FakeClock
from tests.helpers import rows
from tests.scheduling_support import start_runtime

pytestmark = pytest.mark.sql

FIRST = """
[settings]
admins = ["local:ada"]

[programmes.routing]
name = "Route planner pilot"
tool = "RoutePilot"
timezone = "Europe/London"
owners = ["local:olu", "slack:UKIM"]

[cohorts.north]
programme = "routing"
timezone = "Europe/London"
members = ["local:ana", "local:ben", {north}]
leads = [{leads}]

[cohorts.south]
programme = "routing"
name = "South depot"
timezone = "America/Chicago"
members = ["local:sam", "kim@example.org"]
"""

SECOND = """
[settings]
admins = ["local:ada", "local:sam"]

[programmes.routing]
name = "Route planner pilot, phase 2"
tool = "RoutePilot"
timezone = "Europe/London"
owners = ["local:olu"]

[cohorts.north]
programme = "routing"
timezone = "Europe/London"
members = ["local:lee", "local:zoe"]

[cohorts.south]
programme = "routing"
timezone = "America/Chicago"
members = ["local:sam", "local:ana", "kim@example.org"]
leads = ["local:ana"]
"""


def write(
    directory: Path, text: str, north: tuple[str, ...] = ("local:dev",), lead: str = "local:lee"
) -> Path:
    path = directory / f"lastmile-{len(north)}-{len(text)}.toml"
    members = ", ".join(f'"{member}"' for member in north)
    path.write_text(
        text.replace("{north}", members).replace("{leads}", f'"{lead}"'), encoding="utf-8"
    )
    return path


async def stored(runtime: Runtime) -> tuple[dict[str, str | None], set[tuple[str, str, str]]]:
    """Each person's cohort by identity, and (identity, role, scope) for every role."""
    people = {p.id: f"{p.platform}:{p.platform_user_id}" for p in await rows(runtime, Person)}
    cohorts = {
        f"{p.platform}:{p.platform_user_id}": p.cohort_id for p in await rows(runtime, Person)
    }
    roles = {(people[r.person_id], r.role, r.scope) for r in await rows(runtime, Role)}
    return cohorts, roles


async def test_config_people_are_created_moved_and_given_their_roles(
    tmp_path: Path, database_url: str, clock: FakeClock
) -> None:
    # Kim wrote to the bot before: her Slack profile gave her e-mail address, which the
    # config lists in the south cohort.
    database = Database(database_url)
    async with database.session() as session:
        kim = await ensure_person(session, "slack", "UKIM", clock.now, email="Kim@Example.org")
        kim.cohort_id = "north"
        session.add(kim)
    await database.dispose()

    runtime = await start_runtime(database_url, write(tmp_path, FIRST), clock)
    try:
        cohorts, roles = await stored(runtime)
    finally:
        await runtime.close()
    assert cohorts == {
        "local:ada": None,
        "local:olu": None,
        "local:ana": "north",
        "local:ben": "north",
        "local:dev": "north",
        "local:lee": "north",
        "local:sam": "south",
        "slack:UKIM": "south",
    }
    assert roles == {
        ("local:ada", "admin", ""),
        ("local:olu", "owner", "routing"),
        ("slack:UKIM", "owner", "routing"),
        ("local:lee", "lead", "north"),
    }

    runtime = await start_runtime(database_url, write(tmp_path, SECOND), clock)
    try:
        cohorts, roles = await stored(runtime)
        (programme,) = await rows(runtime, Programme)
        south = (await rows(runtime, Cohort, id="south"))[0]
    finally:
        await runtime.close()
    # Nobody is deleted, but Ben and Dev, no longer in the config, are in no cohort (so
    # nobody asks them), and Kim is no longer an owner.
    assert cohorts == {
        "local:ada": None,
        "local:olu": None,
        "local:ana": "south",
        "local:ben": None,
        "local:dev": None,
        "local:lee": "north",
        "local:sam": "south",
        "local:zoe": "north",
        "slack:UKIM": "south",
    }
    assert roles == {
        ("local:ada", "admin", ""),
        ("local:sam", "admin", ""),
        ("local:olu", "owner", "routing"),
        ("local:ana", "lead", "south"),
    }
    assert programme.name == "Route planner pilot, phase 2"
    # A cohort renamed away from its name falls back to its id.
    assert (south.name, south.timezone) == ("south", "America/Chicago")


async def _sync_statements(database: Database, config: Path, clock: FakeClock) -> int:
    seen = [0]

    def count(*_args: object) -> None:
        seen[0] += 1

    engine = database.engine.sync_engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        await Directory(load_config(config)).sync(database, clock.now)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return seen[0]


async def test_sync_costs_the_same_statements_for_three_hundred_more_people(
    tmp_path: Path, database_url: str, clock: FakeClock
) -> None:
    few = tuple(f"slack:UA{n:04d}" for n in range(3))
    many = tuple(f"slack:UB{n:04d}" for n in range(300))
    database = Database(database_url)
    try:
        # Everyone new, in their cohorts, with their roles.
        first = await _sync_statements(database, write(tmp_path, FIRST, few, few[0]), clock)
        # 300 new people, the first three leave, the lead changes.
        second = await _sync_statements(database, write(tmp_path, FIRST, many, many[0]), clock)
        # Nothing changed.
        third = await _sync_statements(database, write(tmp_path, FIRST, many, many[0]), clock)
        async with database.session() as session:
            connection = await session.connection()
            count = (await connection.exec_driver_sql("SELECT count(*) FROM person")).scalar()
    finally:
        await database.dispose()
    assert count == 6 + 3 + 300
    assert first == second
    # People are moved and roles replaced only when something changed.
    assert third < first
