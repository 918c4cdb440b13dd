"""The gateways' door: ``POST /payments/callback/{method}``; and the upstream panels':
``POST /providers/webhook/{provider_id}`` (``opensmm.providers.webhooks``).

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

from opensmm.fulfillment.config import WorkerConfig
from opensmm.payments import callbacks
from opensmm.payments.gateways.base import MAX_CALLBACK_BYTES
from opensmm.providers import webhooks as provider_webhooks
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

    async def provider_endpoint(request: Request) -> Response:
        body = await _body(request)
        if body is None:
            return JSONResponse({"error": "too large"}, status_code=413)
        raw_id = str(request.path_params.get("provider_id", ""))
        if not raw_id.isdigit() or len(raw_id) > 9:
            return JSONResponse({"error": "no webhooks expected here"}, status_code=404)
        header = request.headers.get(provider_webhooks.HEADER, "")
        config = WorkerConfig.from_settings()

        def run() -> provider_webhooks.Answer:
            secret = web.secret.get().decode()
            return provider_webhooks.handle(web.db, secret, int(raw_id), body, header, config)

        try:
            answer = await anyio.to_thread.run_sync(run, limiter=web.limiter)
        except Exception:  # the upstream delivers it again later
            log.exception("webhook of provider %s failed", raw_id)
            return JSONResponse({"error": "try again later"}, status_code=503)
        key = "ok" if answer.status < 300 else "error"
        return JSONResponse({key: answer.message}, status_code=answer.status)

    return [
        Route("/payments/callback/{method}", endpoint, methods=["POST"]),
        Route("/providers/webhook/{provider_id}", provider_endpoint, methods=["POST"]),
    ]
