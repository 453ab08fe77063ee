"""The `lastmile` command as a person runs it: serve, chat, config check, db upgrade."""

from __future__ import annotations

import os
import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.config import example_config_path
from lastmile.cli import main
from tests.conftest import empty_postgres_database
from tests.processes import LASTMILE, free_port


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SLACK_", "MICROSOFT_", "LASTMILE_", "DATABASE_URL"))
    }
    env.update(DATABASE_URL=f"sqlite:///{tmp_path / 'lastmile.db'}", PYTHONUNBUFFERED="1")
    env.update(extra)
    return env


def _run(args: list[str], env: dict[str, str], stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*LASTMILE, *args], env=env, input=stdin, capture_output=True, text=True, timeout=60
    )


def _wait_healthy(port: int, process: subprocess.Popen[str]) -> int:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return -1
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as answer:
                return int(answer.status)
        except OSError:
            time.sleep(0.2)
    return 0


@pytest.mark.parametrize(
    ("stop_signal", "exit_code"),
    [(signal.SIGINT, 130), (signal.SIGTERM, 0)],
    ids=["ctrl-c", "sigterm"],
)
def test_serve_answers_healthz_on_sqlite_with_no_credentials(
    tmp_path: Path, stop_signal: signal.Signals, exit_code: int
) -> None:
    port = free_port()
    env = _env(tmp_path, PORT=str(port))
    process = subprocess.Popen(
        [*LASTMILE, "serve"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    healthy = 0
    try:
        healthy = _wait_healthy(port, process)
    finally:
        process.send_signal(stop_signal)
        try:
            output, _ = process.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()  # never left running past its test, whatever failed
            left, _ = process.communicate()
            raise AssertionError(f"serve did not stop within 20 s:\n{left}") from None
    # Checked after the process is stopped, so a failure shows what serve wrote.
    assert healthy == 200, f"/healthz: {healthy} (-1: serve exited, 0: no answer)\n{output}"
    assert (tmp_path / "lastmile.db").exists()
    assert "lastmile chat --as ana" in output
    assert process.returncode == exit_code, output
    assert "Traceback" not in output


def test_scripted_chat_session(tmp_path: Path) -> None:
    script = "\n".join(["checkin", "2", "2", "4", "Quicker to do it myself", "mydata", "quit"])
    result = _run(["chat", "--as", "ana"], _env(tmp_path), script)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Did RoutePilot help you" in out
    assert "✓ Partly\n" in out
    assert "✓ Partly — used the old system\n" in out
    assert "✓ Partly — used the old system — overrode it: slower than doing it myself\n" in out
    assert "“Quicker to do it myself”" in out
    assert "Slower than doing it myself “Quicker to do it myself”" in out  # mydata
    assert result.stderr == ""


def _read_until(process: subprocess.Popen[str], marker: str) -> str:
    assert process.stdout is not None
    seen = ""
    deadline = time.monotonic() + 30
    while marker not in seen and time.monotonic() < deadline:
        char = process.stdout.read(1)
        if not char:
            break
        seen += char
    assert marker in seen, seen
    return seen


def test_killed_mid_checkin_continues_at_the_same_step(tmp_path: Path) -> None:
    env = _env(tmp_path)
    first = subprocess.Popen(
        [*LASTMILE, "chat", "--as", "ben"],
        env=env,
        text=True,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert first.stdin is not None
    first.stdin.write("checkin\n2\n")
    first.stdin.flush()
    _read_until(first, "What did you do instead?")
    first.kill()
    first.wait(timeout=10)
    for stream in (first.stdin, first.stdout, first.stderr):
        if stream is not None:
            stream.close()

    result = _run(["chat", "--as", "ben"], env, "1\n1\nmydata\nquit\n")
    out = result.stdout
    resumed_at = out.index("What did you do instead?")
    assert resumed_at < out.index("✓ Partly — did it by hand\n")
    assert "✓ Partly — did it by hand — no override" in out
    assert "you asked for it: answered — Partly" in out
    assert "What you did instead (1):" in out


@pytest.mark.parametrize(
    ("config_text", "expected"),
    [
        (
            'programmes.p = { name = "P", tool = "T", timezone = "UTC", colour = "red" }',
            "programmes.p.colour: unknown field",
        ),
        (
            'programmes.p = { name = "P", tool = "T", timezone = "Europe/Londn" }',
            "programmes.p.timezone: unknown time zone 'Europe/Londn'",
        ),
        (
            'programmes.p = { name = "P", tool = "T", timezone = "UTC" }\n'
            'cohorts.c = { programme = "p", schedule = ["someday 15:30"] }',
            "cohorts.c.schedule: 'someday' in 'someday 15:30' is not a day",
        ),
        (
            'programmes.p = { name = "P", tool = "T", timezone = "UTC" }\n'
            'cohorts.c = { programme = "q" }',
            "cohorts.c.programme: no programme 'q'",
        ),
        ("settings = { anonymity_k = 2 }\nprogrammes = {}", "settings.anonymity_k"),
    ],
)
def test_bad_config_is_named(
    tmp_path: Path, config_text: str, expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(config_text)
    assert main(["--config", str(path), "config", "check"]) == 2
    assert expected in capsys.readouterr().err


def test_bad_config_stops_serve_before_it_starts(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('programmes.p = { name = "P", tool = "T", timezone = "Mars/Base" }')
    env = _env(tmp_path, LASTMILE_CONFIG=str(path), PORT=str(free_port()))
    serve = _run(["serve"], env)
    assert serve.returncode == 2
    assert "programmes.p.timezone: unknown time zone 'Mars/Base'" in serve.stderr
    assert not (tmp_path / "lastmile.db").exists()


def test_missing_prompt_key_is_named_and_the_bot_does_not_start(tmp_path: Path) -> None:
    prompts = tmp_path / "prompts"
    prompts.mkdir()
    shipped = (Path(__file__).parent.parent / "prompts" / "en.toml").read_text()
    (prompts / "en.toml").write_text(shipped.replace('reminder = "', 'remindr = "'))
    env = _env(tmp_path, LASTMILE_PROMPTS_DIR=str(prompts))
    for command in (["config", "check"], ["serve"]):
        result = _run(command, env)
        assert result.returncode == 2
        assert "is missing the key 'checkin.reminder'" in result.stderr


@pytest.mark.parametrize(
    ("line_start", "key"),
    [
        ("too_few = ", "digest.too_few"),
        ("app_short_description = ", "teams.app_short_description"),
        ("form_title = ", "slack.form_title"),
    ],
)
def test_keys_of_features_and_adapters_are_checked_at_start_up(
    tmp_path: Path,
    line_start: str,
    key: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    prompts = tmp_path / "prompts"
    prompts.mkdir()
    shipped = (Path(__file__).parent.parent / "prompts" / "en.toml").read_text().splitlines()
    kept = [line for line in shipped if not line.startswith(line_start)]
    assert len(kept) == len(shipped) - 1
    (prompts / "en.toml").write_text("\n".join(kept))
    monkeypatch.setenv("LASTMILE_PROMPTS_DIR", str(prompts))
    assert main(["config", "check"]) == 2
    assert f"is missing the key '{key}'" in capsys.readouterr().err


def test_example_config_checks_clean(tmp_path: Path) -> None:
    result = _run(["config", "check"], _env(tmp_path, LASTMILE_CONFIG=str(example_config_path())))
    assert result.returncode == 0, result.stderr
    assert "1 programme(s), 2 cohort(s)" in result.stdout


@pytest.fixture
def empty_postgres() -> Iterator[str]:
    with empty_postgres_database("lastmile_cli") as url:
        yield url


@pytest.mark.postgres
def test_serve_refuses_an_out_of_date_postgres_schema_until_upgraded(
    tmp_path: Path, empty_postgres: str
) -> None:
    env = _env(tmp_path, DATABASE_URL=empty_postgres, PORT=str(free_port()))
    refused = _run(["serve"], env)
    assert refused.returncode == 2
    assert "Run `lastmile db upgrade` first" in refused.stderr
    upgraded = _run(["db", "upgrade"], env)
    assert upgraded.returncode == 0, upgraded.stderr
    assert "up to date" in upgraded.stdout
    assert _run(["db", "current"], env).returncode == 0


def test_log_format_json_writes_one_json_object_a_line(tmp_path: Path) -> None:
    import json

    result = _run(["db", "upgrade"], _env(tmp_path, LOG_FORMAT="json"))

    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stderr.splitlines()]
    assert lines and all(line["logger"].startswith("alembic") for line in lines)
    assert {"time", "level", "logger", "message"} <= set(lines[0])


def test_an_unknown_log_format_is_named(tmp_path: Path) -> None:
    result = _run(["db", "current"], _env(tmp_path, LOG_FORMAT="yaml"))

    assert result.returncode == 2
    assert result.stderr.startswith("lastmile: the environment is not valid")
    assert "log_format" in result.stderr and "Traceback" not in result.stderr
