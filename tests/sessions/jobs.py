"""Commands run as the steps of a proof: timed, logged, and sharing the cores.

Every step of a variant's check runs through `run()`. A step that keeps a core
busy (pytest, mypy, copier, alembic) first takes one of `os.cpu_count()` core
slots, so a session may start many steps at once without overloading the
machine. A step that mostly waits on a served app or the database (the live
checks) takes one of as many server slots instead and runs beside them, at a
lower CPU priority. Steps on the critical path (`critical_path()`: the
scripted team's long chain of short steps) take a free slot before the others
waiting. Each step's wall time and CPU time (its command's and everything that command
waited for) go to the run's timing record (timings.py).
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from . import timings

CPU_COUNT = os.cpu_count() or 1
# Steps in a server slot run at a lower CPU priority: they use what the busy
# steps leave, and a test suite's timing tests (a writer's turn within 0.3 s)
# keep the core they hold, as on a machine with one other suite beside them.
NICE = ["nice", "-n", "5"] if shutil.which("nice") else []
# Where the tests put their temporary files (their SQLite databases among them):
# in memory where the machine has it, so that a commit's fsync does not wait
# behind the disk writes of the steps beside it (environments, clones, copies).
SCRATCH = Path("/dev/shm") if Path("/dev/shm").is_dir() else Path(tempfile.gettempdir())
# How much of a failed step's output is shown (all of it is in its log file).
FAILURE_TAIL = 12_000

Log = Callable[[str], None]


class StepFailed(Exception):
    """A step that exited non-zero, with what it printed."""

    def __init__(self, label: str, returncode: int, output: str, log_file: Path) -> None:
        super().__init__(
            f"{label}: exited {returncode} (whole output in {log_file}):\n"
            f"{output[-FAILURE_TAIL:]}"
        )
        self.label = label


class Slots:
    """`count` slots, given to the steps waiting for one by priority (the
    critical path first), then in the order they came."""

    def __init__(self, count: int) -> None:
        self._free = count
        self._waiting: list[tuple[int, int]] = []
        self._arrivals = itertools.count()
        self._changed = threading.Condition()

    @contextlib.contextmanager
    def taken(self) -> Iterator[None]:
        me = (0 if getattr(_thread, "critical", False) else 1, next(self._arrivals))
        with self._changed:
            heapq.heappush(self._waiting, me)
            self._changed.wait_for(lambda: self._free > 0 and self._waiting[0] == me)
            heapq.heappop(self._waiting)
            self._free -= 1
            # A slot may be left for the next in line.
            self._changed.notify_all()
        try:
            yield
        finally:
            with self._changed:
                self._free += 1
                self._changed.notify_all()


CORES = Slots(CPU_COUNT)
SERVERS = Slots(CPU_COUNT)
_thread = threading.local()


@contextlib.contextmanager
def critical_path() -> Iterator[None]:
    """The steps this thread runs meanwhile go first: a chain of many short
    steps, each waiting its turn behind long ones, would end the run alone.
    (Work it hands to other threads, such as its checks, waits as usual.)"""
    _thread.critical = True
    try:
        yield
    finally:
        _thread.critical = False


@contextlib.contextmanager
def slot(kind: str) -> Iterator[None]:
    """A core slot ("core"), a server slot ("server"), or none ("none")."""
    slots = {"core": CORES, "server": SERVERS}.get(kind)
    if slots is None:
        yield
        return
    with slots.taken():
        yield


class Steps:
    """The steps of one variant's check (or any other named unit): each command
    is run, timed under `unit`, and its output kept in `logs`."""

    def __init__(self, unit: str, logs: Path, log: Log) -> None:
        self.unit = unit
        self.logs = logs
        self.log = log
        self._count = 0
        self._lock = threading.Lock()

    def run(
        self,
        label: str,
        command: list[str] | str,
        *,
        cwd: Path,
        env: Mapping[str, str] | None = None,
        uses: str = "core",
        record: bool = True,
    ) -> str:
        """Run `command` (a list, or a line for bash); its output, or StepFailed.
        `record=False` leaves the timing to the command (it records its own steps)."""
        with self._lock:
            self._count += 1
            log_file = self.logs / f"{self._count:02d}-{_file_name(label)}.log"
        argv = command if isinstance(command, list) else ["bash", "-c", command]
        if uses == "server":
            argv = [*NICE, *argv]
        with slot(uses), tempfile.TemporaryFile() as output:
            started = time.monotonic()
            process = subprocess.Popen(
                argv, cwd=cwd, env=dict(env) if env is not None else None,
                stdout=output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            )
            returncode, cpu = wait_with_usage(process)
            wall = time.monotonic() - started
            output.seek(0)
            text = output.read().decode(errors="replace")
        log_file.parent.mkdir(parents=True, exist_ok=True)
        log_file.write_text(f"$ {_shown(argv)}\n{text}")
        if record:
            timings.record(self.unit, label, wall, cpu, ok=returncode == 0)
        if returncode != 0:
            self.log(f"{self.unit}: FAILED {label} ({wall:.1f} s)")
            raise StepFailed(f"{self.unit}: {label}", returncode, text, log_file)
        self.log(f"{self.unit}: {label} ({wall:.1f} s wall, {cpu:.1f} s CPU)")
        return text

    def timed(self, label: str, function: Callable[[], Any], uses: str = "core") -> Any:
        """Run a step written in Python (Copier's API, a file edit), timed."""
        with slot(uses):
            started, cpu_before = time.monotonic(), time.thread_time()
            try:
                result = function()
            except BaseException:
                timings.record(self.unit, label, time.monotonic() - started, 0, ok=False)
                raise
            wall = time.monotonic() - started
            cpu = time.thread_time() - cpu_before
        timings.record(self.unit, label, wall, cpu, ok=True)
        self.log(f"{self.unit}: {label} ({wall:.1f} s)")
        return result


@contextlib.contextmanager
def scratch(name: str) -> Iterator[Path]:
    """A directory of its own for a step's temporary files, removed afterwards."""
    directory = Path(tempfile.mkdtemp(prefix=f"{_file_name(name)}-", dir=SCRATCH))
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def wait_with_usage(process: subprocess.Popen[bytes]) -> tuple[int, float]:
    """Wait for `process`; its exit code and the CPU seconds it and the
    processes it waited for used."""
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    return process.returncode, usage.ru_utime + usage.ru_stime


def in_parallel(*functions: Callable[[], Any]) -> list[Any]:
    """Call each function in a thread of its own; their results, once all are
    done, or the first failure (after all are done: nothing is left running)."""
    with ThreadPoolExecutor(max_workers=len(functions) or 1) as pool:
        futures = [pool.submit(function) for function in functions]
    return [future.result() for future in futures]


class Background:
    """Work started now and joined later: each `start()` runs in a thread;
    `join()` waits for all and raises the first failure."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=16)
        self._futures: list[Future[Any]] = []

    def start(self, function: Callable[[], Any]) -> None:
        self._futures.append(self._pool.submit(function))

    def join(self) -> None:
        self._pool.shutdown(wait=True)
        for future in self._futures:
            future.result()


def _file_name(label: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in label.lower()).strip("-")[:60]


def _shown(argv: list[str]) -> str:
    argv = argv[len(NICE):] if NICE and argv[: len(NICE)] == NICE else argv
    return argv[2] if argv[:2] == ["bash", "-c"] else " ".join(argv)
