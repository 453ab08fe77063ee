"""Renders everything stored about a person, for `mydata`."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from bot.config import LastmileConfig
from bot.wording import Wording
from storage.people import PersonData


def _when(moment: datetime | None, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).strftime("%a %d %b %Y %H:%M") if moment else "-"


def _detail(text: str) -> str:
    return f": “{text}”" if text else ""


def status_text(data: PersonData, w: Wording, zone: ZoneInfo) -> str:
    """The person's participation status in words."""
    person = data.person
    if person.status == "paused":
        return w("status.paused", until=_when(person.paused_until, zone))
    return w(f"status.{person.status}")


def retention_of(config: LastmileConfig, cohort_id: str | None) -> int | None:
    """How many days the person's words are kept: their programme's retention period
    (the shortest of all for someone in no cohort), None when kept until erased."""
    cohort = config.cohorts.get(cohort_id or "")
    if cohort is not None:
        return config.programmes[cohort.programme].retention_days
    return min(
        (p.retention_days for p in config.programmes.values() if p.retention_days), default=None
    )


def render_mydata(
    data: PersonData, w: Wording, zone: ZoneInfo, retention_days: int | None = None
) -> str:
    """Every stored row about the person, in plain words.

    Args:
        data: the rows, from `storage.people.person_data`.
        w: the person's wording.
        zone: the person's time zone, for dates.
        retention_days: how long their words are kept (None: until they are erased).

    Returns:
        One message listing the profile, roles, check-ins with answers,
        workarounds, overrides, the day-30 answer and notes.
    """
    person = data.person
    none = w("mydata.none")
    answers = {answer.checkin_id: answer for answer in data.answers}
    lines = [
        w("mydata.heading"),
        w(
            "mydata.profile",
            name=person.display_name or person.platform_user_id,
            platform=person.platform,
            user=person.platform_user_id,
            cohort=person.cohort_id or none,
            timezone=person.timezone or str(zone),
            status=status_text(data, w, zone),
        ),
        w(
            "mydata.roles",
            roles=", ".join(f"{r.role} {r.scope}".strip() for r in data.roles) or none,
        ),
        w("mydata.checkins", count=len(data.checkins)),
    ]
    for checkin in data.checkins:
        answer = answers.get(checkin.id or -1)
        said = ""
        if answer is not None:
            said = f", {answer.outcome}"
            if answer.not_used_reason:
                said += f" ({answer.not_used_reason}{_detail(answer.not_used_text)})"
        lines.append(
            w(
                "mydata.checkin_line",
                when=_when(checkin.sent_at or checkin.scheduled_for, zone),
                kind=checkin.kind,
                status=checkin.status,
                answer=said,
            )
        )
    lines.append(w("mydata.workarounds", count=len(data.workarounds)))
    lines.extend(
        w(
            "mydata.workaround_line",
            when=_when(row.created_at, zone),
            kind=row.kind,
            text=_detail(row.text),
        )
        for row in data.workarounds
    )
    lines.append(w("mydata.overrides", count=len(data.overrides)))
    lines.extend(
        w(
            "mydata.override_line",
            when=_when(row.created_at, zone),
            overridden="overrode" if row.overridden else "no override",
            reason=f", {row.reason}" if row.reason else "",
            text=_detail(row.text),
        )
        for row in data.overrides
    )
    for row in data.day30:
        lines.append(w("mydata.day30", feeling=row.feeling, text=_detail(row.change_first)))
    lines.append(w("mydata.notes", count=len(data.notes)))
    lines.extend(
        w("mydata.note_line", when=_when(row.created_at, zone), kind=row.kind, text=row.text)
        for row in data.notes
    )
    if retention_days is None:
        lines.append(w("mydata.kept"))
    else:
        lines.append(w("mydata.kept_for", days=retention_days))
    lines.append(w("mydata.forget_hint"))
    return "\n".join(lines)
