"""Coverage-guided fuzzing of the HTTP surface with atheris (libFuzzer for Python).

Each input becomes one HTTP request (method, path, headers, query string, body), served by the
real ASGI application in this process against a real SQLite database with a customer, services
and orders. Half the inputs carry the customer's valid key and a real action, so that the
fuzzer explores past the key check. A request "crashes" when:

- the application raises, or answers anything but HTTP 200 ``application/json`` on /api/v2;
- the answer is not JSON, or is an error object with more than its ``error`` key;
- the answer is the generic internal error (an unexpected exception inside);
- the ledger stops adding up (checked every 500 requests and at the end).

Run it (the time is bounded by libFuzzer's own options; crash files land in the folder):

    python tests/fuzz/atheris_api.py -max_total_time=600 -artifact_prefix=/tmp/fuzz-crash-
    python tests/fuzz/atheris_api.py -runs=3000            # what CI does

A crash file replays with ``python tests/fuzz/atheris_api.py CRASH_FILE``; each one found is
kept as a regression test in tests/fuzz/test_fuzz_regressions.py.
"""

from __future__ import annotations

import asyncio
import gzip
import itertools
import os
import sys
import tempfile
from decimal import Decimal
from pathlib import Path
from typing import Any

import atheris
import orjson

# No rate limits: the fuzzer sends thousands of bad keys a second from one address, and the
# limits have tests of their own.
for _name in ("PER_KEY", "PER_IP", "BAD_KEYS_PER_IP"):
    os.environ[f"OPENSMM_RATE_LIMIT_{_name}"] = "0"
os.environ["OPENSMM_ACCESS_LOG"] = "false"
# OPENSMM_FUZZ_DB: where the database goes (the CI test checks its ledger afterwards).
DB_PATH = os.environ.get("OPENSMM_FUZZ_DB") or str(
    Path(tempfile.mkdtemp(prefix="opensmm-fuzz-")) / "fuzz.db"
)
os.environ["OPENSMM_DATABASE_URL"] = f"sqlite:///{DB_PATH}"

with atheris.instrument_imports(include=["opensmm"]):
    from opensmm.accounts import service as accounts
    from opensmm.api.actions import ACTIONS
    from opensmm.api.endpoint import INTERNAL_ERROR
    from opensmm.app import OpenSMM
    from opensmm.catalog import service as catalog
    from opensmm.db import get_database
    from opensmm.db.migrate import upgrade
    from opensmm.ledger import service as ledger
    from opensmm.orders import service as orders
    from opensmm.settings import get_settings

PATHS = ["/api/v2", "/api/v2/", "/api/v2", "/api/v2", "/metrics"]
CONTENT_TYPES = [
    b"application/x-www-form-urlencoded",
    b"application/json",
    b"multipart/form-data; boundary=fuzz",
    b"",
    b"text/plain",
    b"application/json; charset=utf-8",
]
FIELDS = [
    "order",
    "orders",
    "refill",
    "refills",
    "service",
    "link",
    "quantity",
    "runs",
    "interval",
    "comments",
    "orders[]",
    "orders[0]",
    "username",
    "min",
    "max",
    "delay",
]


def _seed() -> tuple[OpenSMM, str]:
    settings = get_settings()
    upgrade(settings.database_url)
    db = get_database(settings.database_url)
    with db.write() as session:
        user = accounts.create_user(session, "fuzzer")
        ledger.add_funds(session, user.id, Decimal(100_000), memo="fuzz", actor="fuzz")
        key = accounts.create_key(session, user).key
        common = {"category": "Fuzz", "min_quantity": 10, "max_quantity": 100_000}
        default = catalog.add_service(
            session,
            name="Default",
            rate=Decimal("0.5"),
            refill=True,
            cancel=True,
            dripfeed=True,
            **common,
        )
        catalog.add_service(
            session, name="Comments", type="Custom Comments", rate=Decimal(1), **common
        )
        catalog.add_service(session, name="Package", type="Package", rate=Decimal(2), **common)
        for number in range(3):
            order = orders.place_order(
                session,
                user,
                {"service": default.id, "link": f"https://f.test/{number}", "quantity": "100"},
            )
            session.flush()
            if number == 0:
                orders.apply_update(
                    session, order.id, orders.OrderUpdate(status="Completed"), "fuzz"
                )
    return OpenSMM(settings, db), key


APP, KEY = _seed()
LOOP = asyncio.new_event_loop()
COUNTER = itertools.count(1)


async def _request(
    method: str, path: str, query: bytes, headers: list[tuple[bytes, bytes]], body: bytes
) -> tuple[int, dict[bytes, bytes], bytes]:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query,
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 8000),
    }
    pending = [{"type": "http.request", "body": body, "more_body": False}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return pending.pop(0) if pending else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await APP(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    content = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], dict(start["headers"]), content


def _build(data: bytes) -> tuple[str, str, bytes, list[tuple[bytes, bytes]], bytes]:
    fdp = atheris.FuzzedDataProvider(data)
    method = fdp.PickValueInList(["GET", "POST", "POST", "PUT"])
    path = fdp.PickValueInList(PATHS)
    content_type = fdp.PickValueInList(CONTENT_TYPES)
    headers = [(b"content-type", content_type)] if content_type else []
    if fdp.ConsumeBool():
        headers.append((b"accept-encoding", b"gzip"))
    prefix = b""
    if fdp.ConsumeBool():
        action = fdp.PickValueInList([*sorted(ACTIONS), "", "nope"])
        field = fdp.PickValueInList(FIELDS)
        prefix = f"key={KEY}&action={action}&{field}=".encode()
    query = prefix + fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 300))
    body = fdp.ConsumeBytes(fdp.remaining_bytes())
    if content_type.startswith(b"application/json") and prefix and fdp.ConsumeBool():
        body = orjson.dumps({"key": KEY, "action": "status", "orders": body.decode("latin-1")})
    return method, path, query, headers, body


def _check_ledger() -> None:
    with APP.db.read() as session:
        mismatches = ledger.check(session)
    if mismatches:
        raise AssertionError(f"the ledger does not add up: {mismatches}")


def TestOneInput(data: bytes) -> None:  # the name atheris's examples use
    method, path, query, headers, body = _build(data)
    status, answer_headers, content = LOOP.run_until_complete(
        _request(method, path, query, headers, body)
    )
    if next(COUNTER) % 500 == 0:
        _check_ledger()
    if path == "/metrics":
        if status not in (200, 401, 403, 404):
            raise AssertionError(f"/metrics answered {status}")
        return
    if status != 200 or answer_headers.get(b"content-type") != b"application/json":
        raise AssertionError(f"answered {status} {answer_headers}")
    if answer_headers.get(b"content-encoding") == b"gzip":
        content = gzip.decompress(content)
    document = orjson.loads(content)
    if isinstance(document, dict) and "error" in document:
        if set(document) != {"error"} or not isinstance(document["error"], str):
            raise AssertionError(f"a malformed error answer: {document!r}")
        if document["error"] == INTERNAL_ERROR:
            raise AssertionError(f"an internal error for {method} {path}?{query!r} {body!r}")


if __name__ == "__main__":
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()
