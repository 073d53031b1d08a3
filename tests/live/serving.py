"""What the live checks share: a free loopback port, and waiting for uvicorn.

Standard library at import time, like postgres_server.py, which imports it.
"""

import socket
import subprocess
import time

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
