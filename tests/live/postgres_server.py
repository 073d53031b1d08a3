"""A PostgreSQL server of one's own, in a temporary directory, that can be stopped
and started again: the fault checks take the database away from a running app.

Plain standard library, so any Python can import it (the noxfile's, or a
rendered project's).
"""

import glob
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from serving import free_port


def find_binaries() -> Path | None:
    """The directory of initdb and pg_ctl, from PATH or Debian's layout."""
    candidates = []
    if pg_ctl := shutil.which("pg_ctl"):
        candidates.append(Path(pg_ctl).resolve().parent)
    candidates += [
        Path(found) for found in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    ]
    for directory in candidates:
        if (directory / "initdb").exists() and (directory / "pg_ctl").exists():
            return directory
    return None


class PostgresServer:
    """initdb on construction; start(), stop() and start() again on the same port."""

    def __init__(self, binaries: Path) -> None:
        self.binaries = binaries
        self.port = free_port()
        self.directory = Path(tempfile.mkdtemp(prefix="postgres-server-"))
        if os.geteuid() == 0:
            shutil.chown(self.directory, user="postgres")
        self.running = False
        self._run(
            "initdb", "-D", self.directory / "data", "-U", "postgres", "--auth=trust",
            "-E", "UTF8", "--no-sync",
        )

    def _run(self, program: str, *args: str | Path) -> None:
        command = [str(self.binaries / program), *(str(arg) for arg in args)]
        # PostgreSQL refuses to run as root; Debian ships a `postgres` user.
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)

    @property
    def log(self) -> Path:
        return self.directory / "server.log"

    def url(self, database: str = "postgres", driver: str = "postgresql+asyncpg") -> str:
        return f"{driver}://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        # Durability is worthless for a server that lives one check.
        options = (
            f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
            # Room for the pools of apps and tests that run side by side.
            "-c max_connections=200"
        )
        self._run(
            "pg_ctl", "-D", self.directory / "data", "-o", options, "-l", self.log,
            "-w", "start",
        )
        self.running = True

    def stop(self, mode: str = "fast") -> None:
        """Stop the server; "fast" ends every client's connection, as a crash or
        a failover does from the client's side."""
        self._run("pg_ctl", "-D", self.directory / "data", "-m", mode, "-w", "stop")
        self.running = False

    def remove(self) -> None:
        if self.running:
            self.stop("immediate")
        shutil.rmtree(self.directory, ignore_errors=True)
