"""Clients that misbehave on purpose: uploads that trickle in and give up half way, and a
way to read a process's resident memory."""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

DECLARED = 1_000_000
"""The body size each upload announces (the server's limit is 1 MB)."""


@dataclass(frozen=True)
class Upload:
    """How one aborted upload behaves."""

    send: int = 128 * 1024
    """Bytes of body sent before giving up."""
    chunk: int = 16 * 1024
    pause: float = 0.02
    """Seconds between chunks: slow, but well within the server's body time limit."""


def rss_bytes(pid: int) -> int:
    """A process's resident set size, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text(encoding="ascii").splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


async def aborted_upload(host: str, port: int, path: str, upload: Upload = Upload()) -> None:
    """Announce a 1 MB JSON body, send part of it slowly, then reset the connection."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {DECLARED}\r\n\r\n"
        )
        writer.write(head.encode("ascii") + b'{"type": "message", "text": "')
        sent = 0
        while sent < upload.send:
            writer.write(b"a" * upload.chunk)
            await writer.drain()
            sent += upload.chunk
            await asyncio.sleep(upload.pause)
    except OSError:
        pass  # the server closed first: also fine
    finally:
        # SO_LINGER 0: close with a reset, as a client that crashed or was killed does.
        raw = writer.get_extra_info("socket")
        if raw is not None:
            with suppress(OSError):
                raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()
        del reader


async def burst(
    host: str,
    port: int,
    paths: Sequence[str],
    total: int,
    concurrency: int,
    upload: Upload = Upload(),
) -> None:
    """`total` aborted uploads spread over `paths`, `concurrency` at a time."""
    slots = asyncio.Semaphore(concurrency)

    async def one(index: int) -> None:
        async with slots:
            await aborted_upload(host, port, paths[index % len(paths)], upload)

    await asyncio.gather(*(one(index) for index in range(total)))
