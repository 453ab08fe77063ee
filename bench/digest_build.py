"""How long one weekly digest takes to build, against loading every answer into Python.

Seeds a programme of 20 cohorts (25 people each) with about 50,000 answered
check-ins over 12 weeks, with workarounds, overrides, free text and day-30 answers,
then times, on SQLite and on PostgreSQL:

- the SQL week/cohort counts a digest needs (`outcome_counts`, totals and per cohort);
- the baseline: the same counts made by loading every check-in and answer of the
  12 weeks into Python and counting there;
- building the whole digest (counts, k folding, themes with scikit-learn, day-30);
- drawing its report and chart.

Prints the medians and the baseline / SQL ratio.

    .venv/bin/python bench/digest_build.py [--answers 50000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import secrets
import statistics
import tempfile
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
from sqlalchemy import insert, text
from sqlmodel import col, select

from bot.config import Settings
from bot.digest.build import Scope, build_digest
from bot.digest.report import digest_report
from bot.digest.weeks import IsoWeek, weeks_ending
from bot.runtime import Runtime, build_runtime
from storage.migrate import upgrade_sync
from storage.models import Answer, CheckIn, Day30Response, Override, Person, Workaround
from storage.reports import outcome_counts

POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
COHORTS = 20
PEOPLE_PER_COHORT = 25
WEEKS = 12
LAST_WEEK = IsoWeek(2026, 47)
ZONE = ZoneInfo("Europe/London")
OUTCOMES = ("helped",) * 5 + ("partly",) * 2 + ("no",) * 2 + ("not_used", "not_now")
WORKAROUNDS = ("by_hand", "old_system", "old_system", "colleague", "other")
REASONS = ("wrong", "didnt_fit", "slower", "slower", "distrust", "policy", "other")
NOT_USED = ("not_needed", "too_slow", "too_slow", "no_access", "forgot", "other")
WORDS = (
    "scanner had no signal in the yard",
    "the label printer jammed again",
    "route went through a closed road",
    "app crashed when I opened the job",
    "used the paper list from the office",
    "customer asked for a different slot",
    "login failed, password expired",
    "asked the supervisor what to do",
)


def _config(directory: Path) -> Path:
    lines = [
        "[settings]\nanonymity_k = 5\n",
        '[programmes.bench]\nname = "Bench pilot"\ntool = "BenchTool"\n'
        'timezone = "Europe/London"\ndigest_destination = "local:bench"\n',
    ]
    for cohort in range(COHORTS):
        members = ", ".join(f'"local:p{cohort:02d}{n:02d}"' for n in range(PEOPLE_PER_COHORT))
        lines.append(
            f'[cohorts.c{cohort:02d}]\nprogramme = "bench"\nname = "Team {cohort:02d}"\n'
            f"members = [{members}]\n"
        )
    path = directory / "bench.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


async def _seed(runtime: Runtime, answers: int) -> int:
    """Bulk-insert check-ins and what was answered; returns how many check-ins."""
    rng = random.Random(47)
    async with runtime.db.session() as session:
        people = (
            await session.exec(select(Person).where(col(Person.cohort_id).is_not(None)))
        ).all()
    weeks = [week.window(ZONE) for week in weeks_ending(LAST_WEEK, WEEKS)]
    checkins: list[dict[str, Any]] = []
    answered: list[dict[str, Any]] = []
    workarounds: list[dict[str, Any]] = []
    overrides: list[dict[str, Any]] = []
    total = int(answers * 1.15)  # about one in seven check-ins goes unanswered
    for n in range(total):
        person = people[n % len(people)]
        week = weeks[n % WEEKS]
        sent = week.start + timedelta(minutes=rng.randrange(7 * 24 * 60))
        checkins.append(
            {
                "id": n + 1,
                "person_id": person.id,
                "programme_id": "bench",
                "cohort_id": person.cohort_id,
                "kind": "scheduled",
                "slot": f"bench:{n}",
                "status": "sent",
                "context": "",
                "scheduled_for": sent,
                "sent_at": sent,
                "answered_at": None,
                "message_ref": {},
            }
        )
        if len(answered) >= answers or rng.random() < 0.13:
            continue
        outcome = rng.choice(OUTCOMES)
        at = sent + timedelta(minutes=5)
        checkins[-1].update(status="answered", answered_at=at)
        reason = rng.choice(NOT_USED) if outcome == "not_used" else ""
        answered.append(
            {
                "checkin_id": n + 1,
                "person_id": person.id,
                "outcome": outcome,
                "not_used_reason": reason,
                "not_used_text": rng.choice(WORDS) if reason == "other" else "",
                "answered_at": at,
            }
        )
        if outcome in ("partly", "no"):
            kind = rng.choice(WORKAROUNDS)
            workarounds.append(
                {
                    "checkin_id": n + 1,
                    "person_id": person.id,
                    "kind": kind,
                    "text": rng.choice(WORDS) if kind == "other" else "",
                    "created_at": at,
                }
            )
            overridden = rng.random() < 0.5
            why = rng.choice(REASONS) if overridden else ""
            overrides.append(
                {
                    "checkin_id": n + 1,
                    "person_id": person.id,
                    "overridden": overridden,
                    "reason": why,
                    "text": rng.choice(WORDS) if why == "other" else "",
                    "created_at": at,
                }
            )
    day30 = [
        {
            "checkin_id": total + index + 1,
            "person_id": person.id,
            "feeling": rng.choice(("very", "very", "somewhat", "not", "dont_use")),
            "change_first": "",
            "created_at": weeks[-1].start,
        }
        for index, person in enumerate(people)
    ]
    checkins += [
        {
            "id": total + index + 1,
            "person_id": person.id,
            "programme_id": "bench",
            "cohort_id": person.cohort_id,
            "kind": "day30",
            "slot": "day30",
            "status": "answered",
            "context": "",
            "scheduled_for": weeks[-1].start,
            "sent_at": weeks[-1].start,
            "answered_at": weeks[-1].start,
            "message_ref": {},
        }
        for index, person in enumerate(people)
    ]
    tables: list[tuple[Any, list[dict[str, Any]]]] = [
        (CheckIn, checkins),
        (Answer, answered),
        (Workaround, workarounds),
        (Override, overrides),
        (Day30Response, day30),
    ]
    async with runtime.db.session() as session:
        for model, rows in tables:
            for start in range(0, len(rows), 5000):
                await session.exec(insert(model.__table__), params=rows[start : start + 5000])
    if not runtime.db.is_sqlite:
        async with runtime.db.session() as session:
            # Ids were given explicitly: move the sequence past them.
            statement = text("SELECT setval('checkin_id_seq', (SELECT max(id) FROM checkin))")
            await (await session.connection()).execute(statement)
    return len(answered)


async def _sql_counts(runtime: Runtime) -> dict[tuple[int, str], Any]:
    windows = [week.window(ZONE) for week in weeks_ending(LAST_WEEK, WEEKS)]
    async with runtime.db.session() as session:
        totals = await outcome_counts(session, "bench", windows)
        by_cohort = await outcome_counts(session, "bench", windows, by_cohort=True)
    return totals | by_cohort


async def _python_counts(runtime: Runtime) -> dict[tuple[int, str], Any]:
    """The baseline: every check-in and answer of the 12 weeks, counted in Python."""
    windows = [week.window(ZONE) for week in weeks_ending(LAST_WEEK, WEEKS)]
    statement = (
        select(CheckIn, Answer)
        .outerjoin(Answer, col(Answer.checkin_id) == col(CheckIn.id))
        .where(
            col(CheckIn.programme_id) == "bench",
            col(CheckIn.kind) != "day30",
            col(CheckIn.sent_at) >= windows[0].start,
            col(CheckIn.sent_at) < windows[-1].end,
        )
    )
    counts: dict[tuple[int, str], dict[str, Any]] = defaultdict(
        lambda: {"sent": 0, "answered": 0, "people": set()}
    )
    async with runtime.db.session() as session:
        for checkin, answer in (await session.exec(statement)).all():
            assert checkin.sent_at is not None
            index = next(i for i, w in enumerate(windows) if w.start <= checkin.sent_at < w.end)
            for key in ((index, ""), (index, checkin.cohort_id)):
                row = counts[key]
                row["sent"] += 1
                if answer is not None:
                    row["answered"] += 1
                    row[answer.outcome] = row.get(answer.outcome, 0) + 1
                    if answer.outcome != "not_now":
                        row["people"].add(answer.person_id)
    return dict(counts)


async def _digest(runtime: Runtime) -> Any:
    async with runtime.db.session() as session:
        return await build_digest(session, runtime.config, Scope("bench"), LAST_WEEK)


def _median(samples: list[float]) -> float:
    return statistics.median(samples)


async def _time(call: Callable[[], Awaitable[Any]], repeat: int) -> tuple[float, Any]:
    samples, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = await call()
        samples.append(time.perf_counter() - started)
    return _median(samples), result


async def run(url: str, directory: Path, answers: int, repeat: int) -> dict[str, float]:
    settings = Settings(
        database_url=url,
        lastmile_config=_config(directory),
        _env_file=None,
    )
    runtime = await build_runtime(settings)
    try:
        seeded = await _seed(runtime, answers)
        # Warm up: scikit-learn and matplotlib imports, database caches.
        digest_report(await _digest(runtime), runtime.wording)
        sql, by_sql = await _time(lambda: _sql_counts(runtime), repeat)
        python, by_python = await _time(lambda: _python_counts(runtime), repeat)
        for key, counted in by_python.items():
            assert by_sql[key].sent == counted["sent"], key
            assert by_sql[key].respondents == len(counted["people"]), key
        digest_seconds, digest = await _time(lambda: _digest(runtime), repeat)

        async def draw() -> Any:
            return await asyncio.to_thread(digest_report, digest, runtime.wording)

        report_seconds, report = await _time(draw, repeat)
        return {
            "answers": seeded,
            "sql": sql,
            "python": python,
            "digest": digest_seconds,
            "report": report_seconds,
            "themes": len(digest.themes),
            "png_kb": len(report.chart.png) / 1024,
        }
    finally:
        await runtime.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--answers", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as folder:
        directory = Path(folder)
        sqlite_url = f"sqlite:///{directory / 'bench.db'}"
        upgrade_sync(sqlite_url)
        results["SQLite"] = await run(sqlite_url, directory, args.answers, args.repeat)
        name = f"lastmile_bench_{secrets.token_hex(3)}"
        with psycopg.connect(POSTGRES, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        try:
            url = f"{POSTGRES.rsplit('/', 1)[0]}/{name}"
            upgrade_sync(url)
            results["PostgreSQL"] = await run(url, directory, args.answers, args.repeat)
        finally:
            with psycopg.connect(POSTGRES, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    print(
        f"{'database':<11} {'answers':>8} {'SQL counts':>11} {'load-all':>10} {'ratio':>7} "
        f"{'digest':>8} {'report+chart':>13} {'themes':>7} {'PNG':>7}"
    )
    for backend, r in results.items():
        print(
            f"{backend:<11} {int(r['answers']):>8} {r['sql']:>10.3f}s {r['python']:>9.3f}s "
            f"{r['python'] / r['sql']:>6.1f}x {r['digest']:>7.3f}s {r['report']:>12.3f}s "
            f"{int(r['themes']):>7} {r['png_kb']:>5.0f}KB"
        )


if __name__ == "__main__":
    asyncio.run(main())
