"""Starting the servers under test, and measuring them: wrk for load, psutil for memory."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil

ROOT = Path(__file__).resolve().parents[1]
LUA = ROOT / "bench" / "lua" / "bodies.lua"
WRK = "/usr/bin/wrk"
OUTCOME_LINE = re.compile(
    r'^opensmm_api_requests_total\{[^}]*outcome="(?P<outcome>[a-z_]+)"[^}]*\} (?P<n>[0-9.e+]+)$',
    re.MULTILINE,
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wrk_path() -> str:
    """Debian's wrk; installed with apt-get when missing and we may (CI runs as root)."""
    found = shutil.which("wrk") or (WRK if Path(WRK).exists() else None)
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        install = ["apt-get", "install", "-y", "-q", "wrk"]
        if subprocess.run(install, env=env, capture_output=True, check=False).returncode:
            subprocess.run(["apt-get", "update", "-q"], env=env, capture_output=True, check=True)
            subprocess.run(install, env=env, capture_output=True, check=True)
        found = shutil.which("wrk")
    if not found:
        raise RuntimeError("wrk is needed: apt-get install -y wrk")
    return found


@dataclass
class Server:
    """One server under test: a command line that serves ``/api/v2`` on ``port``."""

    name: str
    command: list[str]
    env: dict[str, str]
    port: int = field(default_factory=free_port)
    log_path: Path | None = None
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v2"

    def start(self, workdir: Path, ready_body: str, timeout: float = 60) -> None:
        self.log_path = workdir / f"{self.name.replace('/', '_')}-{self.port}.log"
        command = [part.replace("{port}", str(self.port)) for part in self.command]
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                # Not the repository: with it as the working directory, its opensmm would
                # shadow the one PYTHONPATH names (python -m puts the directory first).
                command, env=self.env, cwd=workdir, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited early:\n{self.log()[-3000:]}")
            try:
                response = httpx.post(
                    self.url, content=ready_body, timeout=2,
                    headers={"content-type": "application/x-www-form-urlencoded"},
                )
                if response.status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} did not start:\n{self.log()[-3000:]}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path else ""

    def processes(self) -> list[psutil.Process]:
        if self.process is None:
            return []
        try:
            root = psutil.Process(self.process.pid)
            return [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def memory_mb(self) -> dict[str, float]:
        """Resident size of the server's processes, summed; PSS counts shared pages once."""
        rss = pss = biggest = 0.0
        for process in self.processes():
            try:
                info = process.memory_full_info()
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
            rss += info.rss
            pss += getattr(info, "pss", info.rss)
            biggest = max(biggest, info.rss)
        mb = 1024 * 1024
        return {
            "rss_mb": round(rss / mb, 1),
            "pss_mb": round(pss / mb, 1),
            "largest_process_rss_mb": round(biggest / mb, 1),
            "processes": len(self.processes()),
        }

    def outcomes(self) -> dict[str, float]:
        """opensmm's own count of API answers by outcome (from /metrics), or {} without it."""
        try:
            response = httpx.get(self.url.replace("/api/v2", "/metrics"), timeout=10)
        except httpx.HTTPError:
            return {}
        if response.status_code != 200:
            return {}
        counts: dict[str, float] = {}
        for match in OUTCOME_LINE.finditer(response.text):
            counts[match["outcome"]] = counts.get(match["outcome"], 0) + float(match["n"])
        return counts

    def cpu_seconds(self) -> float:
        """User and system CPU time used so far by the server's processes."""
        total = 0.0
        for process in self.processes():
            try:
                times = process.cpu_times()
            except psutil.NoSuchProcess:
                continue
            total += times.user + times.system
        return total

    def wait_idle(self, timeout: float = 30, below_percent: float = 10) -> float:
        """Wait until the server has finished what a load left in flight; the seconds waited.

        wrk stops sending at its deadline, but the requests it had in flight (and queued in
        the server) are still being answered: the next measurement must not pay for them.
        """
        started = time.monotonic()
        processes = self.processes()
        for process in processes:
            process.cpu_percent(None)
        while time.monotonic() - started < timeout:
            time.sleep(0.2)
            busy = 0.0
            for process in processes:
                with contextlib.suppress(psutil.NoSuchProcess):
                    busy += process.cpu_percent(None)
            if busy < below_percent:
                break
        return time.monotonic() - started

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            self.process = None
            return
        # The server's own session: the supervisor and its workers, nothing else.
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self.process = None


class MemorySampler:
    """The largest memory reading of a server while a load runs."""

    def __init__(self, server: Server, every: float = 0.25) -> None:
        self.server = server
        self.every = every
        self.peak: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            reading = self.server.memory_mb()
            if reading["rss_mb"] > self.peak.get("rss_mb", 0):
                self.peak = reading

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def run_wrk(
    url: str, bodies: Path, *, seconds: float, threads: int, connections: int
) -> dict[str, Any]:
    """One wrk run; requests per second and latency percentiles from our Lua ``done()``."""
    command = [
        wrk_path(), f"-t{threads}", f"-c{connections}", f"-d{max(1, round(seconds))}s",
        "--timeout", "10s", "-s", str(LUA), url, "--", str(bodies),
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60,
                            check=False)
    line = next((x for x in result.stdout.splitlines() if x.startswith("BENCH_JSON ")), None)
    if result.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    raw = json.loads(line.removeprefix("BENCH_JSON "))
    duration = raw["duration_us"] / 1e6
    errors = sum(raw["errors"].values())
    return {
        "requests": raw["requests"],
        "seconds": round(duration, 2),
        "rps": round(raw["requests"] / duration, 1),
        "p50_ms": round(raw["latency_us"]["p50"] / 1000, 2),
        "p90_ms": round(raw["latency_us"]["p90"] / 1000, 2),
        "p99_ms": round(raw["latency_us"]["p99"] / 1000, 2),
        "max_ms": round(raw["latency_us"]["max"] / 1000, 2),
        "errors": errors,
        "error_detail": raw["errors"],
    }


def python_env(*, source: Path | None = None, **extra: str) -> dict[str, str]:
    """The environment of a server: ours without OPENSMM_*, the code from ``source``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENSMM_")}
    paths = [str(source)] if source else []
    env["PYTHONPATH"] = os.pathsep.join([*paths, str(ROOT)])
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.update(extra)
    return env


def uvicorn_command(app: str, workers: int) -> list[str]:
    """The null apps, served with the options ``opensmm serve`` gives uvicorn."""
    return [
        sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", "{port}",
        "--workers", str(workers), "--log-level", "warning", "--no-access-log",
        "--no-server-header", "--no-proxy-headers",
    ]


def opensmm_command(workers: int, extra: list[str] | None = None) -> list[str]:
    return [
        sys.executable, "-m", "opensmm.cli.main", "serve", "--host", "127.0.0.1",
        "--port", "{port}", "--workers", str(workers), *(extra or []),
    ]
