"""The run's timing record, and the tables made from it.

Every step of a nox run (jobs.py) and every session (noxfile.py) adds a line to
.nox/timings/last.jsonl, which a new run starts afresh. From that record:

- the table of sessions that closes every nox run;
- the per-step table of docs/testing.md, which `nox -s timings` (or
  `python tests/sessions/timings.py`) writes from the last run's record.
"""

from __future__ import annotations

import json
import os
import re
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).parent.parent.parent
RECORD = ROOT / ".nox" / "timings" / "last.jsonl"
DOCS = ROOT / "docs" / "testing.md"
TABLE_START = "<!-- per-step timings: start -->"
TABLE_END = "<!-- per-step timings: end -->"
SESSIONS = "nox session"

_lock = threading.Lock()
_started = False


def record(unit: str, step: str, wall: float, cpu: float, ok: bool = True) -> None:
    """One step's times; the first record of a run replaces the last run's."""
    global _started
    line = {"unit": unit, "step": step, "wall": round(wall, 2), "cpu": round(cpu, 2),
            "ok": ok, "at": round(time.time(), 1)}
    with _lock:
        if not _started:
            RECORD.parent.mkdir(parents=True, exist_ok=True)
            RECORD.write_text("")
            _started = True
        with RECORD.open("a") as file:
            file.write(json.dumps(line) + "\n")


def read(path: Path = RECORD) -> list[dict[str, object]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line]


def machine_times() -> tuple[float, float] | None:
    """Busy and idle seconds of all cores since boot (Linux), or None."""
    try:
        fields = [float(x) for x in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    except (OSError, ValueError):
        return None
    ticks = os.sysconf("SC_CLK_TCK")
    idle = fields[3] + fields[4]  # idle, iowait
    return (sum(fields) - idle) / ticks, idle / ticks


def busy_share(since: tuple[float, float] | None) -> str:
    """How busy the cores were since `since`, e.g. "93% of 2 cores"."""
    now = machine_times()
    if since is None or now is None:
        return ""
    busy, idle = now[0] - since[0], now[1] - since[1]
    return f"{100 * busy / max(busy + idle, 1e-9):.0f}% of {os.cpu_count()} cores busy"


def sessions_table(total: float, busy: str = "") -> str:
    """Every session of this run with its wall time and result, then the total;
    empty if no session ran."""
    rows = [line for line in read() if line["unit"] == SESSIONS] if _started else []
    if not rows:
        return ""
    width = max([len(str(row["step"])) for row in rows] + [len("total")])
    lines = [f"{'session':<{width}}  {'result':<7}  wall", f"{'-' * width}  -------  ------"]
    for row in rows:
        result = "passed" if row["ok"] else "FAILED"
        lines.append(f"{row['step']!s:<{width}}  {result:<7}  {row['wall']:6.0f} s")
    lines.append(f"{'total':<{width}}  {'':<7}  {total:6.0f} s  {busy}")
    return "\n".join(lines)


# The columns of the docs' table: each ORM style with and without JWT, and
# both drivers (a run of fewer variants shows the ones it has).
SHOWN = (
    "sqlalchemy-asyncpg-jwt", "sqlalchemy-aiosqlite-nojwt", "sqlmodel-asyncpg-nojwt",
    "sqlmodel-aiosqlite-jwt", "databases-asyncpg-jwt", "databases-aiosqlite-nojwt",
)


def step_table(lines: list[dict[str, object]]) -> str:
    """Markdown: a row per step, a column per variant, wall seconds (CPU seconds)."""
    units = list(dict.fromkeys(
        str(line["unit"]) for line in lines if line["unit"] != SESSIONS
    ))
    units = [unit for unit in SHOWN if unit in units] or units
    lines = [line for line in lines if line["unit"] in units or line["unit"] == SESSIONS]
    cells: dict[str, dict[str, list[tuple[float, float]]]] = defaultdict(
        lambda: defaultdict(list)
    )
    for line in lines:
        if line["unit"] != SESSIONS:
            cells[_generic(str(line["step"]))][str(line["unit"])].append(
                (float(line["wall"]), float(line["cpu"]))  # type: ignore[arg-type]
            )
    order = list(cells)
    cells = dict(sorted(
        cells.items(),
        key=lambda item: (_strand(item[0]), _check(item[0]), order.index(item[0])),
    ))
    header = "| step | " + " | ".join(f"`{unit}`" for unit in units) + " |"
    rule = "|---|" + "---:|" * len(units)
    rows = [header, rule]
    for step, by_unit in cells.items():
        if all(sum(w for w, _ in times) < 0.05 for times in by_unit.values()):
            continue  # a git commit, a copy: nothing worth a row
        row = [step]
        for unit in units:
            times = by_unit.get(unit)
            row.append(
                f"{sum(w for w, _ in times):.1f} ({sum(c for _, c in times):.1f})"
                if times else ""
            )
        rows.append("| " + " | ".join(row) + " |")
    totals = ["**CPU, all steps**"]
    for unit in units:
        cpu = sum(float(line["cpu"]) for line in lines if line["unit"] == unit)  # type: ignore[arg-type]
        totals.append(f"{cpu:.0f}")
    rows.append("| " + " | ".join(totals) + " |")
    return "\n".join(rows)


# Rows in the order a variant's check runs its strands: (prefix, rank), the
# first matching prefix wins.
STRANDS = (
    ("render the release", 0), ("uv sync", 1), ("README:", 2), ("live:", 3),
    ("team: check", 5), ("team:", 4),
)


def _strand(step: str) -> int:
    return next((rank for prefix, rank in STRANDS if step.startswith(prefix)), 6)


def _check(step: str) -> int:
    """The number of a team check ("team: check 2: pytest"), 0 for other steps:
    a check's rows stay together although the variants' checks interleave."""
    match = re.match(r"team: check (\d+):", step)
    return int(match.group(1)) if match else 0


def _generic(step: str) -> str:
    """A step's name without what differs by variant (answers in updates)."""
    return re.sub(r"\b(jwt|driver)=\w+", r"\1=…", step)


def write_docs(lines: list[dict[str, object]]) -> None:
    """Replace the per-step table in docs/testing.md with this record's."""
    text = DOCS.read_text()
    sessions = [line for line in lines if line["unit"] == SESSIONS]
    summary = ", ".join(f"`{s['step']}` {float(s['wall']):.0f} s" for s in sessions)  # type: ignore[arg-type]
    block = (
        f"{TABLE_START}\n{step_table(lines)}\n\nSessions of that run: {summary}.\n{TABLE_END}"
    )
    pattern = re.compile(re.escape(TABLE_START) + ".*?" + re.escape(TABLE_END), re.S)
    if not pattern.search(text):
        sys.exit(f"{DOCS}: no '{TABLE_START}' ... '{TABLE_END}' markers")
    DOCS.write_text(pattern.sub(lambda _: block, text))


if __name__ == "__main__":  # python tests/sessions/timings.py [RECORD]
    source = Path(sys.argv[1]) if sys.argv[1:] else RECORD
    record_lines = read(source)
    if not any(line["unit"] != SESSIONS for line in record_lines):
        sys.exit(f"{source}: no steps recorded; run a variant session first")
    write_docs(record_lines)
    print(f"Wrote the per-step table of {source} into {DOCS}")
