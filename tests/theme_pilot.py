"""An eight-week pilot with planted themes and changes, for the themes acceptance tests.

Six teams of eight drivers (48 people), two check-ins a week each, weeks 2026-W40 to
W47. Planted:
- "no signal" complaints by 4 people a week until release 2.3 (Tuesday of W44), then
  10 a week (×2.5);
- help rate about 60% everywhere, halving to about 25% in teams a and b from W44;
- "logged out" complaints by 8 people a week until the owner's update in W45, then 2;
- "typing it twice" notes by 5 people every week;
- a printer complaint by 3 people (a theme below k) and one-word noise.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.config import Settings
from bot.digest.weeks import IsoWeek
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
from storage.people import find_person

TEAMS = ("a", "b", "c", "d", "e", "f")
PEOPLE = [f"{team}{n}" for team in TEAMS for n in range(1, 9)]
WEEKS = [IsoWeek(2026, week) for week in range(40, 48)]
RELEASE_WEEK = 4  # W44
UPDATE_WEEK = 5  # W45
MONDAY_W48 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
RELEASE_AT = datetime(2026, 10, 27, 9, 0, tzinfo=UTC)  # Tuesday of W44
UPDATE_AT = datetime(2026, 11, 4, 12, 0, tzinfo=UTC)  # Wednesday of W45

SIGNAL = [
    "no signal in the yard, wrote it on paper",
    "no reception at the depot again",
    "lost signal on the estate",
    "signal dropped near the bridge",
    "no signal at the gate, phoned dispatch",
    "zero signal out by the farms",
    "no sginal past the tunnel",
    "signal gone in the basement car park",
    "no mobile signal at the docks",
    "lost the signal again by the ring road",
]
LOGIN = [
    "logged out again mid round",
    "it logged me out and wanted my password",
    "logged out again after the break",
    "kept logging me out",
    "got logged out twice today",
    "it logs me out every shift",
    "logged out, had to log back in",
    "logged out again before the last drop",
]
TWICE = [
    "had to type it all again into the old system",
    "typed the same delivery into the old system again",
    "entered it twice, once here and once in the old system",
    "had to type everything again in the depot system",
    "typed it again into the old system as well",
]
PRINTER = ["label printer jammed", "the label printer jammed again", "printer jammed, no labels"]
NOISE = ["ok", "thanks", "n/a"]

CONFIG_HEAD = """
[settings]
anonymity_k = 5
admins = ["local:ada"]

[programmes.routing]
name = "Route planner pilot"
tool = "RoutePilot"
timezone = "Europe/London"
owners = ["local:olu"]
digest_destination = "local:olu"
"""


def config_text() -> str:
    """Six cohorts of eight."""
    parts = [CONFIG_HEAD]
    for team in TEAMS:
        members = ", ".join(f'"local:{team}{n}"' for n in range(1, 9))
        parts.append(
            f'[cohorts.{team}]\nprogramme = "routing"\nname = "Team {team.upper()}"\n'
            f"members = [{members}]\n"
        )
    return "\n".join(parts)


async def start(database_url: str, directory: Path, clock: object) -> Runtime:
    """A runtime on the pilot's config."""
    path = directory / "pilot.toml"
    path.write_text(config_text(), encoding="utf-8")
    settings = Settings(
        database_url=database_url,
        lastmile_config=path,
        _env_file=None,  # type: ignore[call-arg]
    )
    return await build_runtime(settings, clock=clock)  # type: ignore[arg-type]


def _writers(rng: random.Random, count: int) -> list[str]:
    return rng.sample(PEOPLE, count)


async def seed(runtime: Runtime, weeks: int = len(WEEKS)) -> None:
    """Write the first `weeks` weeks of the pilot."""
    rng = random.Random(44)
    async with runtime.db.session() as session:
        ids = {}
        for user in PEOPLE:
            person = await find_person(session, "local", user)
            assert person is not None and person.id is not None
            ids[user] = person.id
        for index, week in enumerate(WEEKS[:weeks]):
            monday = datetime.combine(week.monday, datetime.min.time(), tzinfo=UTC)
            signal = set(_writers(rng, 4 if index < RELEASE_WEEK else 10))
            login = set(_writers(rng, 8 if index <= UPDATE_WEEK else 2))
            twice = set(_writers(rng, 5))
            printer = set(PEOPLE[:3]) if index == len(WEEKS) - 1 else set()
            noisy = set(_writers(rng, 3))
            for user in PEOPLE:
                team = user[0]
                low = team in ("a", "b") and index >= RELEASE_WEEK
                for day, hour in ((1, 15), (3, 15)):
                    at = monday + timedelta(days=day, hours=hour)
                    checkin = await create_checkin(
                        session,
                        person_id=ids[user],
                        programme_id="routing",
                        cohort_id=team,
                        kind="scheduled",
                        slot=f"s:{at.isoformat()}",
                        scheduled_for=at,
                        expires_at=None,
                    )
                    assert checkin is not None and checkin.id is not None
                    await set_checkin_status(session, checkin.id, "sent", sent_at=at)
                    when = at + timedelta(minutes=5)
                    first = day == 1
                    if first and user in login:
                        await save_answer(session, checkin, "not_used", when)
                        await save_not_used(session, checkin.id, "no_access", rng.choice(LOGIN))
                        continue
                    helped = rng.random() < (0.25 if low else 0.6)
                    # People who write a complaint that day said the tool did not (fully) help.
                    complains = first and (user in signal or user in printer)
                    outcome = "helped" if helped and not complains else rng.choice(("partly", "no"))
                    await save_answer(session, checkin, outcome, when)
                    if outcome == "helped":
                        continue
                    words = ""
                    if first and user in signal:
                        words = rng.choice(SIGNAL)
                    elif first and user in printer:
                        words = rng.choice(PRINTER)
                    elif not first and user in noisy:
                        words = rng.choice(NOISE)
                    kind = "other" if words else "by_hand"
                    await save_workaround(session, checkin, kind, words, when)
                    await save_override(session, checkin, False, "", "", when)
                if user in twice:
                    note = await add_note(
                        session, ids[user], rng.choice(TWICE), monday + timedelta(days=2, hours=12)
                    )
                    assert note.id is not None
                    await classify_note(session, note.id, ids[user], "idea")
        if weeks == len(WEEKS):
            # Day-30 "what would you change first" also joins the pool.
            at = datetime.combine(WEEKS[-1].monday, datetime.min.time(), tzinfo=UTC)
            for user in PEOPLE[40:43]:
                checkin = await create_checkin(
                    session,
                    person_id=ids[user],
                    programme_id="routing",
                    cohort_id=user[0],
                    kind="day30",
                    slot="day30",
                    scheduled_for=at,
                    expires_at=None,
                )
                assert checkin is not None
                await save_day30(
                    session, checkin, "somewhat", "fix the signal problem, no signal anywhere", at
                )
