"""Which ASGI server: the bare null app and opensmm on each candidate, measured side by side.

    python -m bench.http_servers [--servers uvicorn,granian,...] [--dbs sqlite,postgresql]
                                 [--actions status_one,balance] [--seconds 5] [--rounds 2]

Every server gets the same number of processes and the same wrk load as ``bench.run``
(``wrk -t2 -c64`` with form POSTs); the rounds interleave all targets and a target's best
round is kept. Each opensmm row is given as a ratio to the null app on the same server and to
the fastest null app of the run, with the server CPU per request beside it (the steadiest
number on a shared machine). The candidates are not opensmm's dependencies: those that are not
installed are skipped (``pip install granian hypercorn``). docs/performance.md has the table
and the choice made from it.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import loads
from bench.seed import add_orders, create_database, drop_database, scratch_dir, seed
from bench.servers import (
    ROOT,
    Server,
    opensmm_command,
    python_env,
    run_wrk,
    uvicorn_command,
    wrk_path,
)

BIN = Path(sys.executable).parent


def _granian(app: str, workers: int, *extra: str) -> list[str]:
    return [str(BIN / "granian"), "--interface", "asgi", "--host", "127.0.0.1",
            "--port", "{port}", "--workers", str(workers), "--loop", "uvloop", "--no-ws",
            "--http", "1", "--log-level", "warning", *extra, app]


def null_commands(workers: int) -> dict[str, tuple[str, list[str]]]:
    """Server name → (the module it needs, the command serving the null app)."""
    null = "bench.null_app:app"
    return {
        "uvicorn": ("uvicorn", uvicorn_command(null, workers)),
        # Granian's defaults (a runtime thread per process, its blocking threads).
        "granian": ("granian", _granian(null, workers)),
        # One runtime thread, the ASGI app without lifespan support: granian's leanest.
        "granian-st": ("granian", _granian(null, workers, "--runtime-mode", "st")),
        "granian-asginl": ("granian", [part if part != "asgi" else "asginl"
                                       for part in _granian(null, workers)]),
        "hypercorn": ("hypercorn", [str(BIN / "hypercorn"), "-w", str(workers), "-k", "uvloop",
                                    "-b", "127.0.0.1:{port}", "--log-level", "warning", null]),
    }


def opensmm_commands(workers: int) -> dict[str, list[str]]:
    """opensmm on the servers that can run it: ``opensmm serve`` (uvicorn, with opensmm's
    own protocol) and granian on the same app factory."""
    return {
        "uvicorn": opensmm_command(workers, ["--no-worker"]),
        # The same app on uvicorn as the null app gets it: without opensmm's protocol (the
        # h2c offers read, the deadlines on a request's head and body), to see its cost.
        "uvicorn-plain": [*uvicorn_command("opensmm.app:create_app", workers), "--factory"],
        "granian": _granian("opensmm.app:create_app", workers, "--factory"),
    }


def installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--servers", default="uvicorn,granian,granian-st,granian-asginl,hypercorn")
    parser.add_argument("--opensmm-servers", default="uvicorn,granian")
    parser.add_argument("--dbs", default="sqlite,postgresql")
    parser.add_argument("--actions", default="status_one,balance,services,status_100")
    parser.add_argument("--env", action="append", default=[], metavar="OPENSMM_X=V",
                        help="a setting of every opensmm server (OPENSMM_DB_THREADS=8 keeps "
                             "two opensmm per database under PostgreSQL's max_connections)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--out", type=Path,
                        default=ROOT / "bench" / "results" / "http-servers.json")
    args = parser.parse_args(argv)
    wrk_path()
    workdir = scratch_dir()
    rng = random.Random(1)
    targets: list[dict[str, Any]] = []
    nulls = null_commands(args.workers)
    for name in args.servers.split(","):
        module, command = nulls[name]
        if not installed(module):
            print(f"skipped {name}: {module} is not installed", flush=True)
            continue
        targets.append({"server": name, "app": "null", "db": "", "seeded": None,
                        "process": Server(f"null-{name}", command, python_env())})
    seeded = {}
    for kind in [db for db in args.dbs.split(",") if db]:
        url = create_database(kind, workdir, role="servers")
        seeded[kind] = seed(kind, url)
        add_orders(seeded[kind], 10_000)
        env = {"OPENSMM_DATABASE_URL": url, "OPENSMM_RATE_LIMIT_PER_KEY": "1000000000",
               "OPENSMM_RATE_LIMIT_PER_IP": "1000000000",
               # What `opensmm serve` sets for several processes; granian needs it given.
               "PROMETHEUS_MULTIPROC_DIR": tempfile.mkdtemp(prefix="bench-metrics-"),
               **dict(item.split("=", 1) for item in args.env)}
        for name, command in opensmm_commands(args.workers).items():
            if name in args.opensmm_servers.split(",") and installed(name.split("-")[0]):
                targets.append({"server": name, "app": "opensmm", "db": kind,
                                "seeded": seeded[kind],
                                "process": Server(f"opensmm-{name}-{kind}", command,
                                                  python_env(source=None, **env))})
    runs: list[dict[str, Any]] = []
    try:
        for target in targets:
            actions = args.actions.split(",") if target["seeded"] else ["null"]
            target["bodies"] = {
                action: loads.write_bodies(
                    workdir / f"{target['process'].name}-{action}.txt",
                    loads.bodies(action, target["seeded"], rng))
                for action in actions
            }
            ready = loads.bodies("balance", target["seeded"], rng)[0] if target["seeded"] \
                else target["bodies"]["null"].read_text().splitlines()[0]
            target["process"].start(workdir, ready)
            for bodies in target["bodies"].values():  # warm-up
                run_wrk(target["process"].url, bodies, seconds=1, threads=2, connections=64)
                target["process"].wait_idle()
        for round_no in range(args.rounds):
            for action in ["null", *args.actions.split(",")]:
                for target in targets:
                    if action not in target["bodies"]:
                        continue
                    server = target["process"]
                    cpu = server.cpu_seconds()
                    result = run_wrk(server.url, target["bodies"][action],
                                     seconds=args.seconds, threads=2, connections=64)
                    server.wait_idle()
                    if result["errors"]:
                        raise RuntimeError(f"{server.name} {action}: {result['error_detail']}")
                    result["cpu_us_per_request"] = round(
                        (server.cpu_seconds() - cpu) / max(1, result["requests"]) * 1e6, 1)
                    runs.append({"server": target["server"], "app": target["app"],
                                 "db": target["db"], "action": action, "round": round_no,
                                 **result})
                    print(f"{target['server']:15} {target['app']:8} {target['db']:10} "
                          f"{action:11} {result['rps']:9.0f} rps  p99 {result['p99_ms']:7.2f} ms"
                          f"  {result['cpu_us_per_request']:6.1f} us CPU", flush=True)
    finally:
        for target in targets:
            target["process"].stop()
        for item in seeded.values():
            drop_database(item.url)
        shutil.rmtree(workdir, ignore_errors=True)
    table = summary(runs)
    report = {"when": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "load_average": os.getloadavg(),
              "workers": args.workers, "seconds": args.seconds, "rounds": args.rounds,
              "table": table, "runs": runs}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1))
    print(markdown(table, os.getloadavg()))
    return 0


def summary(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each target's best round, with its ratios to the null apps."""
    best: dict[tuple[str, str, str, str], dict[str, Any]] = {}
    for run in runs:
        key = (run["server"], run["app"], run["db"], run["action"])
        if key not in best or run["rps"] > best[key]["rps"]:
            best[key] = run
    null_rps = {k[0]: v["rps"] for k, v in best.items() if k[1] == "null"}
    fastest = max(null_rps.values(), default=0)
    rows = []
    for (server, app, db, action), run in best.items():
        cpu = min(r["cpu_us_per_request"] for r in runs
                  if (r["server"], r["app"], r["db"], r["action"]) == (server, app, db, action))
        same = null_rps.get(server.split("-")[0] if app == "opensmm" else server)
        rows.append({
            "server": server, "app": app, "db": db, "action": action, "rps": run["rps"],
            "p99_ms": run["p99_ms"], "cpu_us": cpu,
            "x_null_same_server": round(run["rps"] / same, 3) if same else None,
            "x_fastest_null": round(run["rps"] / fastest, 3) if fastest else None,
        })
    return rows


def markdown(rows: list[dict[str, Any]], load: tuple[float, float, float]) -> str:
    lines = [f"load average at the end: {', '.join(f'{x:.1f}' for x in load)}", "",
             "| server | app | database | action | req/s | × null (same server) "
             "| × fastest null | p99 ms | CPU µs/req |",
             "| --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: |"]
    for row in rows:
        lines.append(
            f"| {row['server']} | {row['app']} | {row['db'] or '–'} | {row['action']} "
            f"| {row['rps']:,.0f} | {row['x_null_same_server']} | {row['x_fastest_null']} "
            f"| {row['p99_ms']} | {row['cpu_us']} |")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
