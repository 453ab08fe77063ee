"""Everything stored about a person, for `mydata`: in plain words, or as JSON."""

from __future__ import annotations

import base64
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from babel import Locale, UnknownLocaleError
from babel.dates import format_datetime
from sqlmodel import SQLModel

from bot.config import LastmileConfig
from bot.flows.checkin import Fact, option_key
from bot.wording import Wording, language_of
from storage.people import PersonData

NOTE_KINDS = ("workaround", "override", "idea")


def when(moment: datetime | None, zone: ZoneInfo, w: Wording) -> str:
    """A moment in the person's time and language ("Nov 17, 2026, 3:30 PM")."""
    if moment is None:
        return w("mydata.never")
    return format_datetime(moment, format="medium", tzinfo=zone, locale=language_of(w.locale))


def _quoted(text: str) -> str:
    return f" “{text}”" if text else ""


def _label(w: Wording, fact: Fact, value: str, tool: str = "") -> str:
    key = option_key(fact, value)
    return w(key, tool=tool).rstrip("…") if key in w.strings else value


def language_name(tag: str, w: Wording) -> str:
    """A locale tag as its language's own name in the person's language ("Spanish")."""
    if not tag:
        return w("mydata.language_unknown")
    try:
        name = Locale.parse(language_of(tag)).get_display_name(language_of(w.locale))
    except (UnknownLocaleError, ValueError):
        return tag
    return f"{name} ({tag})" if name else tag


def status_text(data: PersonData, w: Wording, zone: ZoneInfo) -> str:
    """The person's participation status in words."""
    person = data.person
    if person.status == "paused":
        return w("status.paused", until=when(person.paused_until, zone, w))
    return w(f"status.{person.status}")


def _role(w: Wording, role: str, scope: str, config: LastmileConfig | None) -> str:
    if config is not None and role == "lead" and scope in config.cohorts:
        scope = config.cohorts[scope].name or scope
    if config is not None and role == "owner" and scope in config.programmes:
        scope = config.programmes[scope].name
    return w(f"mydata.role.{role}", scope=scope) if f"mydata.role.{role}" in w.strings else role


def _kind(checkin_kind: str, slot: str) -> str:
    return "self" if slot.startswith("self:") else checkin_kind


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
    data: PersonData, w: Wording, zone: ZoneInfo, config: LastmileConfig | None = None
) -> str:
    """Every stored row about the person, in plain words and the labels they tapped.

    Args:
        data: the rows, from `storage.people.person_data`.
        w: the person's wording.
        zone: the person's time zone, for dates.
        config: names of teams and programmes (ids are shown without it).

    Returns:
        One message: the profile with e-mail and platform ids, roles, how they are
        reached, check-ins with what was answered, workarounds, overrides, the day-30
        answer, notes, and what else is kept (themes, message references, queue).
    """
    person = data.person
    none = w("mydata.none")
    cohort = person.cohort_id or ""
    team = none
    tool = ""
    if cohort:
        known = config.cohorts.get(cohort) if config is not None else None
        team = f"{known.name or cohort} ({cohort})" if known else cohort
        if config is not None and known is not None:
            tool = config.programmes[known.programme].tool
    lines = [
        w("mydata.heading"),
        "",
        w("mydata.name", value=person.display_name or none),
        w("mydata.email", value=person.email or none),
        w(
            "mydata.platform",
            platform=person.platform,
            user=person.platform_user_id,
            workspace=person.workspace_id or none,
        ),
        w("mydata.team", value=team),
        w("mydata.timezone", value=person.timezone or w("mydata.timezone_team", zone=str(zone))),
        w("mydata.language", value=language_name(person.locale, w)),
        w("mydata.status", value=status_text(data, w, zone)),
        w("mydata.first_seen", value=when(person.created_at, zone, w)),
        w("mydata.welcomed", value=when(person.welcomed_at, zone, w)),
    ]
    if person.unreachable:
        lines.append(w("mydata.unreachable"))
    roles = ", ".join(_role(w, r.role, r.scope, config) for r in data.roles) or none
    lines.append(w("mydata.roles", roles=roles))
    if data.address is not None:
        ids = ", ".join(f"{key} {value}" for key, value in _ids(data.address.data))
        lines.append(w("mydata.address", ids=ids or none))
    answers = {answer.checkin_id: answer for answer in data.answers}
    lines += ["", w("mydata.checkins", count=len(data.checkins))]
    for checkin in data.checkins:
        answer = answers.get(checkin.id or -1)
        said = ""
        if answer is not None:
            said = " — " + _label(w, Fact.OUTCOME, answer.outcome, tool)
            if answer.not_used_reason:
                said += " · " + _label(w, Fact.NOT_USED, answer.not_used_reason, tool)
            said += _quoted(answer.not_used_text)
        lines.append(
            w(
                "mydata.checkin_line",
                when=when(checkin.sent_at or checkin.scheduled_for, zone, w),
                kind=w(f"mydata.kind.{_kind(checkin.kind, checkin.slot)}", tool=tool),
                status=w(f"mydata.checkin_status.{checkin.status}"),
                answer=said,
                context=_quoted(checkin.context),
            )
        )
    lines += ["", w("mydata.workarounds", count=len(data.workarounds))]
    lines.extend(
        w(
            "mydata.line",
            when=when(row.created_at, zone, w),
            text=_label(w, Fact.WORKAROUND, row.kind, tool) + _quoted(row.text),
        )
        for row in data.workarounds
    )
    lines += ["", w("mydata.overrides", count=len(data.overrides))]
    lines.extend(
        w(
            "mydata.line",
            when=when(row.created_at, zone, w),
            text=(
                _label(w, Fact.OVERRIDE, row.reason or "no", tool)
                if row.overridden
                else _label(w, Fact.OVERRIDE, "no", tool)
            )
            + _quoted(row.text),
        )
        for row in data.overrides
    )
    for row in data.day30:
        lines.append(
            w(
                "mydata.day30",
                when=when(row.created_at, zone, w),
                feeling=_label(w, Fact.FEELING, row.feeling, tool),
                text=_quoted(row.change_first),
            )
        )
    lines += ["", w("mydata.notes", count=len(data.notes))]
    lines.extend(
        w(
            "mydata.line",
            when=when(row.created_at, zone, w),
            text=(w(f"note.{row.kind}") if row.kind in NOTE_KINDS else w("mydata.unsorted"))
            + _quoted(row.text),
        )
        for row in data.notes
    )
    lines += ["", w("mydata.also")]
    if data.state is not None:
        lines.append(w("mydata.in_progress", when=when(data.state.updated_at, zone, w)))
    k = config.settings.anonymity_k if config is not None else 5
    lines.append(w("mydata.themes", count=len(data.theme_texts or []), k=k))
    lines.append(w("mydata.messages", count=len(data.sent or [])))
    lines.append(w("mydata.waiting", count=len(data.waiting or [])))
    kept = retention_of(config, person.cohort_id) if config is not None else None
    lines += ["", w("mydata.kept") if kept is None else w("mydata.kept_for", days=kept)]
    lines += [w("mydata.json_hint"), w("mydata.forget_hint")]
    return "\n".join(lines)


def _ids(data: dict[str, Any]) -> list[tuple[str, str]]:
    """The ids in a stored address, flattened (Slack: team, user, DM; Teams: a reference)."""
    found: list[tuple[str, str]] = []
    for key, value in data.items():
        if isinstance(value, dict):
            found += [(f"{key}.{inner}", text) for inner, text in _ids(value)]
        elif isinstance(value, str | int) and key != "serviceUrl":
            found.append((key, str(value)))
    return found


def _row(row: SQLModel | None) -> dict[str, Any] | None:
    if row is None:
        return None
    out: dict[str, Any] = {}
    for key, value in row.model_dump().items():
        if isinstance(value, datetime | date):
            out[key] = value.isoformat()
        elif isinstance(value, bytes):
            out[key] = base64.b64encode(value).decode("ascii")
        else:
            out[key] = value
    return out


def mydata_json(data: PersonData) -> dict[str, Any]:
    """Every stored row about the person, every field, as JSON-ready data."""
    return {
        "person": _row(data.person),
        "roles": [_row(row) for row in data.roles],
        "address": _row(data.address),
        "checkins": [_row(row) for row in data.checkins],
        "answers": [_row(row) for row in data.answers],
        "workarounds": [_row(row) for row in data.workarounds],
        "overrides": [_row(row) for row in data.overrides],
        "day30": [_row(row) for row in data.day30],
        "notes": [_row(row) for row in data.notes],
        "conversation_state": _row(data.state),
        "theme_texts": [_row(row) for row in data.theme_texts or []],
        "sent_messages": [_row(row) for row in data.sent or []],
        "queued_messages": [_row(row) for row in data.waiting or []],
    }
