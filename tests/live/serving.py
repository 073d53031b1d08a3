"""What the live checks share: a free loopback port, uvicorn started as the
project's image starts it, and waiting for it to serve.

Standard library at import time, like postgres_server.py, which imports it.
"""

import json
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

START_TIMEOUT = 30.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


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
    *_, last = re.finditer(r"^CMD (\[.*?\])\s*$", dockerfile, re.M | re.S)
    command: list[str] = json.loads(last.group(1).replace("\\\n", ""))
    for option, value in (("--host", "127.0.0.1"), ("--port", str(port))):
        command[command.index(option) + 1] = value
    return [python, "-m", *command, *options]
