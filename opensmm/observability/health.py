"""``/healthz`` and ``/readyz``: for systemd, load balancers and monitors (docs/deploy.md).

``/healthz`` says the process is up and its event loop answers: no database work, 200
``{"ok": true}``. ``/readyz`` says whether this process can serve: the database answers and
its schema is at the revision of the migrations this version ships; else 503 with
``{"ok": false, "reason": "..."}``, a short sentence that names no address or secret.

A readiness check is one statement (``SELECT version_num FROM alembic_version``) on a thread
of its own; probes that come while one runs wait for that one, so a database that hangs
holds one thread, not one per probe, and every probe is answered within ``timeout``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
from pathlib import Path

from sqlalchemy.engine import make_url
from starlette.types import Receive, Scope, Send

from opensmm.db import Database

log = logging.getLogger("opensmm.health")

HEALTHZ_PATH = "/healthz"
READYZ_PATH = "/readyz"
HEALTH_PATHS = frozenset({HEALTHZ_PATH, READYZ_PATH})
READY_TIMEOUT_SECONDS = 5.0


class Readiness:
    """Why the database cannot serve this version (None when it can)."""

    def __init__(self, db: Database, timeout: float = READY_TIMEOUT_SECONDS) -> None:
        self.db = db
        self.timeout = timeout
        self._shipped: tuple[str, list[str]] | None = None
        self._running: asyncio.Future[str | None] | None = None
        self._last_reason: str | None = None

    async def reason(self) -> str | None:
        if self._running is None or self._running.done():
            self._running = self._start_check()
        try:
            reason = await asyncio.wait_for(asyncio.shield(self._running), self.timeout)
        except TimeoutError:
            reason = f"the database did not answer within {self.timeout:g} s"
        if reason != self._last_reason:
            if reason is not None:
                log.warning("not ready: %s", reason)
            self._last_reason = reason
        return reason

    def _start_check(self) -> asyncio.Future[str | None]:
        """``check`` on a daemon thread: one stuck in a connect never delays the exit."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[str | None] = loop.create_future()

        def settle(reason: str | None) -> None:
            if not future.done():
                future.set_result(reason)

        def run() -> None:
            try:
                reason = self.check()
            except Exception as exc:  # noqa: BLE001 - e.g. the migrations cannot be read
                reason = f"the readiness check failed ({type(exc).__name__})"
            with contextlib.suppress(RuntimeError):  # the loop closed while the check ran
                loop.call_soon_threadsafe(settle, reason)

        threading.Thread(target=run, name="opensmm-ready", daemon=True).start()
        return future

    def check(self) -> str | None:
        if self._shipped is None:
            from opensmm.db.migrate import shipped_revisions

            self._shipped = shipped_revisions()
        head, known = self._shipped
        path = (make_url(self.db.url).database or "") if self.db.is_sqlite else ""
        on_disk = path not in ("", ":memory:") and not path.startswith("file:")
        if on_disk and not Path(path).exists():  # connecting would create it empty
            return "there is no database file"
        try:
            rows = self.db.read_rows("SELECT version_num FROM alembic_version", ())
        except Exception as exc:  # noqa: BLE001 - told as a reason, never a traceback
            try:
                self.db.read_rows("SELECT 1", ())
            except Exception:  # noqa: BLE001
                return f"the database cannot be reached ({type(exc).__name__})"
            return "the database has never been migrated"
        revisions = sorted(str(row[0]) for row in rows)
        if not revisions:
            return "the database has never been migrated"
        if revisions == [head]:
            return None
        if all(revision in known for revision in revisions):
            return (
                f"the database is at migration {', '.join(revisions)}, this version needs "
                f"{head}: run `opensmm db upgrade`"
            )
        return (
            f"the database is at migration {', '.join(revisions)}, which this version does "
            f"not know (a newer opensmm migrated it); this version needs {head}"
        )


class HealthEndpoint:
    """Answers ``/healthz`` and ``/readyz`` (GET or HEAD), never cached."""

    def __init__(self, db: Database, timeout: float = READY_TIMEOUT_SECONDS) -> None:
        self.readiness = Readiness(db, timeout)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"cache-control", b"no-store")]
        status, reason = 200, None
        if scope["method"] not in ("GET", "HEAD"):
            status, reason = 405, "use GET or HEAD"
            headers.append((b"allow", b"GET, HEAD"))
        elif scope["path"] == READYZ_PATH:
            reason = await self.readiness.reason()
            status = 200 if reason is None else 503
        answer = {"ok": True} if reason is None else {"ok": False, "reason": reason}
        body = json.dumps(answer).encode()
        headers += [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({
            "type": "http.response.body",
            "body": b"" if scope["method"] == "HEAD" else body,
        })
