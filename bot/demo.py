"""`lastmile demo`: several weeks of made-up answers for the example config's people, in a
throwaway database marked as demo data, so a first look shows a real digest and report."""

from __future__ import annotations

import random
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from importlib import resources
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.config import LastmileConfig
from bot.digest.weeks import IsoWeek
from bot.runtime import Runtime
from bot.themes.placing import update_themes
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
from storage.instance import instance
from storage.models import CheckIn, Person
from storage.people import find_person, people_in_cohort
from storage.reports import add_theme_update
from storage.themes import add_release

DEFAULT_WEEKS = 6
_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

# Before and after the demo's release: the tool gets better, as a pilot hopes.
BEFORE = {"helped": 38, "partly": 22, "no": 22, "not_used": 13, "not_now": 5}
AFTER = {"helped": 58, "partly": 18, "no": 10, "not_used": 10, "not_now": 4}
WORKAROUNDS = {"other": 55, "old_system": 20, "by_hand": 17, "colleague": 8}
OVERRIDES = {"wrong": 30, "didnt_fit": 30, "slower": 20, "distrust": 10, "policy": 10}
NOT_USED = {"not_needed": 30, "too_slow": 30, "no_access": 20, "forgot": 20}
FEELINGS = {"very": 45, "somewhat": 30, "not": 15, "dont_use": 10}
POOLS_BEFORE = {"no_signal": 40, "customs_codes": 25, "loading_bay": 25, "too_many_taps": 10}
POOLS_AFTER = {"no_signal": 10, "customs_codes": 35, "loading_bay": 40, "too_many_taps": 15}
RELEASE = "2.4"
UPDATE_THEME = "no-signal"
UPDATE = "RoutePilot 2.4 works offline: drops are saved without signal and sent when it returns."


class NotADemoDatabase(Exception):
    """The database holds more than demo data: `lastmile demo` never writes into it."""


@dataclass(frozen=True)
class DemoFilled:
    """What `fill_demo` made."""

    people: int
    checkins: int
    answers: int
    texts: int
    weeks: int


def _phrases() -> dict[str, Any]:
    path = resources.files("bot") / "examples" / "demo.toml"
    return tomllib.loads(path.read_text(encoding="utf-8"))


def _pick(rng: random.Random, weights: dict[str, int]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _slots(config: LastmileConfig, cohort_id: str, week: IsoWeek) -> list[datetime]:
    """The cohort's scheduled moments in the week, in its own time zone."""
    zone = ZoneInfo(config.cohort_timezone(cohort_id))
    moments: list[datetime] = []
    for slot in config.cohorts[cohort_id].slots:
        for part in slot.days.split(","):
            first, _, last = part.partition("-")
            span = range(_DAYS.index(first), _DAYS.index(last or first) + 1)
            for day in span:
                local = datetime.combine(
                    week.monday + timedelta(days=day), time(slot.hour, slot.minute), tzinfo=zone
                )
                moments.append(local)
    return sorted(moments)


class _Pilot:
    """Writes one made-up pilot through the repository functions the flows use."""

    def __init__(self, session: AsyncSession, config: LastmileConfig, rng: random.Random) -> None:
        self.session = session
        self.config = config
        self.rng = rng
        self.phrases = _phrases()
        self.checkins = self.answers = self.texts = 0

    def _text(self, pools: dict[str, int]) -> str:
        pool = self.phrases["written"][_pick(self.rng, pools)]["texts"]
        self.texts += 1
        return str(self.rng.choice(pool))

    def _maybe(self, texts: Sequence[str], chance: float) -> str:
        if texts and self.rng.random() < chance:
            self.texts += 1
            return str(self.rng.choice(texts))
        return ""

    async def checkin(self, person: Person, programme: str, kind: str, at: datetime) -> CheckIn:
        assert person.id is not None
        made = await create_checkin(
            self.session,
            person_id=person.id,
            programme_id=programme,
            cohort_id=person.cohort_id or "",
            kind=kind,
            slot=f"demo:{at.isoformat()}",
            scheduled_for=at,
            expires_at=at + timedelta(hours=4),
        )
        assert made is not None and made.id is not None
        self.checkins += 1
        return made

    async def answer(self, checkin: CheckIn, at: datetime, improved: bool) -> None:
        """One person's answer to one check-in, with what they did instead and why."""
        assert checkin.id is not None
        when = at + timedelta(minutes=self.rng.randint(2, 50))
        outcome = _pick(self.rng, AFTER if improved else BEFORE)
        await save_answer(self.session, checkin, outcome, when)
        await set_checkin_status(self.session, checkin.id, "answered", sent_at=at, answered_at=when)
        self.answers += 1
        pools = POOLS_AFTER if improved else POOLS_BEFORE
        if outcome in ("partly", "no"):
            kind = _pick(self.rng, WORKAROUNDS)
            text = self._text(pools) if kind == "other" else ""
            await save_workaround(self.session, checkin, kind, text, when)
            if self.rng.random() < 0.35:
                reason = _pick(self.rng, OVERRIDES)
                texts = self.phrases["override_texts"].get(reason, [])
                detail = self._maybe(texts, 0.5)
                await save_override(self.session, checkin, True, reason, detail, when)
            else:
                await save_override(self.session, checkin, False, "", "", when)
        elif outcome == "not_used":
            reason = _pick(self.rng, NOT_USED)
            detail = self._maybe(self.phrases["not_used_texts"].get(reason, []), 0.4)
            await save_not_used(self.session, checkin.id, reason, detail)

    async def day30(self, person: Person, programme: str, at: datetime) -> None:
        checkin = await self.checkin(person, programme, "day30", at)
        assert checkin.id is not None
        when = at + timedelta(minutes=self.rng.randint(5, 90))
        change = self._maybe(self.phrases["day30"]["change_first"], 0.7)
        await save_day30(self.session, checkin, _pick(self.rng, FEELINGS), change, when)
        await set_checkin_status(self.session, checkin.id, "answered", sent_at=at, answered_at=when)


async def fill_demo(runtime: Runtime, weeks: int = DEFAULT_WEEKS, seed: int = 47) -> DemoFilled:
    """Fill the runtime's database with `weeks` weeks (and this week so far) of answers.

    Every team has every person answering most check-ins, so each passes k; halfway a
    release makes the tool better, and the owner's update on the "No signal" theme
    makes it fade.

    Raises:
        NotADemoDatabase: the database was not made for demo data.
    """
    config, now = runtime.config, runtime.clock()
    rng = random.Random(seed)
    async with runtime.db.session() as session:
        if not (await instance(session, now, demo=True)).demo:
            raise NotADemoDatabase("this database was not made by lastmile demo")
        pilot = _Pilot(session, config, rng)
        people = 0
        for programme_id, programme in sorted(config.programmes.items()):
            zone = ZoneInfo(programme.timezone)
            this_week = IsoWeek.containing(now, zone)
            released = this_week.shifted(-(weeks // 2)).window(zone).start + timedelta(hours=9)
            updated = released + timedelta(weeks=1, days=1, hours=2)
            owner = await _owner(session, config, programme_id)
            first_asked: dict[int, datetime] = {}
            for cohort_id in sorted(
                c for c, v in config.cohorts.items() if v.programme == programme_id
            ):
                members = [p for p in await people_in_cohort(session, cohort_id) if p.id]
                people += len(members)
                for back in range(weeks, -1, -1):
                    week = this_week.shifted(-back)
                    # One person a week misses one check-in: real, and still k people.
                    missing = rng.choice(members) if members else None
                    for position, at in enumerate(_slots(config, cohort_id, week)):
                        if at > now:
                            continue
                        for person in members:
                            assert person.id is not None
                            checkin = await pilot.checkin(person, programme_id, "scheduled", at)
                            first_asked.setdefault(person.id, at)
                            if person is missing and position == 0:
                                await set_checkin_status(
                                    session, checkin.id or 0, "expired", sent_at=at
                                )
                                continue
                            await pilot.answer(checkin, at, improved=at >= released)
                for person in members:
                    assert person.id is not None
                    asked = first_asked.get(person.id)
                    if asked is not None and asked + timedelta(days=30) <= now:
                        await pilot.day30(person, programme_id, asked + timedelta(days=30))
                for text in pilot.phrases["notes"]["texts"][: len(members) // 3]:
                    writer = rng.choice(members)
                    assert writer.id is not None
                    moment = now - timedelta(days=rng.randint(3, 7 * weeks))
                    note = await add_note(session, writer.id, text, moment)
                    assert note.id is not None
                    await classify_note(
                        session, note.id, writer.id, rng.choice(["idea", "workaround"])
                    )
            if released <= now:
                await add_release(session, programme_id, RELEASE, "owner", released)
            if updated <= now and any(t.name == "No signal" for t in programme.themes):
                await add_theme_update(session, programme_id, UPDATE_THEME, UPDATE, owner, updated)
            await update_themes(session, config, programme_id, now)
    return DemoFilled(people, pilot.checkins, pilot.answers, pilot.texts, weeks)


async def _owner(session: AsyncSession, config: LastmileConfig, programme_id: str) -> int | None:
    for identity in config.programmes[programme_id].owners:
        platform, _, user = identity.partition(":")
        person = await find_person(session, platform, user)
        if person is not None:
            return person.id
    return None
