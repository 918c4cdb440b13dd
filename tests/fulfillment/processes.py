"""``opensmm worker`` processes for tests: started like a user would, killed like a crash."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import ColumnElement, func, select

from opensmm.db import Database
from opensmm.orders.models import Order
from tests.support.panel import opensmm_env

# Quick passes and short leases, so that a test sees recovery without long waits.
WORKER_ENV = {
    "OPENSMM_WORKER_IDLE_SECONDS": "0.05",
    "OPENSMM_WORKER_POLL_SECONDS": "0.2",
    "OPENSMM_WORKER_LEASE_SECONDS": "1",
    "OPENSMM_WORKER_HTTP_TIMEOUT": "2",
    "OPENSMM_WORKER_BACKOFF_SECONDS": "0.2",
    "OPENSMM_WORKER_BACKOFF_MAX_SECONDS": "1",
    "OPENSMM_LOG_FORMAT": "text",
}


class WorkerProcess:
    def __init__(self, database_url: str, **env: str) -> None:
        self.log = Path(tempfile.mkstemp(prefix="opensmm-worker-", suffix=".log")[1])
        self._log_file = self.log.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "opensmm.cli.main", "worker"],
            env=opensmm_env(database_url, **{**WORKER_ENV, **env}),
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
        )

    def kill(self) -> None:
        """SIGKILL: no cleanup, no last transaction: a crash."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)
        self._log_file.close()

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log_file.close()
        return int(self.process.returncode)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def cleanup(self) -> None:
        os.unlink(self.log)


def wait_until(check: Callable[[], bool], what: str, seconds: float = 120) -> None:
    """Poll ``check`` until true; failing after ``seconds`` is a hang, not a timing test."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"gave up waiting for {what}")


def count_orders(db: Database, *conditions: ColumnElement[bool]) -> int:
    with db.read() as session:
        query = select(func.count()).select_from(Order).where(*conditions)
        return int(session.scalar(query) or 0)
