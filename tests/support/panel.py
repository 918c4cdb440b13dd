"""A running opensmm panel for black-box tests: a real ``opensmm serve`` process on
127.0.0.1, its database, and helpers that set data up through the same services the CLI
uses (in this process; the server sees what they commit)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import psutil
from sqlalchemy.orm import Session

from opensmm.accounts import service as accounts
from opensmm.catalog import service as catalog
from opensmm.db import Database
from opensmm.ledger import service as ledger
from opensmm.orders import service as orders
from opensmm.refills import service as refills

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_up(
    url: str, process: subprocess.Popen[bytes], log: Path, seconds: float = 30
) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited early:\n{log.read_text()[-4000:]}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200 and listens(
                process.pid, int(url.rsplit(":", 1)[1])
            ):
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"server did not start:\n{log.read_text()[-4000:]}")


def listens(pid: int, port: int) -> bool:
    """Whether ``pid`` (or a process it started) holds the listening socket on ``port``.

    Two test processes (pytest-xdist) may pick the same free port: the answer on it may be
    the other's server, while ours fails to bind and exits."""
    try:
        root = psutil.Process(pid)
        for process in (root, *root.children(recursive=True)):
            for conn in process.net_connections(kind="tcp"):
                if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port:
                    return True
    except psutil.Error:
        return False
    return False


def opensmm_env(database_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENSMM_")}
    env["OPENSMM_DATABASE_URL"] = database_url
    env["PYTHONPATH"] = str(ROOT)
    env.update(extra)
    return env


def run_cli(database_url: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run ``opensmm ARGS`` as a user would (a subprocess, its own environment)."""
    result = subprocess.run(
        [sys.executable, "-m", "opensmm.cli.main", *args],
        env=opensmm_env(database_url),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"opensmm {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result


@dataclass
class Customer:
    id: int
    name: str
    key: str


@dataclass
class Panel:
    kind: str
    database_url: str
    db: Database
    url: str = ""
    log_path: Path | None = None
    process: subprocess.Popen[bytes] | None = None
    http: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=30))

    @property
    def api_url(self) -> str:
        return f"{self.url}/api/v2"

    # --- processes ---------------------------------------------------------
    def start(self, *extra_args: str, env: dict[str, str] | None = None) -> None:
        for attempt in range(3):
            try:
                self._start_on(free_port(), extra_args, env)
                return
            except RuntimeError as exc:
                # Another test process took the port between free_port() and our bind.
                if "address already in use" not in str(exc).lower() or attempt == 2:
                    raise

    def _start_on(
        self, port: int, extra_args: tuple[str, ...], env: dict[str, str] | None
    ) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self.log_path = Path(os.environ.get("TMPDIR", "/tmp")) / f"opensmm-serve-{port}.log"
        log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "opensmm.cli.main", "serve", "--port", str(port), *extra_args],
            env=opensmm_env(self.database_url, **(env or {})),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        wait_until_up(self.url, self.process, self.log_path)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None
        self.http.close()

    def server_log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path else ""

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return run_cli(self.database_url, *args, check=check)

    # --- the API -----------------------------------------------------------
    def api(self, key: str | None, action: str | None, **params: Any) -> Any:
        """POST a form like most clients do; returns the decoded JSON answer."""
        data = {name: str(value) for name, value in params.items() if value is not None}
        if key is not None:
            data["key"] = key
        if action is not None:
            data["action"] = action
        response = self.http.post(self.api_url, data=data)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "application/json"
        return response.json()

    # --- data set-up through the services -----------------------------------
    @contextmanager
    def write(self) -> Iterator[Session]:
        with self.db.write() as session:
            yield session

    def customer(self, balance: Decimal | str | int = 0, *, name: str | None = None) -> Customer:
        name = name or f"c{uuid.uuid4().hex[:10]}"
        with self.write() as session:
            user = accounts.create_user(session, name)
            if Decimal(balance):
                ledger.add_funds(session, user.id, Decimal(balance), memo="test", actor="test")
            key = accounts.create_key(session, user).key
            return Customer(user.id, name, key)

    def service(self, **fields: Any) -> int:
        values: dict[str, Any] = {
            "name": "Followers",
            "category": "Instagram",
            "rate": Decimal("0.90"),
            "min_quantity": 10,
            "max_quantity": 10_000,
        }
        values.update(fields)
        values["rate"] = Decimal(str(values["rate"]))
        with self.write() as session:
            return catalog.add_service(session, **values).id

    def set_order(self, order_id: int, **update: Any) -> None:
        with self.write() as session:
            orders.apply_update(session, order_id, orders.OrderUpdate(**update), "test")

    def set_refill(self, refill_id: int, status: str) -> None:
        with self.write() as session:
            refills.set_refill_status(session, refill_id, status, "test")

    def balance(self, customer: Customer) -> Decimal:
        from opensmm.accounts.models import User

        with self.db.read() as session:
            user = session.get(User, customer.id)
            assert user is not None
            return user.balance

    def ledger_mismatches(self) -> list[ledger.Mismatch]:
        with self.db.read() as session:
            return ledger.check(session)


@contextmanager
def running_panel(
    database_servers: dict[str, Any], kind: str, *args: str, env: dict[str, str] | None = None
) -> Iterator[Panel]:
    """A running ``opensmm serve ARGS`` on a fresh database of ``kind``, with ``OPENSMM_*``
    ``env``; stopped, and its database dropped, at the end. Every panel fixture is made
    with this."""
    server = database_servers[kind]
    url = server.new_database()
    database = Database(url)
    panel = Panel(kind=kind, database_url=url, db=database)
    try:
        panel.start(*args, env=env)
        yield panel
    finally:
        panel.stop()
        database.dispose()
        server.drop(url)
