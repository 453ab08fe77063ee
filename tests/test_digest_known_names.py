"""Issue 12: a name the bot knows, written in a stored note or answer, never reaches a digest."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.digest.build import Scope, build_digest
from bot.digest.known_people import config_identities, known_names
from bot.digest.render import to_json, to_markdown, to_text
from bot.digest.report import digest_report
from bot.digest.scrub import Scrubber, scrub
from bot.digest.weeks import IsoWeek
from bot.replies import as_plain_text
from bot.runtime import Runtime
from storage.checkins import add_note, classify_note
from storage.models import Person
from storage.people import PersonName, people_names
from tests.conftest import FakeClock
from tests.digest_seed import MONDAY_W48, THU_W47, person_id, running

W47 = IsoWeek(2026, 47)
# Written by five people of the scanner theme (s3 is Tamsin herself), however they spell her.
NOTES = {
    "s3": "scanner signal died again, Tamsin Pengelly said use the paper sheet",
    "s5": "scanner signal gone at the gate, tamsin pengelly said use the paper sheet",
    "e1": "no scanner signal in the yard, Pengelly said use the paper sheet",
    "w2": "scanner signal dropped twice, pengelly's paper sheet is quicker",
    "e3": "scanner signal died, T. Pengelly said use the paper sheet, mail t.pengelly",
}
LEAK = re.compile(r"tamsin|pengelly", re.IGNORECASE)


@pytest.fixture
async def pilot(database_url: str, tmp_path: Path, clock: FakeClock) -> AsyncIterator[Runtime]:
    clock.now = MONDAY_W48
    async for runtime in running(database_url, tmp_path, clock):
        yield runtime


async def test_a_known_name_in_stored_notes_never_reaches_a_rendered_digest(
    pilot: Runtime,
) -> None:
    async with pilot.db.session() as session:
        # Her platform profile is how the bot knows her name; nothing in the config says it.
        tamsin = await session.get(Person, await person_id(session, "s3"))
        assert tamsin is not None
        tamsin.display_name, tamsin.email = "Tamsin Pengelly", "t.pengelly@northwind.example"
        session.add(tamsin)
        for user, text in NOTES.items():
            who = await person_id(session, user)
            note = await add_note(session, who, text, THU_W47.replace(hour=18))
            assert note.id is not None
            await classify_note(session, note.id, who, "workaround")
    async with pilot.db.session() as session:
        digest = await build_digest(session, pilot.config, Scope("routing"), W47)
    report = digest_report(digest, pilot.wording)
    assert report.chart is not None
    rendered = {
        "text": to_text(report),
        "markdown": to_markdown(report),
        "json": to_json(digest, pilot.wording),
        "plain": as_plain_text(report),
        "alt text": report.chart.alt_text,
    }
    for name, output in rendered.items():
        assert not LEAK.search(output), f"her name is in the {name} digest"
    data = json.loads(rendered["json"])
    quotes = [q for theme in data["written_themes"] for q in theme["quotes"]]
    assert any("paper sheet" in quote and "[someone]" in quote for quote in quotes), quotes
    # Only the directory knows her surname: common names alone would have let it through.
    assert LEAK.search(scrub(NOTES["e1"]))


async def test_the_directory_comes_from_profiles_and_the_config(pilot: Runtime) -> None:
    async with pilot.db.session() as session:
        tamsin = await session.get(Person, await person_id(session, "s3"))
        assert tamsin is not None
        tamsin.display_name, tamsin.email = "Tamsin Pengelly", "tp@northwind.example"
        session.add(tamsin)
    async with pilot.db.session() as session:
        people = await people_names(session)
    assert PersonName("Tamsin Pengelly", "tp@northwind.example", "s3") in people
    identities = config_identities(pilot.config)
    assert {"local:olu", "local:ada", "local:lee", "local:t1"} <= set(identities)
    known = known_names(
        [*people, PersonName("", "", "U024BE7LH")], [*identities, "sarah.okafor@corp.example"]
    )
    assert {"tamsin", "pengelly", "sarah", "okafor"} <= known.words
    assert {"tp", "sarah.okafor"} <= known.logins
    assert "U024BE7LH" in known.ids
    assert Scrubber(known).scrub("okafor and U024BE7LH") == "[someone] and [someone]"
