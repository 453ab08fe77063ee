"""A programme's counts per week and team, recounted only for the weeks whose rows changed.

Counting distinct respondents per week and team is a GROUP BY over every check-in of
the weeks (about 1.2 million rows for twelve weeks of 10,000 people), which both
databases answer by sorting. Most of a digest's weeks are over and never change, so
each week's counts are kept (`WeekCount`) with a fingerprint of the rows they came
from: reads of two covering indexes (no join, no sort) fingerprint every week, and only
the weeks whose fingerprint changed — a late answer, a `forget`, a check-in stored for
a past week — are counted again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import case, distinct, func, literal, union_all
from sqlalchemy import select as select_columns
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.models import Answer, CheckIn, WeekCount
from storage.reports import (
    OUTCOME_COLUMNS,
    OutcomeCounts,
    Window,
    aggregate_rows,
    in_cohorts,
    week_index,
)
from storage.sql import upsert

EVERY_TEAM = "*"
"""The `teams` key of a week counted per team, and the whole programme's entry in it."""

Counted = dict[tuple[int, str], OutcomeCounts]


def _span(weeks: Sequence[Window]) -> Window:
    return Window(min(w.start for w in weeks), max(w.end for w in weeks))


def _asked(programme_id: str, span: Window, sent: bool, *columns: Any) -> Any:
    """A SELECT of `columns` over the check-ins asked in the span, joined to their answers.

    A check-in belongs to the week it was asked in: when it was sent, or answered
    when the send time was never recorded. The two cases are separate SELECTs so
    each reads one range of the (programme_id, sent_at, answered_at, ...) index.
    """
    at = col(CheckIn.sent_at) if sent else col(CheckIn.answered_at)
    where = [at >= span.start, at < span.end]
    if not sent:
        where.append(col(CheckIn.sent_at).is_(None))
    return (
        select_columns(*columns)
        .select_from(CheckIn)
        .outerjoin(Answer, col(Answer.checkin_id) == col(CheckIn.id))
        .where(col(CheckIn.programme_id) == programme_id, col(CheckIn.kind) != "day30", *where)
    )


def _asked_at(sent: bool) -> Any:
    return col(CheckIn.sent_at) if sent else col(CheckIn.answered_at)


def _checkin_prints(programme_id: str, index: int, week: Window) -> Any:
    """One week's check-ins, counted and summed from the (programme_id, sent_at, ...) index
    alone, with the lowest and highest check-in id the week's answers can point to."""
    return select_columns(
        literal(index).label("week"),
        func.count(col(CheckIn.id)),
        func.coalesce(func.sum(col(CheckIn.id)), 0),
        func.coalesce(func.sum(col(CheckIn.person_id)), 0),
        func.coalesce(func.sum(func.length(col(CheckIn.cohort_id)) * col(CheckIn.id)), 0),
        func.min(col(CheckIn.id)),
        func.max(col(CheckIn.id)),
    ).where(
        col(CheckIn.programme_id) == programme_id,
        col(CheckIn.kind) != "day30",
        col(CheckIn.sent_at) >= week.start,
        col(CheckIn.sent_at) < week.end,
    )


def _answer_prints(index: int, low: int, high: int) -> Any:
    """The answers to check-ins with ids from `low` to `high`, counted and summed from the
    (checkin_id, person_id, outcome) index alone.

    The range holds every answer of the week's check-ins, and may hold a few answers to
    check-ins of other weeks or programmes (ids only roughly follow send times): a change
    to those only costs a recount, never a wrong count.
    """
    code = case(
        *[(col(Answer.outcome) == name, n + 1) for n, name in enumerate(OUTCOME_COLUMNS)],
        else_=0,
    )
    return select_columns(
        literal(index).label("week"),
        func.count(col(Answer.id)),
        func.coalesce(func.sum(col(Answer.id)), 0),
        func.coalesce(func.sum(col(Answer.person_id)), 0),
        func.coalesce(func.sum(code * col(Answer.id)), 0),
    ).where(col(Answer.checkin_id) >= low, col(Answer.checkin_id) <= high)


def _joined(statements: Sequence[Any]) -> Any:
    return union_all(*statements) if len(statements) > 1 else statements[0]


async def fingerprints(
    session: AsyncSession, programme_id: str, weeks: Sequence[Window]
) -> list[str]:
    """Each week's fingerprint: counts and sums over its check-ins and their answers.

    Any stored, deleted or changed check-in or answer of the week changes it (ids only
    grow, so a row replaced by another changes the sums). Three reads, none joining
    check-ins to answers row by row: the check-ins of each week from their covering
    index; the answers of each week's range of check-in ids from theirs; and the few
    check-ins answered but never sent, whose week is their answer's.
    """
    checkins = await aggregate_rows(
        session, _joined([_checkin_prints(programme_id, i, week) for i, week in enumerate(weeks)])
    )
    found: dict[int, str] = {}
    ranges: list[Any] = []
    for week, count, *sums, low, high in checkins:
        found[int(week)] = ":".join(str(int(value)) for value in (count, *sums))
        if int(count):
            ranges.append(_answer_prints(int(week), int(low), int(high)))
    if ranges:
        for week, *answered in await aggregate_rows(session, _joined(ranges)):
            found[int(week)] += "+" + ":".join(str(int(value)) for value in answered)
    # Check-ins never sent but answered: few, so one GROUP BY over the whole span.
    unsent = _asked(
        programme_id,
        _span(weeks),
        False,
        week_index(_asked_at(False), weeks).label("week"),
        col(CheckIn.id).label("checkin"),
        col(CheckIn.person_id).label("person"),
        col(Answer.id).label("answer"),
    ).subquery()
    never_sent = select_columns(
        unsent.c.week,
        func.count(unsent.c.checkin),
        func.sum(unsent.c.checkin + unsent.c.person),
        func.count(unsent.c.answer),
    ).group_by(unsent.c.week)
    for week, count, total, answers in await aggregate_rows(session, never_sent):
        if int(week) >= 0:
            extra = f"/{int(count)}:{int(total or 0)}:{int(answers)}"
            found[int(week)] = found.get(int(week), "") + extra
    return [found.get(index, "") for index in range(len(weeks))]


async def _remembered_fingerprints(
    session: AsyncSession, programme_id: str, weeks: Sequence[Window]
) -> list[str]:
    """`fingerprints`, read once per week in a session: a digest asks for a week again
    for each set of teams it folds together, and its own writes never touch check-ins."""
    known: dict[tuple[str, datetime, datetime], str] = session.info.setdefault(
        "week_fingerprints", {}
    )
    missing = [w for w in weeks if (programme_id, w.start, w.end) not in known]
    if missing:
        found_prints = await fingerprints(session, programme_id, missing)
        for week, found in zip(missing, found_prints, strict=True):
            known[(programme_id, week.start, week.end)] = found
    return [known[(programme_id, w.start, w.end)] for w in weeks]


def _teams_key(cohorts: Sequence[str] | None) -> str:
    if cohorts is None:
        return EVERY_TEAM
    return hashlib.sha1("\n".join(sorted(set(cohorts))).encode()).hexdigest()


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


async def _kept(
    session: AsyncSession, programme_id: str, weeks: Sequence[Window], teams: str
) -> dict[int, tuple[str, dict[str, list[int]]]]:
    position = {(_utc(w.start), _utc(w.end)): index for index, w in enumerate(weeks)}
    statement = select_columns(
        col(WeekCount.week_start),
        col(WeekCount.week_end),
        col(WeekCount.fingerprint),
        col(WeekCount.counts),
    ).where(
        col(WeekCount.programme_id) == programme_id,
        col(WeekCount.teams) == teams,
        col(WeekCount.week_start) >= min(w.start for w in weeks),
        col(WeekCount.week_start) < max(w.end for w in weeks),
    )
    kept: dict[int, tuple[str, dict[str, list[int]]]] = {}
    for start, end, fingerprint, counts in await aggregate_rows(session, statement):
        index = position.get((_utc(start), _utc(end)))
        if index is not None:
            kept[index] = (str(fingerprint), dict(counts))
    return kept


async def _count(
    session: AsyncSession,
    programme_id: str,
    weeks: Sequence[Window],
    cohorts: Sequence[str] | None,
) -> dict[int, dict[str, list[int]]]:
    """Count the weeks from their rows: per team and for the whole programme ("*").

    The check-ins are read once and reduced to one row per (week, team, respondent);
    both levels are summed from that, each counting respondents as distinct people
    (someone who moved team is one person in the week's total).
    """
    span = _span(weeks)
    rows = union_all(
        *[
            _asked(
                programme_id,
                span,
                sent,
                week_index(_asked_at(sent), weeks).label("week"),
                col(CheckIn.cohort_id).label("cohort"),
                col(CheckIn.id).label("checkin_id"),
                col(Answer.outcome).label("outcome"),
                case((col(Answer.outcome) != "not_now", col(Answer.person_id)), else_=None).label(
                    "person"
                ),
            ).where(in_cohorts(CheckIn.cohort_id, cohorts))
            for sent in (True, False)
        ]
    ).subquery()
    # Grouping on the subquery's column: PostgreSQL will not match a CASE repeated
    # in SELECT and GROUP BY when each copy carries its own bound parameters.
    reduced = (
        select_columns(
            rows.c.week,
            rows.c.cohort,
            rows.c.person,
            func.count(rows.c.checkin_id).label("sent"),
            func.count(rows.c.outcome).label("answered"),
            *[
                func.sum(case((rows.c.outcome == outcome, 1), else_=0)).label(outcome)
                for outcome in OUTCOME_COLUMNS
            ],
        )
        .where(rows.c.week >= 0)
        .group_by(rows.c.week, rows.c.cohort, rows.c.person)
        .cte("reduced")
    )
    sums = [func.sum(reduced.c[name]) for name in ("sent", "answered", *OUTCOME_COLUMNS)]
    per_team = select_columns(
        reduced.c.week, reduced.c.cohort, *sums, func.count(reduced.c.person)
    ).group_by(reduced.c.week, reduced.c.cohort)
    whole = select_columns(
        reduced.c.week,
        literal(EVERY_TEAM).label("cohort"),
        *sums,
        func.count(distinct(reduced.c.person)),
    ).group_by(reduced.c.week)
    counted: dict[int, dict[str, list[int]]] = {}
    for week, cohort, *numbers in await aggregate_rows(session, union_all(per_team, whole)):
        team = EVERY_TEAM if cohort == EVERY_TEAM else str(cohort or "")
        counted.setdefault(int(week), {})[team] = [int(value or 0) for value in numbers]
    return counted


async def week_counts(
    session: AsyncSession,
    programme_id: str,
    weeks: Sequence[Window],
    *,
    cohorts: Sequence[str] | None = None,
    totals: bool = True,
    teams: bool = True,
) -> tuple[Counted, Counted]:
    """`outcome_counts` per week and per (week, team), counting again only changed weeks.

    Args:
        session: an open session (kept counts are written in its transaction).
        programme_id: the programme.
        weeks: the weeks, as UTC ranges.
        cohorts: only these teams, counted together (None: every team of the programme).
        totals: return the per-week counts.
        teams: return the per-(week, team) counts.

    Returns:
        (counts keyed by (week index, ""), counts keyed by (week index, team id)).
    """
    if not weeks or not (totals or teams):
        return {}, {}
    key = _teams_key(cohorts)
    current = await _remembered_fingerprints(session, programme_id, weeks)
    kept = await _kept(session, programme_id, weeks, key)
    stale = [i for i in range(len(weeks)) if kept.get(i, ("?", {}))[0] != current[i]]
    if stale:
        counted = await _count(session, programme_id, [weeks[i] for i in stale], cohorts)
        for position, index in enumerate(stale):
            counts = counted.get(position, {})
            values = {
                "programme_id": programme_id,
                "week_start": weeks[index].start,
                "week_end": weeks[index].end,
                "teams": key,
                "fingerprint": current[index],
                "counts": counts,
            }
            unique = ("programme_id", "week_start", "week_end", "teams")
            await upsert(session, WeekCount, values, unique, ("fingerprint", "counts"))
            kept[index] = (current[index], counts)
    whole: Counted = {}
    per_team: Counted = {}
    for index, (_fingerprint, counts) in kept.items():
        for team, numbers in counts.items():
            if team == EVERY_TEAM and totals:
                whole[(index, "")] = OutcomeCounts(*numbers)
            elif team != EVERY_TEAM and teams:
                per_team[(index, team)] = OutcomeCounts(*numbers)
    return whole, per_team


async def outcome_counts(
    session: AsyncSession,
    programme_id: str,
    weeks: Sequence[Window],
    *,
    cohorts: Sequence[str] | None = None,
    by_cohort: bool = False,
) -> dict[tuple[int, str], OutcomeCounts]:
    """Count check-ins asked and answered, per week (and per cohort when asked).

    A check-in belongs to the week it was asked in (sent, or answered when the
    send time was never recorded); its answer counts in that week too, so a rate
    never exceeds 100%.

    Args:
        session: an open session.
        programme_id: the programme.
        weeks: the weeks to count, as UTC ranges.
        cohorts: only these cohorts (None: all of the programme's).
        by_cohort: one row per (week, cohort) instead of per week.

    Returns:
        Counts keyed by (index into `weeks`, cohort id or "" when not by cohort).
    """
    totals, per_cohort = await week_counts(
        session, programme_id, weeks, cohorts=cohorts, totals=not by_cohort, teams=by_cohort
    )
    return per_cohort if by_cohort else totals
