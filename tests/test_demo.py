"""Issue 10: `lastmile demo` fills a throwaway database, marked as demo, never a real one."""

from __future__ import annotations

import asyncio
import os
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.config import Settings, example_config_path
from bot.digest.build import Scope, build_digest, programme_zone
from bot.digest.weeks import last_complete_week
from lastmile.cli import main
from lastmile.server import runtime_for
from storage.instance import is_demo
from storage.migrate import upgrade_sync
from tests.processes import LASTMILE, free_port


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith(("SLACK_", "MICROSOFT_", "LASTMILE_")) or name == "DATABASE_URL":
            monkeypatch.delenv(name)


async def test_demo_fills_weeks_where_every_team_passes_k(
    tmp_path: Path, clean_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "demo.db"
    assert await _main(["demo", "--database", str(path)]) == 0
    assert "holds demo data: 13 made-up people" in capsys.readouterr().out

    settings = Settings(
        database_url=f"sqlite:///{path}",
        lastmile_config=example_config_path(),
        _env_file=None,  # type: ignore[call-arg]
    )
    runtime = await runtime_for(settings)
    try:
        now = datetime.now(UTC)
        week = last_complete_week(now, programme_zone(runtime.config, "routing"))
        async with runtime.db.session() as session:
            assert await is_demo(session)
            digest = await build_digest(session, runtime.config, Scope("routing"), week, now)
            teams = {}
            for cohort in ("north", "south"):
                teams[cohort] = await build_digest(
                    session, runtime.config, Scope("routing", cohort), week, now
                )
    finally:
        await runtime.close()
    assert digest.counts is not None and digest.counts.respondents >= 12
    assert [row.cohort_id for row in digest.cohorts] == ["north", "south"]  # both named, no fold
    assert all(team.counts is not None for team in teams.values())
    assert digest.written, "themes of what people wrote are shown"
    assert digest.indispensability is not None
    assert [p.counts is not None for p in digest.series][-6:] == [True] * 6

    # Run again: the old demo is thrown away and made anew.
    assert await _main(["demo", "--database", str(path), "--weeks", "2"]) == 0


async def test_demo_never_writes_into_a_real_database(
    tmp_path: Path, clean_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    real = tmp_path / "lastmile.db"
    upgrade_sync(f"sqlite:///{real}")
    before = real.read_bytes()
    assert await _main(["demo", "--database", str(real)]) == 2
    assert "is not a demo database" in capsys.readouterr().err
    assert real.read_bytes() == before


def test_a_demo_database_is_served_with_the_example_config_only(
    tmp_path: Path, clean_env: None
) -> None:
    path = tmp_path / "demo.db"
    assert main(["demo", "--database", str(path), "--weeks", "1"]) == 0
    other = tmp_path / "real.toml"
    other.write_text(example_config_path().read_text(encoding="utf-8"), encoding="utf-8")
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{path}", "PORT": str(free_port())}
    refused = subprocess.run(
        [*LASTMILE, "--config", str(other), "serve"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert refused.returncode == 2
    assert "this database holds demo data" in refused.stderr


async def _main(argv: list[str]) -> int:
    # The CLI runs its own event loop: give it a thread of its own.
    return await asyncio.to_thread(main, argv)
