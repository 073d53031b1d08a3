"""Where a variant's time goes under load: py-spy samples its one uvicorn worker
while wrk drives one workload. Used by run.py (`nox -s bench -- --profile`).

The variant is rendered, migrated, served as its image serves it and seeded as
for the benchmark. Two recordings of the same load: one a flame graph
(docs/profile-VARIANT-WORKLOAD.svg), one the raw stacks, from which come the
frames that hold the most samples and the share of samples by layer: the layer
of the innermost frame that belongs to a known package, so "SQLAlchemy" is the
time spent in SQLAlchemy's own code, not in the driver it calls.

Then what each middleware costs: the variant again with it taken out of
app/main.py, on the same database, in rounds interleaved with the variant as
rendered.
"""

from __future__ import annotations

import asyncio
import random
import re
import statistics
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

from apps import (
    CONNECTIONS,
    DOCS,
    App,
    create_database,
    create_schema,
    log,
    render,
    seed,
    start,
    stop,
)
from load import run_wrk, write_script

# (layer, what its frames' file paths contain), tried in order; the first match
# names the layer of a frame.
LAYERS = [
    ("the app's own code", ("/app/",)),
    ("SQLAlchemy", ("/sqlalchemy/",)),
    ("SQLModel", ("/sqlmodel/",)),
    ("databases", ("/databases/",)),
    ("driver (asyncpg, aiosqlite)", ("/asyncpg/", "/aiosqlite/", "sqlite3")),
    ("pydantic", ("/pydantic/", "/pydantic_core/")),
    ("FastAPI", ("/fastapi/",)),
    ("Starlette", ("/starlette/",)),
    ("uvicorn and its HTTP parser", ("/uvicorn/", "/httptools/", "/h11/")),
    ("event loop (uvloop, asyncio)", ("/uvloop/", "/asyncio/", "uvloop")),
    ("PyJWT", ("/jwt/",)),
    ("logging", ("/logging/",)),
    ("JSON", ("/json/",)),
]
OTHER = "other (standard library, anyio, ...)"
# A frame in py-spy's raw output: "function (path/to/file.py:line)".
FRAME = re.compile(r"^(?P<function>.*) \((?P<file>[^:()]*)(?::\d+)?\)$")
TOP_FRAMES = 15
# py-spy's samples a second.
RATE = 200
# The lines of app/main.py that add each middleware.
MIDDLEWARES = {
    "ResponseHeaders (request id, security headers)": "    app.add_middleware(ResponseHeaders)\n",
    "AccessLog (its lines off, as in every bench run)": "    app.add_middleware(AccessLog)\n",
    "BodySizeLimit": "    app.add_middleware(BodySizeLimit, "
    "max_body_size=settings.max_request_body_bytes)\n",
}
# Enough for a median that a 5 % difference shows through this machine's noise.
LAYER_ROUNDS = 9
LAYER_SECONDS = 4


def layer_of(file: str) -> str | None:
    for layer, fragments in LAYERS:
        if any(fragment in file for fragment in fragments):
            return layer
    return None


def summarise_stacks(raw: str) -> tuple[Counter[str], Counter[str], int]:
    """From py-spy's raw (collapsed) stacks: samples by layer, samples by
    innermost frame, and all samples."""
    layers: Counter[str] = Counter()
    frames: Counter[str] = Counter()
    total = 0
    for line in raw.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        parsed = [FRAME.match(frame) for frame in stack.split(";")]
        innermost = parsed[-1]
        if innermost is not None:
            name = Path(innermost["file"]).name
            frames[f"{innermost['function']} ({name})"] += count
        layer = next(
            (found for match in reversed(parsed)
             if match is not None and (found := layer_of(match["file"])) is not None),
            OTHER,
        )
        layers[layer] += count
    return layers, frames, total


def report(app: App, workload: str, raw: str) -> str:
    layers, frames, total = summarise_stacks(raw)
    lines = [
        f"{total:,} samples of `{app.name}` under `{workload}` load.",
        "",
        "| layer (innermost frame) | share of samples |",
        "|---|--:|",
        *(f"| {layer} | {count / total:.1%} |" for layer, count in layers.most_common()),
        "",
        "| innermost frame | share of samples |",
        "|---|--:|",
        *(f"| `{frame}` | {count / total:.1%} |"
          for frame, count in frames.most_common(TOP_FRAMES)),
    ]
    return "\n".join(lines)


def record(app: App, script: Path, seconds: float, output: Path, form: str) -> None:
    """py-spy samples the app while wrk drives `script` for `seconds`."""
    assert app.process is not None
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    sampler = subprocess.Popen(
        [py_spy, "record", "--pid", str(app.process.pid), "--rate", str(RATE),
         "--format", form, "--output", str(output), "--nonblocking",
         # Whole paths: a frame's layer is read from them.
         *(["--full-filenames"] if form == "raw" else []),
         "--duration", str(int(seconds) + 1)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    run_wrk(app, script, seconds)
    _, error = sampler.communicate(timeout=60)
    if sampler.returncode != 0 or not output.exists():
        raise SystemExit(f"bench: py-spy failed:\n{error.decode(errors='replace')}")


def without(app: App, removed: list[str], number: int) -> App:
    """A copy of the variant's render with the lines `removed` from app/main.py,
    on its database and environment."""
    assert app.directory is not None
    directory = app.directory.parent / f"{app.name}-without-{number}"
    shutil.rmtree(directory, ignore_errors=True)
    shutil.copytree(app.directory, directory, symlinks=True,
                    ignore=shutil.ignore_patterns(".venv"))
    (directory / ".venv").symlink_to(app.directory / ".venv")
    main = directory / "app/main.py"
    text = main.read_text()
    for line in removed:
        if line not in text:
            raise SystemExit(f"bench: app/main.py no longer has {line.strip()!r}")
        text = text.replace(line, "")
    main.write_text(text)
    return App(
        directory.name, app.driver, app.jwt, "variant", directory=directory,
        database_url=app.database_url, item_ids=app.item_ids, token=app.token,
        owner_id=app.owner_id,
    )


def layer_costs(app: App, workload: str, scripts: Path) -> str:
    """req/s of the variant and of each copy without a middleware (or all)."""
    removals = {name: [line] for name, line in MIDDLEWARES.items()}
    removals["all three"] = list(MIDDLEWARES.values())
    twins = {
        name: without(app, lines, number)
        for number, (name, lines) in enumerate(removals.items(), 1)
    }
    apps = [app, *twins.values()]
    rps: dict[str, list[float]] = {each.name: [] for each in apps}
    try:
        for twin in twins.values():
            start(twin)
        scripts_of = {each.name: write_script(each, workload, scripts) for each in apps}
        shuffler = random.Random(8)
        for number in range(1, LAYER_ROUNDS + 1):
            shuffler.shuffle(apps)
            for each in apps:
                sample = run_wrk(each, scripts_of[each.name], LAYER_SECONDS)
                rps[each.name].append(sample.rps)
            log(f"layer costs: round {number}/{LAYER_ROUNDS} done")
    finally:
        for twin in twins.values():
            stop(twin)
    rendered = statistics.median(rps[app.name])
    lines = [
        f"What each middleware costs `{app.name}` under `{workload}` load: median "
        f"req/s of {LAYER_ROUNDS} interleaved rounds of {LAYER_SECONDS} s, the "
        "variant as rendered and copies of it with middleware taken out.",
        "",
        "| served | req/s (median) | lowest–highest round | × as rendered |",
        "|---|--:|--:|--:|",
    ]
    for name, each in [("as rendered", app), *((f"without {n}", t) for n, t in twins.items())]:
        runs = rps[each.name]
        median = statistics.median(runs)
        lines.append(
            f"| {name} | {median:,.0f} | {min(runs):,.0f}–{max(runs):,.0f} "
            f"| {median / rendered:.2f}× |"
        )
    return "\n".join(lines)


def profile(
    variant: str, workload: str, seconds: float, postgres: str, workdir: Path,
    graphs: Path = DOCS,
) -> str:
    """The profile's section of docs/benchmarks.md; its flame graph goes to `graphs`."""
    orm, driver, jwt = variant.split("-")
    app = App(variant, driver, jwt == "jwt", "variant")
    app.directory = render(app, workdir)
    if driver == "asyncpg":
        name = "profile_" + variant.replace("-", "_")
        app.database_url = asyncio.run(create_database(postgres, name))
    else:
        app.database_url = f"sqlite+aiosqlite:///{app.directory / 'profile.db'}"
    create_schema(app)
    start(app)
    try:
        asyncio.run(seed(app))
        scripts = workdir / "scripts"
        scripts.mkdir(exist_ok=True)
        script = write_script(app, workload, scripts)
        # Warm: the first requests build FastAPI's models and SQLAlchemy's caches.
        run_wrk(app, script, 2)
        graph = graphs / f"profile-{variant}-{workload}.svg"
        record(app, script, seconds, graph, "flamegraph")
        raw = workdir / f"profile-{variant}-{workload}.txt"
        record(app, script, seconds, raw, "raw")
        costs = layer_costs(app, workload, scripts)
    finally:
        stop(app)
    log(f"flame graph: {graph}")
    return "\n\n".join([
        f"`nox -s bench -- --profile {variant} --workload {workload}`: py-spy "
        f"({RATE} samples a second) on the one uvicorn worker while wrk drives it at "
        f"{CONNECTIONS} connections for {seconds:g} s. [Flame graph]({graph.name}).",
        report(app, workload, raw.read_text()),
        costs,
    ])
