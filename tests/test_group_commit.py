"""Group commit: concurrent marks share transactions, and a failed write fails its callers."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from bot.group_commit import GroupCommit


async def test_items_added_together_are_written_together_and_each_caller_waits_for_its_own() -> (
    None
):
    written: list[list[int]] = []

    async def write(items: Sequence[int]) -> None:
        await asyncio.sleep(0.01)  # a commit
        written.append(list(items))

    commit = GroupCommit(write, linger=0.0)
    await asyncio.gather(*(commit.add(n) for n in range(10)))

    assert sorted(item for batch in written for item in batch) == list(range(10))
    assert len(written) < 10


async def test_a_failed_write_fails_every_caller_in_its_batch_and_not_the_next() -> None:
    attempts = 0

    async def write(items: Sequence[int]) -> None:
        nonlocal attempts
        attempts += 1
        if attempts == 1:
            raise ConnectionError("database away")

    commit = GroupCommit(write, linger=0.01)
    results = await asyncio.gather(commit.add(1), commit.add(2), return_exceptions=True)

    assert [type(result) for result in results] == [ConnectionError, ConnectionError]
    await commit.add(3)
    assert attempts == 2


@pytest.mark.parametrize("linger", [0.0, 0.005])
async def test_one_item_alone_is_written_without_waiting_for_company(linger: float) -> None:
    written: list[Sequence[int]] = []

    async def write(items: Sequence[int]) -> None:
        written.append(items)

    await asyncio.wait_for(GroupCommit(write, linger=linger).add(7), 1)
    assert written == [[7]]
