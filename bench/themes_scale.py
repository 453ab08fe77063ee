"""Digest and theme building at scale: 100,000 answers with 20,000 written texts.

    .venv/bin/python bench/themes_scale.py [--answers 100000] [--texts 20000] [--postgres]

Seeds a programme of 20 teams of 50 people over 12 weeks (the texts are drawn from the
labelled frontline set, bench/data/frontline_texts.tsv), then measures, each in a fresh
process so its peak memory is its own:

- first build: a digest when no text has been placed yet (every text is encoded once,
  with the sentence model when it is installed);
- catch-up by the minute job: the same history never placed, caught up by the
  scheduler's `themes` job as `serve` runs it after an upgrade (at most 1,000 texts a
  run): how many runs, the longest run, and the process's peak memory over all of them;
- weekly build, the week's texts not placed yet: the worst case of a Monday digest
  when the theme job did not run during the week (earlier texts keep their vectors);
- weekly build after the theme job placed them: what the scheduler's Monday digest
  costs when the minute job `themes` has placed each text soon after it was written.

Prints wall time and the process's peak resident memory for each.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import delete, insert, text  # noqa: E402
from sqlmodel import col, select  # noqa: E402

from bot.config import Settings  # noqa: E402
from bot.digest.build import Scope, build_digest  # noqa: E402
from bot.digest.report import digest_report  # noqa: E402
from bot.digest.weeks import IsoWeek, weeks_ending  # noqa: E402
from bot.runtime import Runtime, build_runtime  # noqa: E402
from bot.themes.encoders import default_encoder  # noqa: E402
from storage.models import Answer, CheckIn, Person, ThemeText, Workaround  # noqa: E402

COHORTS = 20
PEOPLE_PER_COHORT = 50
WEEKS = 12
LAST_WEEK = IsoWeek(2026, 47)
ZONE = ZoneInfo("Europe/London")
POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"


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


async def _runtime(url: str, directory: Path) -> Runtime:
    settings = Settings(
        database_url=url,
        lastmile_config=_config(directory),
        _env_file=None,  # type: ignore[call-arg]
    )
    return await build_runtime(settings)


async def seed(url: str, directory: Path, answers: int, texts: int) -> None:
    rng = random.Random(9)
    with (ROOT / "bench" / "data" / "frontline_texts.tsv").open(encoding="utf-8") as handle:
        words = [row["text"] for row in csv.DictReader(handle, delimiter="\t")]
    runtime = await _runtime(url, directory)
    async with runtime.db.session() as session:
        people = (
            await session.exec(select(Person).where(col(Person.cohort_id).is_not(None)))
        ).all()
    weeks = [week.window(ZONE) for week in weeks_ending(LAST_WEEK, WEEKS)]
    checkins: list[dict[str, Any]] = []
    answered: list[dict[str, Any]] = []
    workarounds: list[dict[str, Any]] = []
    share = texts / answers
    for n in range(answers):
        person = people[n % len(people)]
        week = weeks[n % WEEKS]
        sent = week.start + timedelta(minutes=rng.randrange(7 * 24 * 60))
        at = sent + timedelta(minutes=5)
        writes = len(workarounds) < texts and rng.random() < share * 1.02
        outcome = rng.choice(("partly", "no") if writes else ("helped", "helped", "not_used"))
        checkins.append(
            {
                "id": n + 1,
                "person_id": person.id,
                "programme_id": "bench",
                "cohort_id": person.cohort_id,
                "kind": "scheduled",
                "slot": f"bench:{n}",
                "status": "answered",
                "context": "",
                "scheduled_for": sent,
                "sent_at": sent,
                "answered_at": at,
                "message_ref": {},
            }
        )
        answered.append(
            {
                "checkin_id": n + 1,
                "person_id": person.id,
                "outcome": outcome,
                "not_used_reason": "",
                "not_used_text": "",
                "answered_at": at,
            }
        )
        if writes:
            workarounds.append(
                {
                    "checkin_id": n + 1,
                    "person_id": person.id,
                    "kind": "other",
                    "text": rng.choice(words),
                    "created_at": at,
                }
            )
    async with runtime.db.session() as session:
        for model, rows in ((CheckIn, checkins), (Answer, answered), (Workaround, workarounds)):
            for start in range(0, len(rows), 5000):
                await session.exec(insert(model.__table__), params=rows[start : start + 5000])
        if not runtime.db.is_sqlite:
            statement = text("SELECT setval('checkin_id_seq', (SELECT max(id) FROM checkin))")
            await (await session.connection()).execute(statement)
    await runtime.close()
    print(f"seeded {len(answered)} answers, {len(workarounds)} written texts", flush=True)


async def catch_up(url: str, directory: Path) -> None:
    """Forget every placement, then run the minute job until nothing is left to place."""
    from bot.themes.jobs import place_new_texts
    from storage.models import Theme

    runtime = await _runtime(url, directory)
    await asyncio.to_thread(default_encoder)
    async with runtime.db.session() as session:
        await session.exec(delete(ThemeText))
        await session.exec(delete(Theme))
    now = LAST_WEEK.window(ZONE).end
    runs, longest, total = 0, 0.0, 0.0
    while True:
        started = time.perf_counter()
        placed = await place_new_texts(runtime, now)
        seconds = time.perf_counter() - started
        if not placed:
            break
        runs, longest, total = runs + 1, max(longest, seconds), total + seconds
    await runtime.close()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{runs} {longest:.2f} {total:.2f} {peak:.0f}", flush=True)


async def measure(url: str, directory: Path, forget_last_week: bool) -> None:
    """One digest build in this process; prints seconds and peak RSS (MB)."""
    runtime = await _runtime(url, directory)
    await asyncio.to_thread(default_encoder)  # loading the model is start-up, not the build
    if forget_last_week:
        async with runtime.db.session() as session:
            start = LAST_WEEK.window(ZONE).start
            await session.exec(delete(ThemeText).where(col(ThemeText.created_at) >= start))
    started = time.perf_counter()
    async with runtime.db.session() as session:
        digest = await build_digest(session, runtime.config, Scope("bench"), LAST_WEEK)
    report = digest_report(digest, runtime.wording)
    seconds = time.perf_counter() - started
    await runtime.close()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    shown = len(digest.written)
    print(f"{seconds:.2f} {peak:.0f} {shown} {len(report.sections)}", flush=True)


def _child(url: str, directory: Path, forget: bool) -> tuple[float, float, int]:
    command = [sys.executable, __file__, "--measure", url, "--dir", str(directory)]
    if forget:
        command.append("--forget-last-week")
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    seconds, peak, shown, _sections = output.split()[-4:]
    return float(seconds), float(peak), int(shown)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--answers", type=int, default=100_000)
    parser.add_argument("--texts", type=int, default=20_000)
    parser.add_argument("--postgres", action="store_true", help="on PostgreSQL, not SQLite")
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    parser.add_argument("--dir", help=argparse.SUPPRESS)
    parser.add_argument("--forget-last-week", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--catch-up", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.catch_up:
        asyncio.run(catch_up(args.catch_up, Path(args.dir)))
        return
    if args.measure:
        asyncio.run(measure(args.measure, Path(args.dir), args.forget_last_week))
        return
    with tempfile.TemporaryDirectory() as folder:
        directory = Path(folder)
        url = POSTGRES if args.postgres else f"sqlite:///{directory / 'bench.db'}"
        if args.postgres:
            import psycopg

            with psycopg.connect(POSTGRES, autocommit=True) as connection:
                connection.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
        asyncio.run(seed(url, directory, args.answers, args.texts))
        encoder = default_encoder().name
        print(f"encoder: {encoder}; {os.cpu_count()} cores\n")
        print("| build | seconds | peak RSS (MB) | themes shown |")
        print("| --- | ---: | ---: | ---: |")
        seconds, peak, shown = _child(url, directory, False)
        print(f"| first build (every text encoded) | {seconds:.2f} | {peak:.0f} | {shown} |")
        command = [sys.executable, __file__, "--catch-up", url, "--dir", str(directory)]
        output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
        runs, longest, total, peak_text = output.split()[-4:]
        print(
            f"| catch-up by the minute job: {runs} runs, {float(total):.1f} s in all | "
            f"{float(longest):.2f} (longest run) | {float(peak_text):.0f} | |",
            flush=True,
        )
        for name, forget in (
            ("weekly build, the week's texts not placed yet", True),
            ("weekly build after the theme job placed them", False),
        ):
            seconds, peak, shown = _child(url, directory, forget)
            print(f"| {name} | {seconds:.2f} | {peak:.0f} | {shown} |", flush=True)


if __name__ == "__main__":
    main()
