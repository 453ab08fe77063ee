"""The tests' fake Slack Web API in a process of its own, for benches that load it hard.

python bench/fake_slack_server.py [--limit PER_MINUTE] [--burst N]
    # prints {"url": …, "bot_token": …} and serves

With --limit, chat.postMessage has one workspace-wide budget, answered with 429 and
Retry-After past it. `bench.posted` (a Web API method of this fake only) reads out how
many messages were posted, to how many channels, and how many posts were refused.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.fakes.slack_api import FakeSlackApi


def posted(fake: FakeSlackApi) -> dict[str, Any]:
    """Messages posted, channels reached, repeats in a channel, posts refused with 429."""
    per_channel = Counter(channel for channel, _ts in fake.messages)
    return {
        "ok": True,
        "messages": sum(per_channel.values()),
        "channels": len(per_channel),
        "repeats": sum(count - 1 for count in per_channel.values()),
        "refused": fake.post_limit.refused if fake.post_limit is not None else 0,
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=float, default=0, help="posts a minute (0: none)")
    parser.add_argument("--burst", type=float, default=0, help="bucket size (default: 1 s)")
    args = parser.parse_args()
    async with FakeSlackApi() as fake:
        if args.limit:
            fake.limit_posts(args.limit, args.burst or max(args.limit / 60, 1))
        fake.add_method("bench.posted", lambda _params: posted(fake))
        print(json.dumps({"url": fake.url, "bot_token": fake.bot_token}), flush=True)
        while True:
            await asyncio.sleep(60)
            fake.requests.clear()  # a bench sends many; keep the memory flat


if __name__ == "__main__":
    asyncio.run(main())
