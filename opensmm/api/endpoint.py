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

from opensmm.api.actions import ACTIONS
from opensmm.api.auth import key_hash_of
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
from opensmm.db import Database
from opensmm.errors import DomainError, IncorrectRequest

log = logging.getLogger("opensmm.api")

INTERNAL_ERROR = "Internal error, please try again later"
GZIP_MIN_BYTES = 1024


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
    params = parse_pairs(parse_query(scope.get("query_string", b"")))
    body = await read_body(receive)
    if not body:
        return params
    headers = dict(scope["headers"])
    kind = media_type(headers.get(b"content-type", b"").decode("latin-1"))
    if kind == "application/json" or (not kind and body.lstrip()[:1] == b"{"):
        pairs = parse_json(body)
    elif kind == "multipart/form-data":
        pairs = await _multipart(scope, body)
    else:  # form-urlencoded, and what clients send without a content type
        pairs = parse_query(body)
    # The body wins over the query string for the same name.
    return parse_pairs(pairs, params)


class ApiEndpoint:
    def __init__(self, db: Database, currency: str, threads: int) -> None:
        self.db = db
        self.currency = currency
        self.limiter = anyio.CapacityLimiter(threads)

    def _run(self, params: Params) -> Any:
        key_hash = key_hash_of(text(params, "key"))
        action = ACTIONS.get(text(params, "action") or "")
        if action is None:
            raise IncorrectRequest()
        return action(self.db, key_hash, params, self.currency)

    async def answer(self, scope: Scope, receive: Receive) -> Any:
        try:
            params = await parse_request(scope, receive)
            return await anyio.to_thread.run_sync(self._run, params, limiter=self.limiter)
        except DomainError as exc:
            return {"error": exc.message}
        except Exception:  # noqa: BLE001 - logged with context; the client sees no traceback
            log.exception("API request failed")
            return {"error": INTERNAL_ERROR}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        result = await self.answer(scope, receive)
        body = orjson.dumps(result)
        headers = [(b"content-type", b"application/json")]
        accept = dict(scope["headers"]).get(b"accept-encoding", b"")
        if len(body) >= GZIP_MIN_BYTES and b"gzip" in accept.lower():
            body = gzip.compress(body, compresslevel=5)
            headers.append((b"content-encoding", b"gzip"))
            headers.append((b"vary", b"Accept-Encoding"))
        headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        log.debug("api %.1f ms", (time.perf_counter() - started) * 1000)
