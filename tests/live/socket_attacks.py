"""The second security review's attacks on the server's sockets, replayed by
attack_check.py against uvicorn started as the project's image starts it (with
app/server.py's protocol): huge request heads, and connections that send
nothing or a byte now and then.
"""

import asyncio
import time
from contextlib import suppress
from pathlib import Path

from attack_api import log

# app/server.py's REQUEST_HEAD_MAX_BYTES and REQUEST_HEAD_TIMEOUT_SECONDS.
HEAD_MAX_BYTES = 16 * 1024
HEAD_TIMEOUT = 10.0
# How much later than the timeout a busy machine may close a connection.
SLACK = 5.0
MIB = 1024 * 1024


def resident_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmRSS for process {pid}")


async def send_head(port: int, header_bytes: int) -> bytes:
    """Send a request whose Authorization header has `header_bytes` bytes, a
    MiB at a time, until the server answers; its status line."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)

    async def write() -> None:
        writer.write(b"GET /api/v1/users/me HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ")
        chunk = b"a" * min(header_bytes, MIB)
        for _ in range(header_bytes // len(chunk)):
            writer.write(chunk)
            await writer.drain()
        writer.write(b"\r\n\r\n")
        await writer.drain()

    sending = asyncio.create_task(write())
    try:
        return await asyncio.wait_for(reader.readline(), timeout=60)
    finally:
        sending.cancel()
        with suppress(asyncio.CancelledError, ConnectionError):
            await sending
        writer.close()


async def huge_heads(port: int, pid: int) -> None:
    """14. A 1 MiB header, then ten 32 MiB Authorization headers at once: each
    gets 431 before the app reads it, and the server's memory stays put."""
    before = resident_mib(pid)
    assert (await send_head(port, MIB)).startswith(b"HTTP/1.1 431 ")
    statuses = await asyncio.gather(*(send_head(port, 32 * MIB) for _ in range(10)))
    assert all(status.startswith(b"HTTP/1.1 431 ") for status in statuses), statuses
    grown = resident_mib(pid) - before
    assert grown < 32, f"the server grew by {grown:.0f} MiB"
    log(f"14. a 1 MiB header, then ten of 32 MiB at once: 431 each; the server "
        f"grew by {grown:.1f} MiB")


async def hold_open(port: int, trickle: bool) -> float:
    """Open a connection and send nothing, or a byte a second of a head that
    never ends; seconds until the server closes it."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    opened = time.monotonic()

    async def until_closed() -> None:
        if trickle:
            for byte in b"GET / HTTP/1.1\r\nhost: x\r\n" + b"x-slow: y\r\n" * 100:
                if reader.at_eof():
                    break
                writer.write(bytes([byte]))
                await writer.drain()
                await asyncio.sleep(1)
        await reader.read()

    with suppress(ConnectionError, TimeoutError):
        await asyncio.wait_for(until_closed(), timeout=HEAD_TIMEOUT + 2 * SLACK)
    writer.close()
    return time.monotonic() - opened


async def idle_and_trickling(port: int) -> None:
    """15. 100 connections that send nothing and 20 that send a byte a second,
    while the other attacks go on: the server closes each when its head is
    overdue."""
    held = await asyncio.gather(
        *(hold_open(port, trickle=False) for _ in range(100)),
        *(hold_open(port, trickle=True) for _ in range(20)),
    )
    assert all(HEAD_TIMEOUT - 1 <= seconds <= HEAD_TIMEOUT + SLACK for seconds in held), (
        sorted(held)
    )
    log(f"15. 100 idle and 20 trickling connections: closed by the server after "
        f"{min(held):.1f}-{max(held):.1f} s")
