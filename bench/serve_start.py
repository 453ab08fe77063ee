"""How soon `lastmile serve` answers /healthz with a whole organisation in its config, and
how much memory it then holds, against a bare aiohttp app that only answers /healthz.

Writes a config of N people (platform ids, as `serve` syncs them at start-up) in C
cohorts, with a lead per cohort, owners and an admin, then starts `lastmile serve` as
a subprocess on SQLite and on PostgreSQL, twice each: first on an empty database
(everyone is inserted) and then again on the same one (a restart: nothing changes).
It polls /healthz every 20 ms from the moment the process is started, then lets the
process idle for a few seconds and reads its resident memory (VmRSS) and peak
(VmHWM) from /proc. The baseline is a Python process that imports aiohttp and serves
one /healthz route.

    .venv/bin/python bench/serve_start.py [--people 10000] [--cohorts 20] [--repeat 3]
        [--idle 5]
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from fresh_db import fresh_databases

BIN = Path(sys.executable).parent
BARE_APP = """
from aiohttp import web

async def healthz(request):
    return web.json_response({"status": "ok"})

app = web.Application()
app.router.add_get("/healthz", healthz)
web.run_app(app, host="127.0.0.1", port=int(__import__("sys").argv[1]), print=None)
"""
PLATFORM_VARIABLES = (
    "SLACK_BOT_TOKEN",
    "SLACK_SIGNING_SECRET",
    "SLACK_APP_TOKEN",
    "MICROSOFT_APP_ID",
    "MICROSOFT_APP_PASSWORD",
)


@dataclass(frozen=True)
class Start:
    """One measured start: seconds until /healthz answered 200, memory after idling."""

    seconds: float
    rss_mb: float
    peak_mb: float


def write_config(directory: Path, people: int, cohorts: int) -> Path:
    """Members written as Slack and Teams ids (synced at start-up) and a few e-mails."""
    lines = [
        "[settings]",
        'admins = ["slack:UADMIN"]',
        "[programmes.routing]",
        'name = "Route planner pilot"',
        'tool = "RoutePilot"',
        'timezone = "Europe/London"',
        'owners = ["slack:UOWNER1", "slack:UOWNER2", "owner@example.org"]',
        'digest_destination = "slack:CDIGEST"',
    ]
    for cohort in range(cohorts):
        members = [
            f"slack:U{n:07d}" if n % 3 else f"teams:29:{n:07d}"
            for n in range(cohort, people, cohorts)
        ]
        members[-1] = f"person{cohort}@example.org"
        lines += [
            f"[cohorts.c{cohort:02d}]",
            'programme = "routing"',
            'timezone = "Europe/London"',
            'schedule = ["tue,thu 15:30"]',
            "members = [" + ", ".join(f'"{member}"' for member in members) + "]",
            f'leads = ["{members[0]}"]',
        ]
    path = directory / "organisation.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def memory_mb(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) of a process, in MB."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0]) / 1024
    return fields["VmRSS"], fields["VmHWM"]


def measure(command: list[str], env: dict[str, str], port: int, idle: float) -> Start:
    started = time.perf_counter()
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    try:
        while True:
            if process.poll() is not None:
                raise RuntimeError(
                    f"{command[0]} exited: {process.stderr.read() if process.stderr else ''}"
                )
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{port}/healthz", timeout=1
                ) as answer:
                    if answer.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.02)
        seconds = time.perf_counter() - started
        time.sleep(idle)
        rss, peak = memory_mb(process.pid)
        return Start(seconds, rss, peak)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def serve_env(url: str, config: Path, port: int) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in PLATFORM_VARIABLES}
    env.update(DATABASE_URL=url, LASTMILE_CONFIG=str(config), HOST="127.0.0.1", PORT=str(port))
    return env


def median_start(starts: list[Start]) -> Start:
    return Start(
        statistics.median(s.seconds for s in starts),
        statistics.median(s.rss_mb for s in starts),
        statistics.median(s.peak_mb for s in starts),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=10_000)
    parser.add_argument("--cohorts", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--idle", type=float, default=5.0, help="seconds idle before RSS")
    args = parser.parse_args()
    print(
        f"lastmile serve with {args.people} people in {args.cohorts} cohorts; "
        f"median of {args.repeat}; memory after {args.idle:.0f} s idle"
    )
    print(f"{'':<28}{'to /healthz':>12}{'ratio':>8}{'RSS':>9}{'peak RSS':>10}")
    bare = []
    for _ in range(args.repeat):
        port = free_port()
        bare.append(
            measure([sys.executable, "-c", BARE_APP, str(port)], dict(os.environ), port, args.idle)
        )
    baseline = median_start(bare)

    def row(label: str, start: Start) -> None:
        print(
            f"{label:<28}{start.seconds:>11.2f}s{start.seconds / baseline.seconds:>7.1f}x"
            f"{start.rss_mb:>7.0f}MB{start.peak_mb:>8.0f}MB"
        )

    row("bare aiohttp app", baseline)
    with tempfile.TemporaryDirectory() as folder, fresh_databases(Path(folder)) as fresh:
        config = write_config(Path(folder), args.people, args.cohorts)
        for database in ("SQLite", "PostgreSQL"):
            first, again = [], []
            for _ in range(args.repeat):
                url = fresh.make(database, "serve")
                for starts in (first, again):
                    port = free_port()
                    command = [str(BIN / "lastmile"), "serve"]
                    starts.append(measure(command, serve_env(url, config, port), port, args.idle))
            row(f"{database}, empty database", median_start(first))
            row(f"{database}, restart", median_start(again))


if __name__ == "__main__":
    main()
