"""The tests' fake Slack Web API in a process of its own, for benches that load it hard.

python bench/fake_slack_server.py   # prints {"url": …, "bot_token": …} and serves
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.fakes.slack_api import FakeSlackApi


async def main() -> None:
    async with FakeSlackApi() as fake:
        print(json.dumps({"url": fake.url, "bot_token": fake.bot_token}), flush=True)
        while True:
            await asyncio.sleep(60)
            fake.requests.clear()  # a bench sends many; keep the memory flat


if __name__ == "__main__":
    asyncio.run(main())
