"""The gateways' door: ``POST /payments/callback/{method}``.

No session, no CSRF token: a callback proves itself by the gateway's signature, which
``opensmm.payments.callbacks`` checks before anything is read from the database. The body is
read raw (signatures are over the exact bytes) and bounded in size; the answer is a small
JSON with the status the gateway expects (2xx: delivered; 4xx: refused; 5xx: try again).
"""

from __future__ import annotations

import logging

import anyio
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from opensmm.payments import callbacks
from opensmm.payments.gateways.base import MAX_CALLBACK_BYTES
from opensmm.web.context import Web

log = logging.getLogger("opensmm.payments.callbacks")


async def _body(request: Request) -> bytes | None:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_CALLBACK_BYTES:
        return None
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_CALLBACK_BYTES:
            return None
    return body


def callback_routes(web: Web) -> list[Route]:
    async def endpoint(request: Request) -> Response:
        body = await _body(request)
        if body is None:
            return JSONResponse({"error": "too large"}, status_code=413)
        method = str(request.path_params.get("method", ""))
        headers = dict(request.headers)

        def run() -> callbacks.Answer:
            secret = web.secret.get().decode()
            return callbacks.handle(web.db, secret, method, body, headers)

        try:
            answer = await anyio.to_thread.run_sync(run, limiter=web.limiter)
        except Exception:  # never a traceback to a gateway; it will deliver again
            log.exception("callback for %r failed", method[:40])
            return JSONResponse({"error": "try again later"}, status_code=503)
        key = "ok" if answer.status < 300 else "error"
        return JSONResponse({key: answer.message}, status_code=answer.status)

    return [Route("/payments/callback/{method}", endpoint, methods=["POST"])]
