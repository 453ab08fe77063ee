#!/usr/bin/env python3
"""Quick start: `python3 dev.py start` runs the bot on a demo database, `python3 dev.py test`
runs every check.

Both create `.venv` and install lastmile into it first, so a fresh clone with only
Python 3.11+ needs nothing else. The test command also prepares what the storage and
end-to-end tests need when it can (a local PostgreSQL, Debian's Chromium, the Agents
Playground from npm); with CI=true a missing piece fails the run instead of being
skipped.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / "python"
PLAYGROUND = ROOT / "tests" / "e2e" / "playground"
IN_CI = os.environ.get("CI", "").lower() == "true"


def say(message: str) -> None:
    print(f"[dev] {message}", flush=True)


def run(*command: str | Path, cwd: Path = ROOT, check: bool = True) -> int:
    result = subprocess.run([str(part) for part in command], cwd=cwd)
    if check and result.returncode != 0:
        sys.exit(result.returncode)
    return result.returncode


def ensure_venv() -> None:
    """Create .venv and install lastmile with its dev tools, again when pyproject changes."""
    if sys.version_info < (3, 11):  # noqa: UP036  (a person may run it with an old python3)
        sys.exit("lastmile needs Python 3.11 or newer")
    if not PYTHON.exists():
        say("creating .venv")
        run(sys.executable, "-m", "venv", VENV)
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()[:16]
    stamp = VENV / f".installed-{digest}"
    if stamp.exists():
        return
    say("installing lastmile and its dependencies into .venv (first run takes a minute)")
    run(PYTHON, "-m", "pip", "install", "--quiet", "--upgrade", "pip")
    run(PYTHON, "-m", "pip", "install", "--quiet", "-e", ".[dev]")
    for old in VENV.glob(".installed-*"):
        old.unlink()
    stamp.touch()


def port_open(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex((host, port)) == 0


def ensure_postgres() -> None:
    """Start the machine's PostgreSQL cluster when it is installed but not running."""
    if os.environ.get("LASTMILE_TEST_POSTGRES") or port_open("127.0.0.1", 5432):
        return
    clusters = Path("/etc/postgresql")
    if shutil.which("pg_ctlcluster") and clusters.is_dir():
        for version in sorted(path.name for path in clusters.iterdir()):
            say(f"starting PostgreSQL {version}")
            run("pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "start", check=False)
    if not port_open("127.0.0.1", 5432):
        say(
            "PostgreSQL is not reachable on 127.0.0.1:5432: its tests will "
            + ("FAIL (CI=true)" if IN_CI else "be skipped")
        )


def ensure_browser_tools() -> None:
    """Debian's Chromium (the browser tests) and the Agents Playground (the Teams test)."""
    if not Path("/usr/bin/chromium").exists() and shutil.which("apt-get") and os.geteuid() == 0:
        say("installing Debian's chromium for the browser tests")
        run("apt-get", "update", "-qq", check=False)
        env_noninteractive = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "install", "-y", "-qq", "chromium"], env=env_noninteractive)
    wanted = (PLAYGROUND / "package.json").exists() and shutil.which("npm")
    if wanted and not (PLAYGROUND / "node_modules").exists():
        say("installing the Microsoft 365 Agents Playground (npm ci)")
        run("npm", "ci", "--no-audit", "--no-fund", "--loglevel=error", cwd=PLAYGROUND, check=False)


def start(args: list[str]) -> None:
    ensure_venv()
    say("filling ./lastmile-demo.db with made-up weeks of answers, then serving it")
    say("open http://127.0.0.1:3978/ to chat as anyone in the example; stop it with Ctrl+C")
    os.execv(BIN / "lastmile", [str(BIN / "lastmile"), "demo", "--serve", *args])


def test(args: list[str]) -> None:
    ensure_venv()
    ensure_postgres()
    ensure_browser_tools()
    say("ruff")
    run(BIN / "ruff", "check", ".")
    say("mypy --strict")
    run(BIN / "mypy")
    # The whole suite runs on every core (pytest-xdist), with one worker more than there
    # are cores: many tests wait on subprocesses, leases and a browser, and the extra
    # worker keeps the cores busy meanwhile. Given arguments, pytest runs as told.
    workers = str((os.cpu_count() or 1) + 1)
    parallel = [] if args else ["-n", workers, "--dist", "worksteal"]
    say("pytest")
    sys.exit(run(PYTHON, "-m", "pytest", *parallel, *args, check=False))


COMMANDS = {"start": start, "test": test}


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        sys.exit("usage: python3 dev.py start | test [pytest arguments]")
    COMMANDS[sys.argv[1]](sys.argv[2:])


if __name__ == "__main__":
    main()
