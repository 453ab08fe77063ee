"""A seeded pilot for the digest tests: four teams (two below k), answers, themes, day-30."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.config import Settings
from bot.events import Actor, Address, MessageReceived
from bot.replies import Reply
from bot.runtime import Runtime, build_runtime
from storage.checkins import (
    add_note,
    classify_note,
    create_checkin,
    save_answer,
    save_day30,
    save_not_used,
    save_override,
    save_workaround,
    set_checkin_status,
)
from storage.models import CheckIn
from storage.people import find_person

CONFIG = """
[settings]
anonymity_k = 5
admins = ["local:ada"]

[programmes.routing]
name = "Route planner pilot"
tool = "RoutePilot"
timezone = "Europe/London"
owners = ["local:olu"]
digest_destination = "slack:C0DIGEST"

[programmes.triage]
name = "Triage assistant pilot"
tool = "TriageAid"
timezone = "America/Chicago"
owners = ["local:tom"]
digest_destination = "teams:19:triage@thread.tacv2"

[cohorts.north]
programme = "routing"
name = "North depot"
members = ["local:n1", "local:n2", "local:n3", "local:n4", "local:n5", "local:n6", "local:n7"]
leads = ["local:lee"]

[cohorts.south]
programme = "routing"
name = "South depot"
members = ["local:s1", "local:s2", "local:s3", "local:s4", "local:s5", "local:s6"]
leads = ["local:tia"]

[cohorts.east]
programme = "routing"
name = "East yard"
members = ["local:e1", "local:e2", "local:e3"]

[cohorts.west]
programme = "routing"
name = "West hub"
members = ["local:w1", "local:w2", "local:w3"]

[cohorts.ward]
programme = "triage"
name = "Ward nine"
members = ["local:t1", "local:t2", "local:t3"]
"""

TUE_W46 = datetime(2026, 11, 10, 15, 30, tzinfo=UTC)
TUE_W47 = datetime(2026, 11, 17, 15, 30, tzinfo=UTC)
THU_W47 = datetime(2026, 11, 19, 15, 30, tzinfo=UTC)
MONDAY_W48 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Said:
    """One check-in's answers, as a person would give them in the chat."""

    outcome: str | None  # None: sent, never answered
    workaround: str = ""
    workaround_text: str = ""
    override: str = ""  # "" not asked, "no", or a reason
    override_text: str = ""
    not_used: str = ""
    not_used_text: str = ""


def said(outcome: str | None, **details: str) -> Said:
    """Shorthand for a check-in's answers."""
    return Said(outcome, **details)


SCANNER = {
    "s3": "Scanner had no signal, so I called @dave.smith on +44 7700 900123",
    "s5": "scanner no signal again - emailed ops.lead@example.com <!channel>",
    "e1": "<@U024BE7LH> scanner signal dropped, rang (312) 555-0147",
    "w2": "scanner lost signal, wrote it down; mail bob at example dot com or 0049 30 1234 5678",
}
SCANNER_NOTE = "Scanner signal died at the gate again, texted 07700 900 123 https://maps.example/r?token=abc123"

WEEK_47: dict[str, tuple[Said, Said]] = {
    "n1": (said("helped"), said("helped")),
    "n2": (said("helped"), said("partly", workaround="old_system", override="slower")),
    "n3": (
        said("partly", workaround="old_system", override="no"),
        said(
            "no", workaround="by_hand", override="wrong", override_text="sent me down a closed road"
        ),
    ),
    "n4": (said("no", workaround="old_system", override="slower"), said(None)),
    "n5": (said("not_used", not_used="too_slow"), said("helped")),
    "n6": (said("not_now"), said("helped")),
    "n7": (said(None), said(None)),
    "s1": (said("helped"), said("partly", workaround="old_system", override="slower")),
    "s2": (said("no", workaround="old_system", override="slower"), said("helped")),
    "s3": (
        said("partly", workaround="other", workaround_text=SCANNER["s3"], override="slower"),
        said("not_used", not_used="too_slow"),
    ),
    "s4": (said("helped"), said("helped")),
    "s5": (
        said("no", workaround="other", workaround_text=SCANNER["s5"], override="no"),
        said(None),
    ),
    "s6": (said("not_now"), said("not_now")),
    "e1": (
        said("helped"),
        said("no", workaround="other", workaround_text=SCANNER["e1"], override="distrust"),
    ),
    "e2": (
        said("partly", workaround="other", workaround_text="printer jammed labels", override="no"),
        said("helped"),
    ),
    "e3": (said("not_used", not_used="too_slow"), said(None)),
    "w1": (said("helped"), said("helped")),
    "w2": (
        said(
            "no",
            workaround="other",
            workaround_text=SCANNER["w2"],
            override="other",
            override_text="the app froze so I ignored it",
        ),
        said(None),
    ),
    "w3": (
        said("not_used", not_used="too_slow"),
        said(
            "partly",
            workaround="other",
            workaround_text="label printer jammed again",
            override="no",
        ),
    ),
}

WEEK_46: dict[str, Said] = {
    "n1": said("helped"),
    "n2": said("helped"),
    "n3": said("helped"),
    "n4": said("no", workaround="by_hand", override="no"),
    "n5": said("partly", workaround="colleague", override="no"),
    "n7": said("not_used", not_used="too_slow"),
}

DAY_30 = {"n1": "very", "n2": "very", "s1": "somewhat", "s4": "somewhat", "w1": "dont_use"}


def write_config(directory: Path) -> Path:
    """The seeded pilot's config file."""
    path = directory / "digest.toml"
    path.write_text(CONFIG, encoding="utf-8")
    return path


async def start_runtime(database_url: str, directory: Path, clock: object) -> Runtime:
    """A runtime on the seeded pilot's config (people are mirrored from it)."""
    settings = Settings(
        database_url=database_url,
        lastmile_config=write_config(directory),
        _env_file=None,  # type: ignore[call-arg]
    )
    return await build_runtime(settings, clock=clock)  # type: ignore[arg-type]


async def person_id(session: AsyncSession, user: str) -> int:
    """The stored id of local:user."""
    person = await find_person(session, "local", user)
    assert person is not None and person.id is not None
    return person.id


async def _checkin(
    session: AsyncSession, user: str, cohort: str, kind: str, at: datetime, programme: str
) -> CheckIn:
    checkin = await create_checkin(
        session,
        person_id=await person_id(session, user),
        programme_id=programme,
        cohort_id=cohort,
        kind=kind,
        slot=f"{kind}:{at.isoformat()}",
        scheduled_for=at,
        expires_at=None,
    )
    assert checkin is not None and checkin.id is not None
    await set_checkin_status(session, checkin.id, "sent", sent_at=at)
    return checkin


async def record(
    session: AsyncSession, user: str, cohort: str, at: datetime, answer: Said, programme: str
) -> None:
    """Store one check-in and its answers through the repository functions."""
    checkin = await _checkin(session, user, cohort, "scheduled", at, programme)
    if answer.outcome is None:
        return
    when = at.replace(minute=35)
    assert await save_answer(session, checkin, answer.outcome, when)
    if answer.workaround:
        await save_workaround(session, checkin, answer.workaround, answer.workaround_text, when)
    if answer.override:
        overridden = answer.override != "no"
        reason = answer.override if overridden else ""
        await save_override(session, checkin, overridden, reason, answer.override_text, when)
    if answer.not_used:
        assert checkin.id is not None
        await save_not_used(session, checkin.id, answer.not_used, answer.not_used_text)


async def seed_pilot(runtime: Runtime) -> None:
    """Weeks 46 and 47 of the routing pilot, a note, and day-30 answers."""
    cohort_of = {
        user: cohort
        for cohort in ("north", "south", "east", "west")
        for user in runtime.config.cohorts[cohort].members
    }
    async with runtime.db.session() as session:
        for identity, answers in WEEK_47.items():
            cohort = cohort_of[f"local:{identity}"]
            for at, answer in zip((TUE_W47, THU_W47), answers, strict=True):
                await record(session, identity, cohort, at, answer, "routing")
        for identity, answer in WEEK_46.items():
            await record(session, identity, "north", TUE_W46, answer, "routing")
        note = await add_note(
            session, await person_id(session, "e3"), SCANNER_NOTE, THU_W47.replace(hour=17)
        )
        assert note.id is not None
        await classify_note(session, note.id, await person_id(session, "e3"), "workaround")
        for identity, feeling in DAY_30.items():
            cohort = cohort_of[f"local:{identity}"]
            checkin = await _checkin(session, identity, cohort, "day30", THU_W47, "routing")
            await save_day30(session, checkin, feeling, "", THU_W47.replace(hour=16))


async def say(runtime: Runtime, user: str, text: str) -> list[Reply]:
    """What the bot answers when local:user types `text`."""
    event = MessageReceived(Actor("local", user), Address("local"), text, f"test-{uuid.uuid4()}")
    return await runtime.engine.handle(event)


async def running(database_url: str, directory: Path, clock: object) -> AsyncIterator[Runtime]:
    """A seeded runtime, closed afterwards (for fixtures)."""
    runtime = await start_runtime(database_url, directory, clock)
    try:
        await seed_pilot(runtime)
        yield runtime
    finally:
        await runtime.close()
