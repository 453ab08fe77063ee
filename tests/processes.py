"""Real processes for tests that kill or starve them: `lastmile serve`, and a PostgreSQL of
the test's own that it may stop and start."""

from __future__ import annotations

import asyncio
import itertools
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from tests.conftest import IN_CI

LASTMILE = [sys.executable, "-m", "lastmile.cli"]


PORTS_PER_WORKER = 400
_tried = itertools.count()


def free_port() -> int:
    """A TCP port nobody listens on right now, for a server a test starts.

    Each pytest-xdist worker takes its ports from a range of its own, below the kernel's
    ephemeral ports: a port the kernel hands out (`bind` to 0) is free only until it is
    closed, and another worker's test could be given the same one and start its server
    there first, so this test's health check would reach the other test's server.
    """
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
    first = 20_000 + PORTS_PER_WORKER * (int(worker or 0) % 30)
    for _ in range(PORTS_PER_WORKER):
        port = first + next(_tried) % PORTS_PER_WORKER
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port from {first} on")


def lastmile_env(database_url: str, config: Path, **extra: str) -> dict[str, str]:
    """The environment of a `lastmile` process: this one's, without any platform or lastmile
    setting it did not ask for."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SLACK_", "MICROSOFT_", "LASTMILE_", "DATABASE_URL"))
    }
    env.update(
        DATABASE_URL=database_url,
        LASTMILE_CONFIG=str(config),
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


@dataclass
class Served:
    """A running `lastmile serve`."""

    process: asyncio.subprocess.Process
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def kill(self) -> None:
        """kill -9: no clean-up of any kind."""
        with suppress(ProcessLookupError):
            self.process.send_signal(signal.SIGKILL)

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


async def wait_healthy(url: str, within: float = 60.0) -> None:
    """Wait until `url`/healthz answers 200."""
    deadline = time.monotonic() + within
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            with suppress(aiohttp.ClientError, OSError):
                async with session.get(f"{url}/healthz") as answer:
                    if answer.status == 200:
                        return
            await asyncio.sleep(0.1)
    raise AssertionError(f"{url} never became healthy")


@asynccontextmanager
async def serve(env: dict[str, str], log: Path) -> AsyncIterator[Served]:
    """`lastmile serve` in its own process, healthy; killed at the end if still running."""
    port = free_port()
    with log.open("ab") as out:
        process = await asyncio.create_subprocess_exec(
            *LASTMILE, "serve", env={**env, "PORT": str(port)}, stdout=out, stderr=out
        )
    served = Served(process, port, log)
    try:
        await wait_healthy(served.url)
        yield served
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGINT)
            try:
                await asyncio.wait_for(process.wait(), 20)
            except TimeoutError:
                served.kill()
                await process.wait()


# -- a PostgreSQL of the test's own --------------------------------------------------------


@dataclass
class OwnPostgres:
    """A PostgreSQL cluster in a temporary folder: stopping it affects nobody else."""

    directory: Path
    port: int
    pg_ctl: Path

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _ctl(self, *args: str) -> None:
        command = ["runuser", "-u", "postgres", "--", str(self.pg_ctl), "-D", str(self.directory)]
        # The server must not inherit our pipes (it outlives pg_ctl): output goes to a file.
        subprocess.run(
            [*command, *args],
            check=True,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=60,
        )

    def start(self) -> None:
        options = f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 -c fsync=off"
        # The server's output goes to a file: left on pg_ctl's stdout, it would keep the
        # captured pipe open and `start` would wait for it until its timeout.
        self._ctl("-o", options, "-l", str(self.directory / "server.log"), "-w", "start")

    def stop(self) -> None:
        self._ctl("-m", "fast", "-w", "stop")


def _postgres_bin() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    return found[-1].parent if found else None


@contextmanager
def own_postgres() -> Iterator[OwnPostgres]:
    """A fresh PostgreSQL cluster the test may stop and start (needs root and Debian's
    PostgreSQL binaries: skipped without them, a failure with CI=true)."""
    binaries = _postgres_bin()
    if binaries is None or os.geteuid() != 0 or shutil.which("runuser") is None:
        message = "a PostgreSQL of the test's own needs root, runuser and initdb"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    directory = Path(tempfile.mkdtemp(prefix="lastmile-pg-"))
    shutil.chown(directory, "postgres", "postgres")
    subprocess.run(
        [
            "runuser",
            "-u",
            "postgres",
            "--",
            str(binaries / "initdb"),
            "-D",
            str(directory),
            "-A",
            "trust",
            "-U",
            "postgres",
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    cluster = OwnPostgres(directory, free_port(), binaries / "pg_ctl")
    cluster.start()
    try:
        yield cluster
    finally:
        with suppress(subprocess.CalledProcessError):
            cluster.stop()
        shutil.rmtree(directory, ignore_errors=True)
