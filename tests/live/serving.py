"""What the live checks share: a free loopback port no other check is given,
uvicorn started as the project's image starts it, and waiting for it to serve.

Standard library at import time, like postgres_server.py, which imports it.
"""

import fcntl
import json
import os
import random
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

START_TIMEOUT = 30.0


# Ports below the kernel's ephemeral range: bind(0) and outgoing connections
# never take them, so only another check can, and the lock below stops that.
EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
RESERVED_PORTS = 8000
# A check holds the lock on each port it was given until it exits: the port
# stays its own while the server on it restarts, or has not bound it yet.
# Checks run as one user; another user's checks get a directory of their own.
PORT_LOCKS = Path(tempfile.gettempdir()) / f"live-check-ports-{os.getuid()}"
_held_port_locks: list[int] = []


def free_port() -> int:
    """A loopback port that no other live check is given while this process
    lives, and that nothing listens on now."""
    try:
        lowest_ephemeral = int(EPHEMERAL_RANGE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        lowest_ephemeral = 32768
    first = max(1024, lowest_ephemeral - RESERVED_PORTS)
    PORT_LOCKS.mkdir(exist_ok=True)
    for port in random.sample(range(first, lowest_ephemeral), 200):
        lock = os.open(PORT_LOCKS / f"{port}.lock", os.O_RDONLY | os.O_CREAT, 0o600)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(lock)
            continue
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                os.close(lock)
                continue
        _held_port_locks.append(lock)
        return port
    raise SystemExit(f"no free port between {first} and {lowest_ephemeral}")


def wait_until_serving(server: subprocess.Popen[bytes], url: str) -> None:
    """Return once `url` answers at all; exit if uvicorn dies or never answers."""
    import httpx  # in the environment of the app being checked

    deadline = time.monotonic() + START_TIMEOUT
    while True:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            if server.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("uvicorn did not start") from None
            time.sleep(0.2)


def image_command(
    port: int, *options: str, project: Path = Path(), python: str = sys.executable
) -> list[str]:
    """The CMD of the `project`'s Dockerfile, run with `python`, on
    127.0.0.1:`port`, with `options` added."""
    dockerfile = (project / "Dockerfile").read_text()
    *_, last = re.finditer(r"^CMD (\[.*?\])\s*$", dockerfile, re.MULTILINE | re.DOTALL)
    command: list[str] = json.loads(last.group(1).replace("\\\n", ""))
    for option, value in (("--host", "127.0.0.1"), ("--port", str(port))):
        command[command.index(option) + 1] = value
    return [python, "-m", *command, *options]
