"""How long a weekly digest and a 12-week trend take to build, and how much memory, at scale.

Seeds one programme of 50 cohorts (47 teams of about 212 people and three of 3, so
"Other teams" is folded every week) with `--answers` answered check-ins (default
1,000,000) over 13 weeks, with workarounds, overrides, free text already placed in
themes (as the minute job leaves them) and day-30 answers. Rows go in set-wise:
`executemany` on SQLite, `COPY` on PostgreSQL. Then, on each database and each in a
fresh Python process (`--repeat` times):

- *digest*: `build_digest` of the programme's last week (its 12-week series, themes,
  day-30, what changed) and `digest_report` (its text and chart);
- *trends*: `build_trends` over 12 weeks and `trends_report`;
- *GROUP BY*: the baseline, only the two week x team `outcome_counts` statements a
  digest starts from.

Each child builds twice: first as a fresh process (heavy imports included), then again
in the same process, as a running `serve` does (*warm*; the digest's after two more late
answers arrive).
Each measures its own wall time and peak RSS (VmHWM from /proc/self/status). Every
figure the digest and the trends show is checked against a naive computation that
loads every row of the 12 weeks into Python (check-ins, answers, fixed answers,
placed texts, day-30 answers) and counts there.

    .venv/bin/python bench/digest_build.py [--answers 1000000] [--repeat 2] [--only sqlite]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import secrets
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg

POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
COHORTS = 50
SMALL_COHORTS = 3
PEOPLE = 10_000
SEEDED_WEEKS = 13
SHOWN_WEEKS = 12
THEME_WEEKS = 4
LAST_WEEK = (2026, 47)
ZONE = ZoneInfo("Europe/London")
K = 5
OUTCOMES = ("helped",) * 5 + ("partly",) * 2 + ("no",) * 2 + ("not_used", "not_now")
OUTCOME_NAMES = ("helped", "partly", "no", "not_used", "not_now")
WORKAROUNDS = ("by_hand", "old_system", "old_system", "colleague", "other")
REASONS = ("wrong", "didnt_fit", "slower", "slower", "distrust", "policy", "other")
NOT_USED = ("not_needed", "too_slow", "too_slow", "no_access", "forgot", "other")
FEELINGS = ("very", "very", "somewhat", "not", "dont_use")
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


# ---------------------------------------------------------------- seeding


def _cohort_sizes() -> list[int]:
    big = COHORTS - SMALL_COHORTS
    sizes = [3] * SMALL_COHORTS
    rest = PEOPLE - sum(sizes)
    sizes += [rest // big + (1 if index < rest % big else 0) for index in range(big)]
    return sizes


def _config(directory: Path) -> Path:
    lines = [
        "[settings]\nanonymity_k = 5\n",
        '[programmes.bench]\nname = "Bench pilot"\ntool = "BenchTool"\n'
        'timezone = "Europe/London"\ndigest_destination = "local:bench"\n',
    ]
    for cohort, size in enumerate(_cohort_sizes()):
        members = ", ".join(f'"local:p{cohort:02d}x{n:03d}"' for n in range(size))
        lines.append(
            f'[cohorts.c{cohort:02d}]\nprogramme = "bench"\nname = "Team {cohort:02d}"\n'
            f"members = [{members}]\n"
        )
    path = directory / "bench.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def _windows(count: int) -> list[tuple[datetime, datetime]]:
    from bot.digest.weeks import IsoWeek, weeks_ending

    last = IsoWeek(*LAST_WEEK)
    return [
        (window.start, window.end)
        for window in (week.window(ZONE) for week in weeks_ending(last, count))
    ]


class _Rows:
    """The generated rows of every table, as tuples in column order."""

    def __init__(self) -> None:
        self.checkin: list[tuple[Any, ...]] = []
        self.answer: list[tuple[Any, ...]] = []
        self.workaround: list[tuple[Any, ...]] = []
        self.override: list[tuple[Any, ...]] = []
        self.day30response: list[tuple[Any, ...]] = []
        self.theme: list[tuple[Any, ...]] = []
        self.themetext: list[tuple[Any, ...]] = []


COLUMNS = {
    "checkin": "id, person_id, programme_id, cohort_id, kind, slot, status, context, "
    "scheduled_for, sent_at, answered_at, message_ref",
    "answer": "id, checkin_id, person_id, outcome, not_used_reason, not_used_text, answered_at",
    "workaround": "id, checkin_id, person_id, kind, text, created_at",
    "override": "id, checkin_id, person_id, overridden, reason, text, created_at",
    "day30response": "id, checkin_id, person_id, feeling, change_first, created_at",
    "theme": "id, programme_id, slug, label, named_by_owner, seed, links, created_at",
    "themetext": "id, programme_id, source, source_id, person_id, cohort_id, theme_id, "
    "encoder, vector, created_at",
}


def _checkin(
    n: int, person: int, cohort: str, kind: str, sent: datetime, answered: datetime | None
) -> tuple[Any, ...]:
    slot = "day30" if kind == "day30" else f"b:{n}"
    status = "sent" if answered is None else "answered"
    return (n, person, "bench", cohort, kind, slot, status, "", sent, sent, answered, "{}")


def _generate(
    people: Sequence[tuple[int, str]], answers: int, vectors: list[bytes | None], encoder: str
) -> _Rows:
    """Check-ins spread over the seeded weeks, about one in eight unanswered."""
    rng = random.Random(47)
    weeks = _windows(SEEDED_WEEKS)
    rows = _Rows()
    naive = lambda moment: moment.replace(tzinfo=None)  # noqa: E731 - stored as naive UTC
    theme_start = weeks[0][0]
    for index, words in enumerate(WORDS):
        slug = "-".join(words.split()[:4]).replace(",", "")
        rows.theme.append((index + 1, "bench", slug, words, False, False, "[]", naive(theme_start)))
    theme_of = {words: index + 1 for index, words in enumerate(WORDS)}

    def place(
        source: str, source_id: int, person: int, cohort: str, words: str, at: datetime
    ) -> None:
        rows.themetext.append(
            (
                len(rows.themetext) + 1,
                "bench",
                source,
                source_id,
                person,
                cohort,
                theme_of[words],
                encoder,
                vectors[theme_of[words] - 1],
                at,
            )
        )

    span = 7 * 24 * 60
    # Check-ins are stored in the order they were asked, as the planner stores them.
    total = int(answers / 0.87) + 1
    moments = sorted(
        naive(weeks[rng.randrange(SEEDED_WEEKS)][0] + timedelta(minutes=rng.randrange(span)))
        for _ in range(total)
    )
    n = 0
    while len(rows.answer) < answers:
        n += 1
        person, cohort = people[rng.randrange(len(people))]
        sent = moments[n - 1] if n <= total else moments[-1]
        if rng.random() < 0.13:
            rows.checkin.append(_checkin(n, person, cohort, "scheduled", sent, None))
            continue
        at = sent + timedelta(minutes=5)
        rows.checkin.append(_checkin(n, person, cohort, "scheduled", sent, at))
        outcome = rng.choice(OUTCOMES)
        reason = rng.choice(NOT_USED) if outcome == "not_used" else ""
        words = rng.choice(WORDS) if reason == "other" else ""
        answer_id = len(rows.answer) + 1
        rows.answer.append((answer_id, n, person, outcome, reason, words, at))
        if words:
            place("not_used", answer_id, person, cohort, words, at)
        if outcome not in ("partly", "no"):
            continue
        kind = rng.choice(WORKAROUNDS)
        words = rng.choice(WORDS) if kind == "other" else ""
        workaround_id = len(rows.workaround) + 1
        rows.workaround.append((workaround_id, n, person, kind, words, at))
        if words:
            place("workaround", workaround_id, person, cohort, words, at)
        overridden = rng.random() < 0.5
        why = rng.choice(REASONS) if overridden else ""
        words = rng.choice(WORDS) if why == "other" else ""
        override_id = len(rows.override) + 1
        rows.override.append((override_id, n, person, overridden, why, words, at))
        if words:
            place("override", override_id, person, cohort, words, at)
    last_start = naive(weeks[-1][0])
    for index, (person, cohort) in enumerate(people):
        n += 1
        rows.checkin.append(_checkin(n, person, cohort, "day30", last_start, last_start))
        rows.day30response.append((index + 1, n, person, rng.choice(FEELINGS), "", last_start))
    return rows


def _tables(rows: _Rows) -> Iterator[tuple[str, list[tuple[Any, ...]]]]:
    for table in COLUMNS:
        yield table, getattr(rows, table)


def _seed_sqlite(path: Path, rows: _Rows) -> None:
    with sqlite3.connect(path) as connection:
        connection.execute("PRAGMA synchronous = OFF")
        for table, values in _tables(rows):
            marks = ", ".join("?" * len(COLUMNS[table].split(",")))
            connection.executemany(
                f"INSERT INTO {table} ({COLUMNS[table]}) VALUES ({marks})",
                (_sqlite_row(row) for row in values),
            )
        connection.execute("ANALYZE")


def _sqlite_row(row: tuple[Any, ...]) -> tuple[Any, ...]:
    # SQLAlchemy keeps SQLite datetimes as text with microseconds.
    return tuple(
        value.strftime("%Y-%m-%d %H:%M:%S.%f") if isinstance(value, datetime) else value
        for value in row
    )


def _seed_postgres(url: str, rows: _Rows) -> None:
    with psycopg.connect(url) as connection, connection.cursor() as cursor:
        for table, values in _tables(rows):
            with cursor.copy(f"COPY {table} ({COLUMNS[table]}) FROM STDIN") as copy:
                for row in values:
                    copy.write_row(row)
        for table in (
            "checkin",
            "answer",
            "workaround",
            "override",
            "day30response",
            "theme",
            "themetext",
        ):
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT max(id) FROM {table}))"
            )
        connection.commit()
        connection.autocommit = True
        cursor.execute("VACUUM ANALYZE")


async def _people(url: str, config: Path) -> list[tuple[int, str]]:
    """Mirror the config's people into the database (as `serve` does at start)."""
    from bot.config import Settings
    from bot.runtime import build_runtime

    runtime = await build_runtime(
        Settings(database_url=url, lastmile_config=config, _env_file=None)
    )
    try:
        from sqlalchemy import text

        async with runtime.db.session() as session:
            connection = await session.connection()
            found = await connection.execute(text("SELECT id, cohort_id FROM person ORDER BY id"))
            return [(int(pid), str(cohort)) for pid, cohort in found.all() if cohort]
    finally:
        await runtime.close()


def _encoded() -> tuple[list[bytes | None], str]:
    """Each phrase's vector as the minute job stores it (one encoding per distinct text)."""
    import numpy as np

    from bot.themes.encoders import default_encoder

    encoder = default_encoder()
    if not encoder.cacheable:
        return [None] * len(WORDS), ""
    vectors = encoder.encode(list(WORDS))
    return [np.asarray(v, dtype=np.float16).tobytes() for v in vectors], encoder.name


# ---------------------------------------------------------------- the naive computation


def _connect(url: str) -> Any:
    if url.startswith("sqlite:///"):
        return sqlite3.connect(url.removeprefix("sqlite:///"))
    return psycopg.connect(url)


def _moment(value: Any) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM: unlike ru_maxrss it is not inherited
    from the parent across exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _index(moment: datetime, windows: Sequence[tuple[datetime, datetime]]) -> int:
    for index, (start, end) in enumerate(windows):
        if start <= moment < end:
            return index
    return -1


def naive(url: str) -> dict[str, Any]:
    """Every row of the programme loaded into Python and counted there."""
    windows = _windows(SHOWN_WEEKS)
    themes_in = (windows[-THEME_WEEKS][0], windows[-1][1])
    with _connect(url) as connection:
        cursor = connection.cursor()
        answers = {
            checkin: (outcome, person, reason, at)
            for checkin, outcome, person, reason, at in cursor.execute(
                "SELECT checkin_id, outcome, person_id, not_used_reason, answered_at FROM answer"
            ).fetchall()
        }
        # (week, cohort) -> counts and respondents
        counts: dict[tuple[int, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
        people: dict[tuple[int, str], set[int]] = defaultdict(set)
        for checkin, cohort, kind, sent, answered in cursor.execute(
            "SELECT id, cohort_id, kind, sent_at, answered_at FROM checkin"
            " WHERE programme_id = 'bench'"
        ).fetchall():
            if kind == "day30":
                continue
            week = _index(_moment(sent if sent is not None else answered), windows)
            if week < 0:
                continue
            row = counts[(week, cohort)]
            row["sent"] += 1
            if checkin in answers:
                outcome, person, _reason, _at = answers[checkin]
                row["answered"] += 1
                row[outcome] += 1
                if outcome != "not_now":
                    people[(week, cohort)].add(person)
        categories: dict[tuple[str, str], list[Any]] = {}

        def mention(family: str, category: str, person: int) -> None:
            entry = categories.setdefault((family, category), [0, set()])
            entry[0] += 1
            entry[1].add(person)

        for person, kind, at in cursor.execute(
            "SELECT person_id, kind, created_at FROM workaround"
        ).fetchall():
            if themes_in[0] <= _moment(at) < themes_in[1]:
                mention("workaround", kind, person)
        for person, overridden, reason, at in cursor.execute(
            "SELECT person_id, overridden, reason, created_at FROM override"
        ).fetchall():
            if overridden and reason and themes_in[0] <= _moment(at) < themes_in[1]:
                mention("override", reason, person)
        for outcome, person, reason, at in answers.values():
            if outcome == "not_used" and reason and themes_in[0] <= _moment(at) < themes_in[1]:
                mention("not_used", reason, person)
        day30: dict[str, int] = defaultdict(int)
        day30_people: set[int] = set()
        for person, feeling, at in cursor.execute(
            "SELECT person_id, feeling, created_at FROM day30response"
        ).fetchall():
            if _moment(at) < themes_in[1]:
                day30[feeling] += 1
                day30_people.add(person)
        slugs = dict(cursor.execute("SELECT id, slug FROM theme").fetchall())
        written: dict[int, list[Any]] = {}
        weekly: dict[tuple[str, int], set[int]] = defaultdict(set)
        writers: set[int] = set()
        for theme, person, at in cursor.execute(
            "SELECT theme_id, person_id, created_at FROM themetext"
        ).fetchall():
            moment = _moment(at)
            if themes_in[0] <= moment < themes_in[1]:
                writers.add(person)
                if theme is not None:
                    entry = written.setdefault(theme, [0, set()])
                    entry[0] += 1
                    entry[1].add(person)
            week = _index(moment, windows)
            if week >= 0 and theme is not None:
                weekly[(slugs[theme], week)].add(person)
    return {
        "counts": counts,
        "people": people,
        "categories": {key: (value[0], len(value[1])) for key, value in categories.items()},
        "day30": (sum(day30.values()), day30["very"], len(day30_people)),
        "written": {
            slugs[theme]: (len(value[1]), value[0], value[1]) for theme, value in written.items()
        },
        "writers": writers,
        "weekly": {key: len(value) for key, value in weekly.items()},
    }


def _expected(found: dict[str, Any], week: int, cohorts: Sequence[str]) -> dict[str, int]:
    """OutcomeCounts of the cohorts in the week (every cohort when empty), naively."""
    keys = [key for key in found["counts"] if key[0] == week and (not cohorts or key[1] in cohorts)]
    total: dict[str, int] = defaultdict(int)
    for key in keys:
        for name, value in found["counts"][key].items():
            total[name] += value
    respondents: set[int] = set()
    for key in keys:
        respondents |= found["people"].get(key, set())
    return {
        "sent": total["sent"],
        "answered": total["answered"],
        **{name: total[name] for name in OUTCOME_NAMES},
        "respondents": len(respondents),
    }


def check(found: dict[str, Any], digest: dict[str, Any], trends: dict[str, Any]) -> int:
    """Compare every figure the digest and the trends show with the naive counts.

    Returns:
        How many figures were compared.
    """
    compared = 0

    def same(shown: dict[str, int] | None, week: int, cohorts: Sequence[str], what: str) -> None:
        nonlocal compared
        expected = _expected(found, week, cohorts)
        if shown is None:
            # Withheld: only ever a week or group under k.
            assert expected["respondents"] < K or cohorts, (what, expected)
            return
        assert shown == expected, (what, shown, expected)
        compared += len(expected)

    for index, point in enumerate(digest["series"]):
        same(point["counts"], index, (), f"digest week {index}")
    for index, point in enumerate(trends["series"]):
        same(point["counts"], index, (), f"trends week {index}")
    last = SHOWN_WEEKS - 1
    for row in digest["cohorts"]:
        same(row["counts"], last, row["cohorts"], f"digest row {row['cohorts']}")
        if row["previous"] is not None:
            same(row["previous"], last - 1, row["cohorts"], f"digest previous {row['cohorts']}")
    for cohort in trends["cohorts"]:
        for index, point in enumerate(cohort["points"]):
            if point["counts"] is not None:
                same(point["counts"], index, point["cohorts"], f"trends {point['cohorts']} {index}")
    for theme in digest["themes"]:
        expected = found["categories"][(theme["family"], theme["category"])]
        assert (theme["mentions"], theme["contributors"]) == expected, (theme, expected)
        compared += 2
    shown_written = set()
    for theme in digest["written"]:
        people, texts, _who = found["written"][theme["slug"]]
        assert (theme["people"], theme["texts"]) == (people, texts), (theme, people, texts)
        shown_written.add(theme["slug"])
        compared += 2
    assert shown_written == {slug for slug, value in found["written"].items() if value[0] >= K}
    inside: set[int] = set()
    for slug in shown_written:
        inside |= found["written"][slug][2]
    assert digest["outside_people"] == len(found["writers"] - inside), digest["outside_people"]
    indispensability = digest["indispensability"]
    assert indispensability is not None
    answers, very, day30_people = found["day30"]
    assert (indispensability["answers"], indispensability["very"], indispensability["people"]) == (
        answers,
        very,
        day30_people,
    )
    for theme in trends["themes"]:
        for index, value in enumerate(theme["people"]):
            expected = found["weekly"].get((theme["slug"], index), 0)
            assert value == expected, (theme["slug"], index, value, expected)
            compared += 1
    return compared + 3


# ---------------------------------------------------------------- one build in a fresh process


async def child(what: str, url: str, config: Path) -> dict[str, Any]:
    """Build the digest, the trends or the GROUP BY baseline; time and peak RSS.

    The first build is the fresh process's (heavy imports included); then, as a running
    `serve` would, the same process builds again (the warm build), for the digest after
    two more late answers arrive (`_late_answers`), so two of its weeks are counted again.
    (Only the digest adds answers: the figures checked against the naive count are the
    last ones built, the digest's and then the trends'.)
    """
    started = time.perf_counter()
    from bot.config import Settings
    from bot.digest.build import SERIES_WEEKS, Scope, build_digest, build_trends
    from bot.digest.report import digest_report, trends_report
    from bot.digest.weeks import IsoWeek, weeks_ending
    from bot.runtime import build_runtime
    from storage.week_counts import _count as count_weeks

    settings = Settings(database_url=url, lastmile_config=config, _env_file=None)
    runtime = await build_runtime(settings, prepare_schema=False)
    ready = time.perf_counter()
    rss_ready = peak_rss_mb()
    week = IsoWeek(*LAST_WEEK)

    async def build() -> tuple[float, float, Any]:
        """One build and its report: (build seconds, report seconds, what was built)."""
        began = time.perf_counter()
        built_data: Any = None
        async with runtime.db.session() as session:
            if what == "digest":
                built_data = await build_digest(session, runtime.config, Scope("bench"), week)
                built = time.perf_counter()
                report = await asyncio.to_thread(digest_report, built_data, runtime.wording)
                assert report.chart is not None
            elif what == "trends":
                built_data = await build_trends(
                    session, runtime.config, "bench", week, SERIES_WEEKS
                )
                built = time.perf_counter()
                await asyncio.to_thread(trends_report, built_data, runtime.wording)
            else:
                # The baseline: the GROUP BY that counts twelve weeks per team and in
                # total (what a digest ran every time before counts were kept).
                windows = [w.window(ZONE) for w in weeks_ending(week, SERIES_WEEKS)]
                await count_weeks(session, "bench", windows, None)
                built = time.perf_counter()
        return built - began, time.perf_counter() - built, built_data

    try:
        first, first_report, _ = await build()
        rss_first = peak_rss_mb()
        if what == "digest":
            _late_answers(url.replace("postgresql+psycopg://", "postgresql://"), 0)
        warm, warm_report, built_data = await build()
    finally:
        await runtime.close()
    return {
        "start": ready - started,
        "build": first,
        "report": first_report,
        "warm": warm,
        "warm_report": warm_report,
        "rss_ready": rss_ready,
        "rss_first": rss_first,
        "rss_peak": peak_rss_mb(),
        "figures": _figures(built_data) if built_data is not None else {},
    }


def _figures(built: Any) -> dict[str, Any]:
    """The figures of a digest or trends, without the texts behind its themes."""
    written = getattr(built, "written", ())
    figures = asdict(built.__class__(**{**vars(built), "written": ()}) if written else built)
    figures["written"] = [
        {"slug": theme.slug, "people": theme.people, "texts": theme.texts} for theme in written
    ]
    return figures


def _run_child(what: str, url: str, config: Path, code: Path | None) -> dict[str, Any]:
    command = [sys.executable, __file__, "--child", what, "--url", url, "--config", str(config)]
    # --code: build with another checkout's bot/ and storage/ (the figures before a change).
    env = {**os.environ, "PYTHONPATH": str(code)} if code else None
    done = subprocess.run(command, capture_output=True, text=True, check=False, env=env)
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-3000:])
    return json.loads(done.stdout.splitlines()[-1])


# ---------------------------------------------------------------- the whole run


def _seed(url: str, config: Path, answers: int) -> dict[str, float]:
    started = time.perf_counter()
    people = asyncio.run(_people(url, config))
    vectors, encoder = _encoded()
    rows = _generate(people, answers, vectors, encoder)
    generated = time.perf_counter()
    if url.startswith("sqlite:///"):
        _seed_sqlite(Path(url.removeprefix("sqlite:///")), rows)
    else:
        _seed_postgres(url.replace("postgresql+psycopg://", "postgresql://"), rows)
    return {
        "answers": len(rows.answer),
        "checkins": len(rows.checkin),
        "texts": len(rows.themetext),
        "generate": generated - started,
        "insert": time.perf_counter() - generated,
    }


def _late_answers(url: str, repetition: int) -> None:
    """Answer one unanswered check-in of each of the last two weeks, days after it was sent."""
    windows = _windows(SHOWN_WEEKS)[-2:]
    with _connect(url) as connection:
        cursor = connection.cursor()
        mark = "?" if url.startswith("sqlite:///") else "%s"
        for start, end in windows:
            bounds = tuple(
                moment.replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")
                if mark == "?"
                else moment
                for moment in (start, end)
            )
            row = cursor.execute(
                "SELECT c.id, c.person_id, c.sent_at FROM checkin c"
                " LEFT JOIN answer a ON a.checkin_id = c.id"
                f" WHERE a.id IS NULL AND c.kind = 'scheduled' AND c.sent_at >= {mark}"
                f" AND c.sent_at < {mark} ORDER BY c.id LIMIT 1 OFFSET {repetition}",
                bounds,
            ).fetchone()
            checkin, person, sent = row
            cursor.execute(
                "INSERT INTO answer (checkin_id, person_id, outcome, not_used_reason,"
                f" not_used_text, answered_at) VALUES ({mark}, {mark}, 'helped', '', '', {mark})",
                (checkin, person, sent),
            )
        connection.commit()


def measure(
    url: str, config: Path, answers: int, repeat: int, code: Path | None, fresh: bool
) -> dict[str, Any]:
    seeded = _seed(url, config, answers) if fresh else {"answers": answers, "reused": True}
    print(f"  seeded {seeded}", flush=True)
    cold = _run_child("digest", url, config, code)
    print(f"  cold digest (no kept counts): build {cold['build']:.3f} s", flush=True)
    runs: dict[str, list[dict[str, Any]]] = {"digest": [], "trends": [], "groupby": []}
    for repetition in range(repeat):
        # As in a running pilot, answers keep arriving: a new one this week and a late
        # one for last week, so each digest counts two weeks again.
        _late_answers(url, repetition)
        for what in runs:
            result = _run_child(what, url, config, code)
            print(
                f"  {what}: build {result['build']:.3f} s, report {result['report']:.3f} s; "
                f"warm build {result['warm']:.3f} s, report {result['warm_report']:.3f} s; "
                f"peak {result['rss_peak']:.0f} MB",
                flush=True,
            )
            runs[what].append(result)
    started = time.perf_counter()
    found = naive(url)
    naive_seconds = time.perf_counter() - started
    naive_rss = peak_rss_mb()
    try:
        compared = check(found, runs["digest"][-1]["figures"], runs["trends"][-1]["figures"])
    except AssertionError as error:
        print(f"  A FIGURE DIFFERS from the naive count: {error}", flush=True)
        compared = -1
    return {
        "seeded": seeded,
        "cold": cold["build"],
        "naive": naive_seconds,
        "naive_rss": naive_rss,
        "runs": runs,
        "compared": compared,
    }


def _print(results: dict[str, dict[str, Any]]) -> None:
    print()
    print(
        "fresh: the first build in a new process (heavy imports included); warm: the next "
        "build in the same process, as a running serve builds (the digest's after two late "
        "answers)"
    )
    print(
        f"{'database':<11} {'build':<8} {'data':>7} {'report':>7} {'fresh':>7} {'x GROUP BY':>10} "
        f"{'warm':>7} {'x GROUP BY':>10} {'peak RSS':>9} {'x GROUP BY':>10} {'start RSS':>9}"
    )
    for backend, result in results.items():
        runs = result["runs"]
        for index in range(len(runs["groupby"])):
            base = runs["groupby"][index]
            for what in ("groupby", "digest", "trends"):
                r = runs[what][index]
                fresh = r["build"] + r["report"]
                warm = r["warm"] + r["warm_report"]
                print(
                    f"{backend:<11} {what:<8} {r['build']:>6.2f}s {r['report']:>6.2f}s "
                    f"{fresh:>6.2f}s {fresh / base['build']:>9.1f}x "
                    f"{warm:>6.2f}s {warm / base['warm']:>9.1f}x "
                    f"{r['rss_peak']:>7.0f}MB "
                    f"{r['rss_peak'] / base['rss_peak']:>9.2f}x {r['rss_ready']:>7.0f}MB"
                )
        print(f"{backend:<11} cold digest (no kept counts yet): {result['cold']:.2f}s")
        compared = result["compared"]
        verdict = f"all {compared} figures equal" if compared >= 0 else "A FIGURE DIFFERS"
        print(
            f"{backend:<11} naive load-every-row count: {result['naive']:.1f} s, "
            f"{result['naive_rss']:.0f} MB; {verdict}; seeded: {result['seeded']}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--answers", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--only", choices=("sqlite", "postgresql"))
    parser.add_argument("--child", choices=("digest", "trends", "groupby"))
    parser.add_argument("--url")
    parser.add_argument("--config", type=Path)
    parser.add_argument("--keep", type=Path, help="seed once into this folder and reuse it")
    parser.add_argument("--code", type=Path, help="build with this checkout's code")
    args = parser.parse_args()
    if args.child:
        result = asyncio.run(child(args.child, args.url, args.config))
        print(json.dumps(result, default=str))
        return
    from storage.migrate import upgrade_sync

    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as folder:
        directory = args.keep or Path(folder)
        directory.mkdir(parents=True, exist_ok=True)
        config = _config(directory)
        measured = (args.answers, args.repeat, args.code)
        if args.only != "postgresql":
            path = directory / f"bench-{args.answers}.db"
            fresh = not path.exists()
            url = f"sqlite:///{path}"
            upgrade_sync(url)
            print("SQLite", flush=True)
            results["SQLite"] = measure(url, config, *measured, fresh)
        if args.only != "sqlite":
            name = (
                f"lastmile_digest_bench_{args.answers}"
                if args.keep
                else f"lastmile_bench_{secrets.token_hex(3)}"
            )
            with psycopg.connect(POSTGRES, autocommit=True) as admin:
                found = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
                fresh = found.fetchone() is None
                if fresh:
                    admin.execute(f'CREATE DATABASE "{name}"')
            try:
                url = f"{POSTGRES.rsplit('/', 1)[0]}/{name}"
                upgrade_sync(url)
                print("PostgreSQL", flush=True)
                results["PostgreSQL"] = measure(url, config, *measured, fresh)
            finally:
                if not args.keep:
                    with psycopg.connect(POSTGRES, autocommit=True) as admin:
                        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    _print(results)


if __name__ == "__main__":
    main()
