"""Aborted slow uploads against a real `lastmile serve`: memory and log afterwards.

Starts `lastmile serve` on SQLite with Slack over HTTP (against the tests' fake Slack),
Teams (loopback) and the usage API, measures its resident memory once each route has
been used (the idle baseline), then sends a burst of uploads that each announce a 1 MB
JSON body, trickle part of it in and reset the connection, spread over the three routes.
It prints the peak and the memory a few seconds after the burst, each as a ratio to the
idle figure, and counts the log's lines about aborted uploads and its tracebacks.

    .venv/bin/python bench/slow_uploads.py [--uploads 3000] [--concurrency 200] [--kb 128]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fakes.slack_api import FakeSlackApi  # noqa: E402
from tests.processes import lastmile_env, serve  # noqa: E402
from tests.scheduling_support import write_config  # noqa: E402
from tests.slack_support import SIGNING_SECRET  # noqa: E402
from tests.uploads import Upload, aborted_upload, burst, rss_bytes  # noqa: E402

PATHS = ("/slack/events", "/api/messages", "/api/v1/usage")


async def run(uploads: int, concurrency: int, kb: int) -> None:
    with tempfile.TemporaryDirectory(prefix="lastmile-uploads-") as folder:
        directory = Path(folder)
        log = directory / "serve.log"
        async with FakeSlackApi() as fake:
            env = lastmile_env(
                f"sqlite:///{directory / 'lastmile.db'}",
                write_config(directory),
                SLACK_BOT_TOKEN=fake.bot_token,
                SLACK_SIGNING_SECRET=SIGNING_SECRET,
                SLACK_API_URL=fake.url,
            )
            async with serve(env, log) as served:
                pid = served.process.pid
                assert pid is not None
                for path in PATHS:
                    await aborted_upload("127.0.0.1", served.port, path, Upload(send=16 * 1024))
                await asyncio.sleep(2)
                idle = rss_bytes(pid)
                peak = idle

                async def watch() -> None:
                    nonlocal peak
                    while True:
                        peak = max(peak, rss_bytes(pid))
                        await asyncio.sleep(0.1)

                watching = asyncio.create_task(watch())
                started = time.monotonic()
                await burst(
                    "127.0.0.1",
                    served.port,
                    PATHS,
                    total=uploads,
                    concurrency=concurrency,
                    upload=Upload(send=kb * 1024),
                )
                took = time.monotonic() - started
                await asyncio.sleep(5)
                after = rss_bytes(pid)
                watching.cancel()
        output = log.read_text(encoding="utf-8", errors="replace")
    aborted = sum("upload aborted" in line for line in output.splitlines())
    print(
        f"{uploads} aborted uploads of {kb} KB ({concurrency} at a time) in {took:.1f} s\n"
        f"RSS idle   {idle / 1e6:7.1f} MB   1.00x (baseline)\n"
        f"RSS peak   {peak / 1e6:7.1f} MB   {peak / idle:.2f}x\n"
        f"RSS after  {after / 1e6:7.1f} MB   {after / idle:.2f}x (target: at most 1.20x)\n"
        f"log: {aborted} 'upload aborted' lines, {output.count('Traceback')} tracebacks"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uploads", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=200)
    parser.add_argument("--kb", type=int, default=128, help="body sent before the reset")
    args = parser.parse_args()
    asyncio.run(run(args.uploads, args.concurrency, args.kb))


if __name__ == "__main__":
    main()
