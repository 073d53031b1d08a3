"""wrk against the apps: its Lua scripts, its samples, and rounds interleaved
across apps so that machine noise hits all of them alike. Used by run.py."""

from __future__ import annotations

import json
import math
import random
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from apps import App, CONNECTIONS, WORKLOADS, log, trim


# --- wrk -----------------------------------------------------------------------


def lua_string(text: str) -> str:
    return json.dumps(text)  # a JSON string is a valid Lua string literal here


def write_script(app: App, workload: str, directory: Path) -> Path:
    headers = ['["Content-Type"] = "application/json"']
    if app.jwt:
        headers.append(f'["Authorization"] = {lua_string("Bearer " + app.token)}')
    lines = [f"local headers = {{{', '.join(headers)}}}"]
    if workload == "get":
        lines.append(f"local ids = {{{','.join(map(str, app.item_ids))}}}")
        lines.append(
            "request = function()\n"
            '  return wrk.format("GET", "/api/v1/items/" .. ids[math.random(#ids)], headers)\n'
            "end"
        )
    elif workload == "list":
        lines.append(
            "request = function()\n"
            '  return wrk.format("GET", "/api/v1/items?limit=50", headers)\n'
            "end"
        )
    else:
        body = {"title": "Benchmark item", "description": "Made by wrk"}
        if not app.jwt:
            body["owner_id"] = app.owner_id
        lines.append(f"local body = {lua_string(json.dumps(body))}")
        lines.append(
            "request = function()\n"
            '  return wrk.format("POST", "/api/v1/items", headers, body)\n'
            "end"
        )
    script = directory / f"{app.name}-{workload}.lua"
    script.write_text("\n".join(lines) + "\n")
    return script


@dataclass
class Sample:
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int


UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def parse_latency(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if match is None:
        raise ValueError(f"unreadable latency {text!r}")
    return float(match[1]) * UNITS_MS[match[2]]


def run_wrk(app: App, script: Path, seconds: float) -> Sample:
    output = subprocess.run(
        [
            "wrk", "-t2", f"-c{CONNECTIONS}", f"-d{seconds:g}s", "--latency",
            "-s", str(script), app.url,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output)[1])  # type: ignore[index]
    # wrk pads a latency of a second or more ("1.09s ") with a trailing space.
    percentiles = dict(re.findall(r"^\s+(50|99)%\s+(\S+)\s*$", output, re.MULTILINE))
    if set(percentiles) != {"50", "99"}:
        # No request finished: report it rather than lose the whole run.
        log(f"{app.name}: wrk measured no latency:\n{output}")
        return Sample(rps, math.nan, math.nan, max(1, int(rps * seconds)))
    errors = 0
    if found := re.search(r"Non-2xx or 3xx responses: (\d+)", output):
        errors += int(found[1])
    if found := re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output):
        errors += sum(int(number) for number in found.groups())
    return Sample(
        rps, parse_latency(percentiles["50"]), parse_latency(percentiles["99"]), errors
    )


def measure(
    apps: list[App], rounds: int, seconds: float, warmup: float, scripts: Path
) -> dict[tuple[str, str], list[Sample]]:
    samples: dict[tuple[str, str], list[Sample]] = {}
    shuffler = random.Random(8)
    for app in apps:
        for workload in WORKLOADS:
            write_script(app, workload, scripts)
    if warmup:
        log(f"warming up {len(apps)} apps")
        for app in apps:
            for workload in WORKLOADS:
                run_wrk(app, scripts / f"{app.name}-{workload}.lua", warmup)
                if workload == "create":
                    trim(app)
    for number in range(1, rounds + 1):
        for workload in WORKLOADS:
            order = apps[:]
            shuffler.shuffle(order)
            for app in order:
                sample = run_wrk(app, scripts / f"{app.name}-{workload}.lua", seconds)
                samples.setdefault((app.name, workload), []).append(sample)
                if workload == "create":
                    trim(app)
            log(f"round {number}/{rounds}: {workload} done")
    return samples
