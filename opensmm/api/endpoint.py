"""The API v2 endpoint as a bare ASGI callable.

The hot path (resellers poll ``status`` all day) skips the web framework: it reads the
body once, parses it once, runs one unit of work in a worker thread and encodes the answer
once. Every answer is HTTP 200 with ``Content-Type: application/json`` exactly, also for
errors, and never a traceback (spec §1).
"""

from __future__ import annotations

import gzip
import logging
import time
from typing import Any

import anyio
import orjson
from starlette.types import Receive, Scope, Send

from opensmm.api.actions import ACTIONS, INLINE_ACTIONS, unknown_action
from opensmm.api.auth import InvalidKey, key_hash_of
from opensmm.api.group_commit import GROUPED_ACTIONS, GroupCommit
from opensmm.api.params import (
    MAX_BODY_BYTES,
    Malformed,
    Params,
    RequestTooLarge,
    media_type,
    parse_json,
    parse_pairs,
    parse_query,
    text,
)
from opensmm.api.reads import PLANS, run_async
from opensmm.db import Database
from opensmm.db.async_reads import AsyncReader
from opensmm.errors import DomainError, IncorrectRequest
from opensmm.observability import requests as outcomes
from opensmm.observability.access import AccessLog
from opensmm.observability.requests import RequestRecord, current_request, finish
from opensmm.orders.idempotency import ANNOUNCE_HEADER, ANNOUNCE_VALUE
from opensmm.panel_settings import service as panel_settings
from opensmm.security.guard import Guard, RateLimited
from opensmm.security.network import client_ip, parse_trusted_proxies
from opensmm.settings import Settings, get_settings

log = logging.getLogger("opensmm.api")

INTERNAL_ERROR = "Internal error, please try again later"
GZIP_MIN_BYTES = 1024
# On every answer: ``add`` honours ``idempotency_key`` here (opensmm.orders.idempotency).
_ANNOUNCE = (ANNOUNCE_HEADER.lower().encode(), ANNOUNCE_VALUE.encode())


async def read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise RequestTooLarge()
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


async def _multipart(scope: Scope, body: bytes) -> list[tuple[str, str]]:
    from starlette.requests import Request

    async def replay() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    try:
        form = await Request(scope, replay).form(max_files=0, max_fields=200)
    except Exception:  # noqa: BLE001 - any malformed multipart is the client's error
        raise Malformed() from None
    return [(key, value) for key, value in form.multi_items() if isinstance(value, str)]


async def parse_request(scope: Scope, receive: Receive) -> Params:
    query = scope.get("query_string")
    params = parse_pairs(parse_query(query)) if query else {}
    body = await read_body(receive)
    if not body:
        return with_idempotency_header(scope, params)
    headers = dict(scope["headers"])
    kind = media_type(headers.get(b"content-type", b"").decode("latin-1"))
    if kind == "application/json" or (not kind and body.lstrip()[:1] == b"{"):
        pairs = parse_json(body)
    elif kind == "multipart/form-data":
        pairs = await _multipart(scope, body)
    else:  # form-urlencoded, and what clients send without a content type
        pairs = parse_query(body)
    # The body wins over the query string for the same name.
    return with_idempotency_header(scope, parse_pairs(pairs, params))


def with_idempotency_header(scope: Scope, params: Params) -> Params:
    """The ``Idempotency-Key`` header as the ``idempotency_key`` parameter (spec §7); both,
    and different, is a malformed request."""
    header = dict(scope["headers"]).get(b"idempotency-key")
    if header is None:
        return params
    value = header.decode("latin-1")
    given = params.get("idempotency_key")
    if given is not None and given != value:
        raise IncorrectRequest()
    params["idempotency_key"] = value
    return params


def _accept_encoding(scope: Scope) -> bytes:
    value: bytes = dict(scope["headers"]).get(b"accept-encoding", b"")
    return value


def wants_gzip(accept_encoding: bytes) -> bool:
    """Whether the client asked for gzip: ``gzip``, ``x-gzip`` or ``*``, unless ``q=0``."""
    accept_encoding = accept_encoding.lower()
    if b"gzip" not in accept_encoding and b"*" not in accept_encoding:
        return False  # the common answer, without parsing
    for item in accept_encoding.split(b","):
        coding, _, params = item.partition(b";")
        if coding.strip() in (b"gzip", b"x-gzip", b"*"):
            quality = params.strip().removeprefix(b"q=").strip() if params else b"1"
            try:
                return float(quality) > 0
            except ValueError:
                return False
    return False


def group_commit_on(setting: str, db: Database) -> bool:
    """``OPENSMM_API_GROUP_COMMIT``: on, off, or auto (on for SQLite only: on PostgreSQL it
    measured no faster; docs/performance.md)."""
    value = setting.strip().lower()
    if value in ("on", "true", "1", "yes"):
        return True
    if value in ("off", "false", "0", "no"):
        return False
    if value == "auto":
        return db.is_sqlite
    raise ValueError(f"OPENSMM_API_GROUP_COMMIT must be on, off or auto, not {setting!r}")


class ApiEndpoint:
    def __init__(
        self, db: Database, currency: str, threads: int, settings: Settings | None = None
    ) -> None:
        settings = settings or get_settings()
        self.db = db
        self.currency = currency
        self.limiter = anyio.CapacityLimiter(threads)
        # Rate limits (docs/security.md): in memory, or shared through Redis.
        self.guard = Guard(settings)
        self.trusted_proxies = parse_trusted_proxies(settings.trusted_proxies)
        self.access_log = AccessLog(settings) if settings.access_log else None
        self._compressed: dict[int, tuple[orjson.Fragment, bytes]] = {}
        # The hot reads never go to a worker thread (handing a request to one and back costs
        # more than the read; docs/performance.md). On SQLite they run on the event loop
        # itself: each is one indexed statement of some tens of microseconds. On PostgreSQL
        # a statement waits for a network round trip, so they run on async connections,
        # and the loop serves other requests meanwhile. Everything else: worker threads.
        self.inline_actions = INLINE_ACTIONS if db.is_sqlite else frozenset()
        self.reader = (
            None if db.is_sqlite else AsyncReader(db.postgres_conninfo(), size=threads)
        )
        # Concurrent ``add``, ``cancel`` and ``refill`` requests in one transaction
        # (opensmm.api.group_commit).
        self.group_commit = (
            GroupCommit(
                db, currency, self.limiter,
                window_seconds=settings.api_group_commit_ms / 1000,
                max_batch=settings.api_group_commit_max,
            )
            if group_commit_on(settings.api_group_commit, db)
            else None
        )

    def _compress(self, result: Any, body: bytes) -> bytes:
        """gzip, once per answer that is itself kept encoded (the catalog of ``services``,
        10 KB and more, asked for by every client that sends Accept-Encoding: gzip)."""
        if type(result) is not orjson.Fragment:
            return gzip.compress(body, compresslevel=5)
        # Keyed by the object, held so that its id is not reused; a handful at most.
        found = self._compressed.get(id(result))
        if found is None or found[0] is not result:
            if len(self._compressed) >= 16:
                self._compressed.clear()
            found = (result, gzip.compress(body, compresslevel=5))
            self._compressed[id(result)] = found
        return found[1]

    async def close(self) -> None:
        """The server is stopping: write out the access log's waiting lines, close the
        async connections."""
        if self.access_log is not None:
            self.access_log.flush()
        if self.reader is not None:
            await self.reader.close()

    def _run(self, key_hash: str, params: Params) -> Any:
        action = ACTIONS.get(text(params, "action") or "", unknown_action)
        return action(self.db, key_hash, params, self.currency)

    async def answer(self, scope: Scope, receive: Receive, record: RequestRecord) -> Any:
        try:
            params = await parse_request(scope, receive)
            name = text(params, "action")
            record.action = (name if name in ACTIONS else "unknown") if name else "none"
            try:
                key_hash: str | None = key_hash_of(text(params, "key"))
            except InvalidKey:
                key_hash = None
            # Before any database work: the limits cost a dict lookup (or one Redis call).
            await self.guard.admit(record.ip, key_hash)
            known, maintenance = panel_settings.maintenance_known(self.db)
            if not known:
                maintenance = await anyio.to_thread.run_sync(
                    panel_settings.maintenance_message, self.db, limiter=self.limiter
                )
            if maintenance is not None:
                # The owner's words (spec: an answer with "error", HTTP 200).
                record.outcome, record.error = outcomes.REFUSED, maintenance
                return {"error": maintenance}
            if key_hash is None:
                raise InvalidKey()
            if name in self.inline_actions:
                return self._run(key_hash, params)
            if name in GROUPED_ACTIONS and self.group_commit is not None:
                return await self.group_commit.submit(name, key_hash, params, record)
            if self.reader is not None and name in PLANS:
                plan = PLANS[name](self.db, key_hash, params, self.currency)
                return await run_async(self.db, self.reader, plan)
            return await anyio.to_thread.run_sync(
                self._run, key_hash, params, limiter=self.limiter
            )
        except RateLimited as exc:
            record.outcome, record.retry_after = outcomes.LIMITED, exc.retry_after
            record.error = exc.message
            return {"error": exc.message}
        except InvalidKey as exc:
            record.outcome, record.error = outcomes.INVALID_KEY, exc.message
            await self.guard.count_invalid_key(record.ip)
            return {"error": exc.message}
        except DomainError as exc:
            record.outcome, record.error = outcomes.REFUSED, exc.message
            return {"error": exc.message}
        except Exception:  # logged with context; the client sees no traceback
            record.outcome, record.error = outcomes.FAILED, INTERNAL_ERROR
            log.exception("API request failed", extra={"action": record.action})
            return {"error": INTERNAL_ERROR}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        record = RequestRecord(ip=client_ip(scope, self.trusted_proxies))
        current_request.set(record)  # this task's own context: seen by the worker thread
        result = await self.answer(scope, receive, record)
        if record.outcome == outcomes.OK and type(result) is dict and "error" in result:
            # A single id's refusal ("Incorrect order ID") is answered, not raised.
            record.outcome, record.error = outcomes.REFUSED, result["error"]
        body = orjson.dumps(result)
        headers = [(b"content-type", b"application/json"), _ANNOUNCE]
        if record.retry_after is not None:
            headers.append((b"retry-after", str(record.retry_after).encode()))
        if len(body) >= GZIP_MIN_BYTES and wants_gzip(_accept_encoding(scope)):
            body = self._compress(result, body)
            headers.append((b"content-encoding", b"gzip"))
            headers.append((b"vary", b"Accept-Encoding"))
        headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        finish(record, time.perf_counter() - started, self.access_log)
