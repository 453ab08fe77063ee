"""`lastmile export --raw`: every answer of a programme, people as pseudonyms unless asked."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from bot.reports.links import ReportLinks
from storage.exports import identities, raw_checkins, raw_notes

RAW_FORMAT = "lastmile.raw/1"
RAW_COLUMNS = (
    "record",
    "id",
    "person",
    "cohort",
    "kind",
    "status",
    "asked_at",
    "answered_at",
    "outcome",
    "not_used_reason",
    "not_used_text",
    "workaround",
    "workaround_text",
    "overridden",
    "override_reason",
    "override_text",
    "day30_feeling",
    "day30_change_first",
    "note",
)
IDENTITY_COLUMNS = ("identity", "name")


def _when(moment: datetime | None) -> str:
    return moment.isoformat() if moment is not None else ""


async def raw_records(
    session: AsyncSession, links: ReportLinks, programme_id: str, with_identities: bool
) -> list[dict[str, Any]]:
    """Every check-in and note of the programme as records of `RAW_COLUMNS` (and
    `IDENTITY_COLUMNS` with identities), oldest first within each kind."""
    checkins = await raw_checkins(session, programme_id)
    notes = await raw_notes(session, programme_id)
    people = sorted({row.person_id for row in checkins} | {note.person_id for note in notes})
    names = await identities(session, people) if with_identities else {}
    pseudonyms = {person: await links.pseudonym(person) for person in people}

    def who(person_id: int) -> dict[str, Any]:
        found = {"person": pseudonyms[person_id]}
        if with_identities:
            identity, name = names.get(person_id, ("", ""))
            found |= {"identity": identity, "name": name}
        return found

    records: list[dict[str, Any]] = [
        {
            "record": "checkin",
            "id": row.checkin_id,
            **who(row.person_id),
            "cohort": row.cohort_id,
            "kind": row.kind,
            "status": row.status,
            "asked_at": _when(row.asked_at),
            "answered_at": _when(row.answered_at),
            "outcome": row.outcome,
            "not_used_reason": row.not_used_reason,
            "not_used_text": row.not_used_text,
            "workaround": row.workaround,
            "workaround_text": row.workaround_text,
            "overridden": "" if row.overridden is None else str(row.overridden).lower(),
            "override_reason": row.override_reason,
            "override_text": row.override_text,
            "day30_feeling": row.day30_feeling,
            "day30_change_first": row.day30_change_first,
            "note": "",
        }
        for row in checkins
    ]
    records += [
        {
            "record": "note",
            "id": note.note_id,
            **who(note.person_id),
            "cohort": note.cohort_id,
            "kind": note.kind,
            "answered_at": _when(note.created_at),
            "note": note.text,
        }
        for note in notes
    ]
    return records


def raw_csv(records: list[dict[str, Any]], with_identities: bool) -> str:
    """The records as CSV, one header row."""
    columns = list(RAW_COLUMNS)
    if with_identities:
        columns[3:3] = IDENTITY_COLUMNS
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, restval="", lineterminator="\n")
    writer.writeheader()
    writer.writerows(records)
    return buffer.getvalue()


def raw_json(records: list[dict[str, Any]], programme_id: str, with_identities: bool) -> str:
    """The records as JSON: `{"format", "programme", "identities", "records": [...]}`."""
    data = {
        "format": RAW_FORMAT,
        "programme": programme_id,
        "identities": with_identities,
        "records": records,
    }
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
