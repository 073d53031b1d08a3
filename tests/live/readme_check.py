"""Run the commands a rendered project's README gives, as a reader would.

Run with the rendered project's own Python, from the project's directory:

    python readme_check.py [--timings FILE]

It takes the first `sh` block of the "Run it" and "Test it" sections and runs each
line with bash. The server command is started, asked for /health until the database
answers, and stopped. Lines that need a PostgreSQL server at localhost:5432
(`createdb`, `export TEST_DATABASE_URL=...`) are left to the caller, which provides
DATABASE_URL and TEST_DATABASE_URL in the environment instead. Exits non-zero on the
first command that fails, or when a check the template promises is missing.
With `--timings FILE`, each command's wall and CPU seconds are written to FILE,
a JSON line each.
"""

import json
import os
import re
import resource
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from serving import free_port

SECTIONS = ("Run it", "Test it")
# What every README must tell its reader to run.
REQUIRED = (
    "uv sync",
    "uv run alembic upgrade head",
    "uv run uvicorn app.main:app",
    "uv run pytest",
    "uv run ruff check .",
    "uv run ruff format --check .",
    "uv run mypy",
)
LEFT_TO_THE_CALLER = ("createdb ", "export TEST_DATABASE_URL=")
SERVER_START_TIMEOUT = 30.0


def commands(readme: str, section: str) -> list[str]:
    match = re.search(
        rf"^## {re.escape(section)}\n.*?^```sh\n(.*?)^```", readme, re.M | re.S
    )
    if match is None:
        sys.exit(f"README.md: no sh block under '## {section}'")
    lines = [line.split("  #")[0].strip() for line in match.group(1).splitlines()]
    return [line for line in lines if line]


def serve_and_check(command: str) -> None:
    port = free_port()
    server = subprocess.Popen(
        ["bash", "-c", f"exec {command} --port {port}"], start_new_session=True
    )
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    try:
        while True:
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{port}/health", timeout=5
                ) as response:
                    health = json.load(response)
                break
            except (urllib.error.URLError, ConnectionError):
                if server.poll() is not None or time.monotonic() > deadline:
                    sys.exit(f"`{command}` did not serve /health")
                time.sleep(0.3)
        if health != {"status": "ok", "database": "ok"}:
            sys.exit(f"`{command}`: /health answered {health}")
        print(f"readme_check: `{command}` serves /health: {health}", flush=True)
    finally:
        # As a reader stops it: Ctrl-C, to the whole foreground process group.
        os.killpg(server.pid, signal.SIGINT)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            # uvicorn's reloader has been seen to hang in its file watcher on
            # a machine busy with other work, its server already stopped: not
            # what this check is about, so it is reported and killed.
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
            print(f"readme_check: `{command}` did not stop within 15 s of Ctrl-C; "
                  "killed", flush=True)


class Timings:
    """Each command's wall time and the CPU time of what it ran, one at a time."""

    def __init__(self, path: str | None) -> None:
        self.path = Path(path) if path else None

    def run(self, step: str, function: Callable[[str], None]) -> None:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.monotonic()
        function(step)
        wall = time.monotonic() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        if self.path:
            with self.path.open("a") as file:
                file.write(json.dumps({"step": step, "wall": wall, "cpu": cpu}) + "\n")


def run_step(step: str) -> None:
    print(f"readme_check: $ {step}", flush=True)
    if subprocess.run(["bash", "-c", step]).returncode != 0:
        sys.exit(f"README.md command failed: {step}")


def main() -> None:
    options = sys.argv[1:]
    timings = Timings(options[1] if options[:1] == ["--timings"] else None)
    readme = Path("README.md").read_text()
    steps = [line for section in SECTIONS for line in commands(readme, section)]
    for required in REQUIRED:
        if not any(required in step for step in steps):
            sys.exit(f"README.md does not say to run `{required}`")
    for step in steps:
        if step.startswith("git init") and Path(".git").exists():
            # "once": the project under test is in git already.
            print(f"readme_check: skipped (a git repository already): {step}", flush=True)
        elif step.startswith(LEFT_TO_THE_CALLER):
            print(f"readme_check: skipped (the caller's database): {step}", flush=True)
        elif "uvicorn app.main:app" in step:
            timings.run(step, serve_and_check)
        else:
            timings.run(step, run_step)


if __name__ == "__main__":
    main()
