"""py-spy on a server under load: where the time goes, as collapsed stacks and a summary."""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path
from typing import Any

from bench.servers import run_wrk

PROJECT = "opensmm/"


def py_spy() -> str:
    found = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(found).exists():
        raise RuntimeError("py-spy is needed for --profile: pip install py-spy")
    return found


def profile_target(bench: Any, target: Any, action: str, workdir: Path) -> dict[str, Any]:
    seconds = max(3, bench.mode.seconds)
    out = workdir / f"profile-{target.db}-{action}.txt"
    pid = target.server.processes()[-1].pid  # the worker process when there are several
    load = threading.Thread(target=run_wrk, args=(target.server.url, target.bodies[action]),
                            kwargs={"seconds": seconds + 2, "threads": bench.args.threads,
                                    "connections": bench.args.connections})
    load.start()
    subprocess.run([py_spy(), "record", "--pid", str(pid), "--duration", str(seconds),
                    "--rate", "250", "--format", "raw", "--output", str(out), "--nonblocking"],
                   capture_output=True, check=True)
    load.join()
    summary = summarize(out.read_text())
    if bench.args.out:
        bench.args.out.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(out, bench.args.out / out.name)
    return summary


def summarize(collapsed: str, top: int = 25) -> dict[str, Any]:
    """Self time per function and total time per project function, in % of samples."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in collapsed.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack:
            continue
        count = int(count_text)
        total += count
        frames = stack.split(";")
        own[_short(frames[-1])] += count
        for frame in dict.fromkeys(_short(f) for f in frames):
            inclusive[frame] += count

    def pct(counter: Counter[str], keep: Any) -> list[tuple[str, float]]:
        return [(name, round(100 * n / total, 1)) for name, n in counter.most_common()
                if keep(name)][:top]

    return {
        "samples": total,
        "self": pct(own, lambda name: True),
        "inclusive_project": pct(inclusive, lambda name: PROJECT in name),
        "inclusive_all": pct(inclusive, lambda name: True),
    }


def _short(frame: str) -> str:
    """``func (path/to/site-packages/pkg/mod.py:12)`` -> ``func (pkg/mod.py)``."""
    name, _, where = frame.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    for marker in ("site-packages/", "/work/main/", "/lib/python3.11/"):
        if marker in path:
            path = path.split(marker, 1)[1]
    return f"{name} ({path})"
