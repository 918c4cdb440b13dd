"""The benchmark: ``python -m bench.run [--quick | --smoke]`` (docs/performance.md).

One run starts, with the same ASGI server and the same number of processes:
- ``null``: a bare ASGI callable (bench/null_app.py), the limit of the stack;
- ``starlette`` (and ``fastapi`` outside smoke mode): the same null endpoint in a framework;
- ``opensmm`` on SQLite and on PostgreSQL, each on a seeded database;
then drives each with wrk (same threads, connections and seconds), in rounds that
interleave the targets so that the noise of a shared machine falls on all of them alike,
and keeps each target's best round. Ratios to the null app measured in the same run are
what to read; absolute numbers depend on the machine and what else it is doing.

``--compare-src`` (a directory holding an ``opensmm`` package, or a git ref) adds a second
opensmm per database, to measure a change before and after in the same run.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from bench import loads, report
from bench.seed import Seeded, add_orders, create_database, drop_database, scratch_dir, seed
from bench.servers import (
    ROOT,
    MemorySampler,
    Server,
    opensmm_command,
    python_env,
    run_wrk,
    uvicorn_command,
    wrk_path,
)

DBS = ("sqlite", "postgresql")


@dataclass(frozen=True)
class Mode:
    name: str
    seconds: int  # per wrk run
    rounds: int
    warmup: int  # seconds of load before the first measurement of each target
    orders_small: int
    orders_large: int
    customers: int
    frameworks: tuple[str, ...]
    worker_orders: int


MODES = {
    "smoke": Mode("smoke", 1, 1, 0, 2_000, 4_000, 20, ("starlette",), 200),
    "quick": Mode("quick", 2, 1, 1, 10_000, 200_000, 100, ("starlette", "fastapi"), 2_000),
    "full": Mode("full", 5, 2, 1, 10_000, 1_000_000, 100, ("starlette", "fastapi"), 10_000),
}
FRAMEWORK_APPS = {"starlette": "bench.null_starlette:app", "fastapi": "bench.null_fastapi:app"}


@dataclass
class Target:
    name: str  # "null", "starlette", "opensmm", "opensmm@before"
    db: str  # "" for the null apps
    server: Server
    seeded: Seeded | None = None
    bodies: dict[str, Path] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"{self.name}/{self.db}" if self.db else self.name


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.mode = MODES[args.mode]
        if args.large:
            self.mode = dataclasses.replace(self.mode, orders_large=args.large)
        self.workdir = scratch_dir()
        self.rng = random.Random(args.seed)
        self.targets: list[Target] = []
        self.seeded: dict[str, Seeded] = {}
        self.runs: list[dict[str, Any]] = []
        self.memory: dict[str, Any] = {}
        self.scale: list[dict[str, Any]] = []
        self.profiles: dict[str, Any] = {}
        self.warmups: list[dict[str, Any]] = []
        self.add_check: dict[str, Any] = {}
        self.started = time.monotonic()

    # --- output ----------------------------------------------------------------
    def say(self, text: str) -> None:
        print(f"[{time.monotonic() - self.started:6.1f}s] {text}", flush=True)

    # --- set-up ----------------------------------------------------------------
    def seed_databases(self) -> None:
        for kind in self.args.dbs:
            url = create_database(kind, self.workdir)
            seeded = seed(kind, url, customers=self.mode.customers)
            seconds = add_orders(seeded, self.mode.orders_small)
            seeded.seconds[f"orders_{self.mode.orders_small}"] = round(seconds, 2)
            self.seeded[kind] = seeded
            self.say(f"seeded {kind}: {seeded.orders} orders in {seconds:.1f}s")

    def compare_source(self) -> Path | None:
        source = self.args.compare_src
        if not source:
            return None
        path = Path(source)
        if (path / "opensmm" / "__init__.py").exists():
            return path.resolve()
        # A git ref: extract its opensmm package (read-only: git archive changes nothing).
        target = self.workdir / "compare-src"
        target.mkdir()
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", source, "opensmm"],
                                 capture_output=True, check=True)
        subprocess.run(["tar", "-x", "-C", str(target)], input=archive.stdout, check=True)
        return target

    def build_targets(self) -> None:
        workers = self.args.workers
        self.targets.append(Target("null", "", Server(
            "null", uvicorn_command("bench.null_app:app", workers), python_env())))
        for name in self.mode.frameworks:
            self.targets.append(Target(name, "", Server(
                name, uvicorn_command(FRAMEWORK_APPS[name], workers), python_env())))
        compare = self.compare_source()
        compare_workers = self.args.compare_workers or workers
        comparing = bool(compare or self.args.compare_env or self.args.compare_workers)
        if comparing and compare_workers != workers:
            self.targets.append(Target(f"null@{self.args.compare_label}", "", Server(
                f"null@{self.args.compare_label}",
                uvicorn_command("bench.null_app:app", compare_workers), python_env())))
        for kind, seeded in self.seeded.items():
            # Default settings otherwise (the access log's line per request included).
            env = {
                "OPENSMM_DATABASE_URL": seeded.url,
                # One key from one address: far above the default limits, which are for
                # runaway scripts. Their cost stays in: the limits are checked, never hit.
                "OPENSMM_RATE_LIMIT_PER_KEY": "1000000000",
                "OPENSMM_RATE_LIMIT_PER_IP": "1000000000",
                # --env: for both sides of a comparison (--compare-env: the compared only).
                **dict(item.split("=", 1) for item in self.args.env),
            }
            self.targets.append(Target("opensmm", kind, Server(
                f"opensmm-{kind}", opensmm_command(workers), python_env(**env)), seeded))
            if comparing:
                extra = dict(item.split("=", 1) for item in self.args.compare_env)
                label = self.args.compare_label
                self.targets.append(Target(f"opensmm@{label}", kind, Server(
                    f"opensmm@{label}-{kind}", opensmm_command(compare_workers),
                    python_env(source=compare, **env, **extra)), seeded))

    def actions_of(self, target: Target) -> list[str]:
        return list(self.args.actions) if target.seeded else ["null"]

    def write_bodies(self, target: Target) -> None:
        for action in self.actions_of(target):
            lines = loads.bodies(action, target.seeded, self.rng)
            path = self.workdir / f"bodies-{target.name}-{target.db}-{action}.txt"
            target.bodies[action] = loads.write_bodies(path, lines)

    def start_servers(self) -> None:
        for target in self.targets:
            self.write_bodies(target)
            first = next(iter(target.bodies.values())).read_text().splitlines()[0]
            ready = loads.bodies("balance", target.seeded, self.rng)[0] if target.seeded else first
            target.server.start(self.workdir, ready)
            self.say(f"started {target.label} on port {target.server.port} "
                     f"({len(target.server.processes())} processes)")

    def check_answers(self, target: Target) -> None:
        """A right answer for a sample of each body file, before any timing."""
        with httpx.Client(timeout=30) as client:
            for action, path in target.bodies.items():
                lines = path.read_text().splitlines()
                for body in lines[:3]:
                    response = client.post(target.server.url, content=body, headers={
                        "content-type": "application/x-www-form-urlencoded"})
                    answer = response.json()
                    ok = (response.status_code == 200 and response.headers["content-type"]
                          == "application/json")
                    if target.seeded:
                        ok = ok and loads.CHECKS[action](answer, body)
                    if not ok:
                        raise RuntimeError(
                            f"{target.label} {action}: wrong answer {str(answer)[:300]}")

    # --- measuring -------------------------------------------------------------
    def measure(
        self, target: Target, action: str, *, round_no: int, tag: str = ""
    ) -> dict[str, Any]:
        seconds = self.mode.seconds
        if round_no == 0 and self.mode.warmup and not tag:
            warm = run_wrk(target.server.url, target.bodies[action], seconds=self.mode.warmup,
                           threads=self.args.threads, connections=self.args.connections)
            target.server.wait_idle()
            self.warmups.append({"target": target.name, "db": target.db, "action": action,
                                 "requests": warm["requests"]})
        outcomes_before = target.server.outcomes() if target.seeded else {}
        cpu_before = target.server.cpu_seconds()
        with MemorySampler(target.server) as sampler:
            result = run_wrk(target.server.url, target.bodies[action], seconds=seconds,
                             threads=self.args.threads, connections=self.args.connections)
        drained = target.server.wait_idle()
        # CPU per request (what is left in flight is answered by now): far less sensitive
        # to what else the machine runs than requests per second.
        cpu = target.server.cpu_seconds() - cpu_before
        result["cpu_us_per_request"] = round(cpu / max(1, result["requests"]) * 1e6, 1)
        if target.seeded:
            # wrk sees HTTP 200 for every answer, refusals included: opensmm's own counters
            # say whether each request got the answer it should.
            after = target.server.outcomes()
            wrong = {k: v - outcomes_before.get(k, 0) for k, v in after.items()
                     if k != "ok" and v > outcomes_before.get(k, 0)}
            if after and wrong:
                # The server's own log (its errors), without the access log's lines.
                own = [line for line in target.server.log().splitlines()
                       if '"logger":"opensmm.access"' not in line]
                raise RuntimeError(f"{target.label} {action}: answers other than ok: {wrong}\n"
                                   + "\n".join(own)[-4000:])
            result["outcomes_checked"] = bool(after)
        row = {"target": target.name, "db": target.db, "action": action, "round": round_no,
               "orders": target.seeded.orders if target.seeded else None, "tag": tag,
               **result, "drain_seconds": round(drained, 2), "peak_memory": sampler.peak}
        if result["errors"]:
            raise RuntimeError(f"{target.label} {action}: wrk saw errors {result}\n"
                               f"{target.server.log()[-3000:]}")
        self.runs.append(row)
        self.say(f"{target.label:24} {action:11} {tag:6} {result['rps']:9.0f} rps  "
                 f"p50 {result['p50_ms']:6.2f} ms  p99 {result['p99_ms']:7.2f} ms")
        return row

    def rounds(self) -> None:
        nulls = [t for t in self.targets if not t.seeded]
        apps = [t for t in self.targets if t.seeded]
        for round_no in range(self.mode.rounds):
            for target in nulls:
                self.measure(target, "null", round_no=round_no)
            # Action by action, so that before/after and both databases run side by side.
            for action in self.args.actions:
                for target in apps:
                    self.measure(target, action, round_no=round_no)

    def check_adds(self) -> None:
        """Every ``add`` that wrk counted placed an order (a refusal is an HTTP 200 too)."""
        for kind, seeded in self.seeded.items():
            sent = sum(r["requests"] for r in [*self.runs, *self.warmups]
                       if r["db"] == kind and r["action"] in ("add", "add_many"))
            if not sent:
                continue
            placed = count_bench_orders(seeded.url)
            # wrk counts answered requests; those in flight at its deadline are placed too.
            self.add_check[kind] = {"answered": sent, "orders_placed": placed,
                                    "ok": placed >= sent}
            if placed < sent:
                raise RuntimeError(f"add on {kind}: {sent} answered, only {placed} orders "
                                   "placed: some adds were refused")

    def memory_reading(self, when: str) -> None:
        for target in self.targets:
            if target.seeded:
                self.memory.setdefault(target.label, {})[when] = target.server.memory_mb()

    def measure_scale(self) -> None:
        """The same status loads on a database grown from the small to the large size."""
        apps = [t for t in self.targets if t.seeded]
        actions = [a for a in ("status_one", "status_100") if a in self.args.actions]
        if not actions:
            return
        # The small size once more, right before growing: the two sizes are then measured
        # minutes apart at most, whatever the rest of the machine did earlier.
        for action in actions:
            for target in apps:
                self.measure(target, action, round_no=0, tag="small")
        small = {(t.name, t.db, a): self.best(t.name, t.db, a, tags=("", "small"))
                 for t in apps for a in actions}
        small_cpu = {(t.name, t.db, a): self.least_cpu(t.name, t.db, a, tags=("", "small"))
                     for t in apps for a in actions}
        for kind, seeded in self.seeded.items():
            grow = self.mode.orders_large - seeded.orders
            if grow > 0:
                seconds = add_orders(seeded, grow)
                seeded.seconds[f"orders_to_{seeded.orders}"] = round(seconds, 2)
                self.say(f"grew {kind} to {seeded.orders} orders in {seconds:.1f}s")
        for target in apps:
            self.write_bodies(target)
        for round_no in range(self.mode.rounds):
            for action in actions:
                for target in apps:
                    self.measure(target, action, round_no=round_no, tag="large")
        for target in apps:
            for action in actions:
                before = small[(target.name, target.db, action)]
                after = self.best(target.name, target.db, action, tags=("large",))
                cpu_after = self.least_cpu(target.name, target.db, action, tags=("large",))
                cpu_before = small_cpu[(target.name, target.db, action)]
                self.scale.append({
                    "target": target.name, "db": target.db, "action": action,
                    "orders_small": before["orders"], "orders_large": after["orders"],
                    "rps_small": before["rps"], "rps_large": after["rps"],
                    "p99_ms_small": before["p99_ms"], "p99_ms_large": after["p99_ms"],
                    "cpu_us_small": cpu_before, "cpu_us_large": cpu_after,
                    "ratio": round(after["rps"] / before["rps"], 3),
                    "cpu_ratio": round(cpu_before / cpu_after, 3),
                })

    def _rows(self, name: str, db: str, action: str, tags: tuple[str, ...]) -> list[Any]:
        return [r for r in self.runs if (r["target"], r["db"], r["action"]) == (name, db, action)
                and r["tag"] in tags]

    def best(self, name: str, db: str, action: str, tags: tuple[str, ...] = ("",)
             ) -> dict[str, Any]:
        """The round with the most requests per second (noise only ever slows a round)."""
        return max(self._rows(name, db, action, tags), key=lambda r: r["rps"])

    def least_cpu(self, name: str, db: str, action: str, tags: tuple[str, ...] = ("",)
                  ) -> float:
        return float(min(r["cpu_us_per_request"] for r in self._rows(name, db, action, tags)))

    def profile(self) -> None:
        """py-spy on each opensmm server under each load (an extra pass, not timed)."""
        from bench.profile import profile_target

        for target in self.targets:
            if target.name != "opensmm":
                continue
            for action in self.args.actions:
                self.profiles[f"{target.db}/{action}"] = profile_target(
                    self, target, action, self.workdir)
                self.say(f"profiled {target.label} {action}")

    # --- the whole run ---------------------------------------------------------
    def run(self) -> dict[str, Any]:
        wrk_path()
        self.say(f"mode {self.mode.name}, {self.args.workers} server process(es), "
                 f"wrk -t{self.args.threads} -c{self.args.connections} -d{self.mode.seconds}s, "
                 f"{self.mode.rounds} round(s)")
        try:
            self.seed_databases()
            self.build_targets()
            self.start_servers()
            time.sleep(1)
            self.memory_reading("idle")
            for target in self.targets:
                self.check_answers(target)
            self.rounds()
            self.memory_reading("after_load")
            self.check_adds()
            if self.args.scale:
                self.measure_scale()
            if self.args.profile:
                self.profile()
            worker = self.measure_worker()
        finally:
            for target in self.targets:
                target.server.stop()
            if not self.args.keep:
                for seeded in self.seeded.values():
                    drop_database(seeded.url)
                shutil.rmtree(self.workdir, ignore_errors=True)
        return self.results(worker)

    def measure_worker(self) -> dict[str, Any]:
        if not self.args.worker:
            return {"status": "skipped (--no-worker)"}
        from bench.worker import measure_worker

        return measure_worker(self)

    def results(self, worker: dict[str, Any]) -> dict[str, Any]:
        summary = []
        null = self.best("null", "", "null")
        for name, db, action in dict.fromkeys(
            (r["target"], r["db"], r["action"]) for r in self.runs if not r["tag"]
        ):
            best = self.best(name, db, action)
            base = null
            if "@" in name and any(r["target"] == f"null@{name.split('@')[1]}" for r in self.runs):
                base = self.best(f"null@{name.split('@')[1]}", "", "null")
            cpu = self.least_cpu(name, db, action)
            base_cpu = self.least_cpu(base["target"], "", "null")
            summary.append({
                "target": name, "db": db, "action": action, "orders": best["orders"],
                "rps": best["rps"], "p50_ms": best["p50_ms"], "p99_ms": best["p99_ms"],
                "ratio_to_null": round(best["rps"] / base["rps"], 3),
                "cpu_us_per_request": cpu,
                "cpu_ratio_to_null": round(base_cpu / cpu, 3) if cpu else None,
                "rounds_rps": [r["rps"] for r in self.runs
                               if (r["target"], r["db"], r["action"], r["tag"])
                               == (name, db, action, "")],
            })
        for target in self.targets:
            if target.seeded:
                peaks = [r["peak_memory"] for r in self.runs
                         if r["target"] == target.name and r["db"] == target.db
                         and r["peak_memory"]]
                if peaks:
                    self.memory[target.label]["under_load"] = max(
                        peaks, key=lambda p: p["rss_mb"])
        results = {
            "mode": self.mode.name,
            "finished": datetime.now(UTC).isoformat(timespec="seconds"),
            "seconds": round(time.monotonic() - self.started, 1),
            "command": "python -m bench.run" + ("" if self.mode.name == "full"
                                                 else f" --{self.mode.name}"),
            "settings": {
                "server": "uvicorn (httptools, uvloop)", "workers": self.args.workers,
                "wrk": f"-t{self.args.threads} -c{self.args.connections} -d{self.mode.seconds}s",
                "rounds": self.mode.rounds, "dbs": list(self.args.dbs),
                "compare": self.args.compare_label if (
                    self.args.compare_src or self.args.compare_env or self.args.compare_workers
                ) else None,
            },
            "machine": machine(),
            "databases": {k: s.summary() for k, s in self.seeded.items()},
            "summary": summary,
            "scale": self.scale,
            "memory": self.memory,
            "add_check": self.add_check,
            "worker": worker,
            "profiles": self.profiles,
            "runs": self.runs,
        }
        results["targets"] = report.targets(results)
        return results


def count_bench_orders(url: str) -> int:
    from sqlalchemy import func, select

    from opensmm.db import Database
    from opensmm.orders.models import Order

    db = Database(url)
    try:
        with db.read() as session:
            return int(session.scalar(select(func.count()).select_from(Order).where(
                Order.link.like(f"{loads.ADD_LINK_PREFIX}%"))) or 0)
    finally:
        db.dispose()


def machine() -> dict[str, Any]:
    import os

    import sqlalchemy
    import starlette
    import uvicorn

    return {
        "cpus": os.cpu_count(), "python": platform.python_version(),
        "uvicorn": uvicorn.__version__, "starlette": starlette.__version__,
        "sqlalchemy": sqlalchemy.__version__,
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    modes = parser.add_mutually_exclusive_group()
    modes.add_argument("--quick", dest="mode", action="store_const", const="quick",
                       help="shorter runs, one round, 200k orders for the scale test")
    modes.add_argument("--smoke", dest="mode", action="store_const", const="smoke",
                       help="seconds: checks that the harness works, numbers mean nothing")
    parser.set_defaults(mode="full")
    parser.add_argument("--workers", type=int, default=None,
                        help="server processes for every target (default: 2, the right number "
                             "for two cores; 1 in smoke mode)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--connections", type=int, default=64, help="wrk connections")
    parser.add_argument("--dbs", type=lambda s: tuple(s.split(",")), default=DBS)
    parser.add_argument("--actions", type=lambda s: tuple(s.split(",")), default=loads.ACTIONS)
    parser.add_argument("--no-scale", dest="scale", action="store_false")
    parser.add_argument("--large", type=int, help="orders of the scale test's large database")
    parser.add_argument("--no-worker", dest="worker", action="store_false")
    parser.add_argument("--profile", action="store_true", help="py-spy each action (extra pass)")
    parser.add_argument("--compare-src", help="a directory with an opensmm package, or a git ref")
    parser.add_argument("--compare-env", action="append", default=[], metavar="OPENSMM_X=V",
                        help="environment of the compared opensmm")
    parser.add_argument("--env", action="append", default=[], metavar="OPENSMM_X=V",
                        help="a setting of every opensmm server (e.g. OPENSMM_DB_THREADS=8 "
                             "when two opensmm per database would exceed PostgreSQL's "
                             "max_connections)")
    parser.add_argument("--compare-workers", type=int, help="server processes of the compared")
    parser.add_argument("--compare-label", default="before")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results",
                        help="where the JSON goes")
    parser.add_argument("--docs", type=Path, default=None,
                        help="markdown file whose generated section to rewrite "
                             "(default: docs/performance.md in full mode)")
    parser.add_argument("--no-docs", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the benchmark databases")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    if args.workers is None:
        args.workers = 1 if args.mode == "smoke" else 2
    for db in args.dbs:
        if db not in DBS:
            parser.error(f"unknown database {db!r}")
    for action in args.actions:
        if action not in loads.ACTIONS:
            parser.error(f"unknown action {action!r}; known: {', '.join(loads.ACTIONS)}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    bench = Bench(args)
    results = bench.run()
    args.out.mkdir(parents=True, exist_ok=True)
    name = results["mode"] + (f"-{args.compare_label}" if results["settings"]["compare"] else "")
    out = args.out / f"{name}.json"
    out.write_text(json.dumps(results, indent=1) + "\n")
    table = report.render(results)
    print()
    print(table)
    docs = args.docs or (ROOT / "docs" / "performance.md" if results["mode"] == "full"
                         and not results["settings"]["compare"] else None)
    if docs and not args.no_docs:
        report.write_section(docs, table)
        print(f"wrote {docs}")
    print(f"wrote {out} in {results['seconds']:.0f}s")
    return 0


if __name__ == "__main__":
    tempfile.tempdir = None
    sys.exit(main())
