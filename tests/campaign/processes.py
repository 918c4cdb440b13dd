"""The panel's processes under test: start, SIGKILL, restart; each with its own log file."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]


def opensmm_env(database_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENSMM_")}
    env["OPENSMM_DATABASE_URL"] = database_url
    env["PYTHONPATH"] = str(ROOT)
    env.update(extra)
    return env


def cli(database_url: str, *args: str, **extra: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "opensmm.cli.main", *args],
        env=opensmm_env(database_url, **extra), capture_output=True, text=True, timeout=300,
        check=False,
    )  # fmt: skip
    if result.returncode != 0:
        raise RuntimeError(f"opensmm {' '.join(args)}: {result.stdout}{result.stderr}")
    return result.stdout


class Process:
    """One ``opensmm`` process (``serve`` or ``worker``) that the campaign may kill."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], logs: Path,
                 health_url: str | None = None) -> None:  # fmt: skip
        self.name = name
        self.args = args
        self.env = env
        self.logs = logs
        self.health_url = health_url
        self.popen: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.kills = 0

    @property
    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def start(self) -> None:
        log = (self.logs / f"{self.name}.log").open("ab")
        self.popen = subprocess.Popen(
            [sys.executable, "-m", "opensmm.cli.main", *self.args],
            env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        log.close()
        self.starts += 1
        if self.health_url:
            self._wait_healthy()

    def _wait_healthy(self, seconds: float = 60) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if not self.alive:
                raise RuntimeError(f"{self.name} exited while starting (see its log)")
            try:
                if httpx.get(self.health_url or "", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} did not become healthy")

    def kill(self) -> None:
        """SIGKILL: no clean-up of any kind, like a machine losing power under it."""
        if self.popen is not None and self.alive:
            os.kill(self.popen.pid, signal.SIGKILL)
            self.popen.wait()
            self.kills += 1

    def stop(self) -> None:
        if self.popen is not None and self.alive:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
