"""The limit of the stack: a bare ASGI callable, no framework, no database.

It drains the request body (as any real endpoint must) and answers a fixed JSON body of the
size of a ``status`` answer. Everything opensmm does costs requests per second relative to
this app, served by the same ASGI server with the same options.
"""

from __future__ import annotations

from typing import Any

BODY = (
    b'{"charge":"0.27819","start_count":"3572","status":"Partial",'
    b'"remains":"157","currency":"USD"}'
)
HEADERS = [(b"content-type", b"application/json"), (b"content-length", str(len(BODY)).encode())]


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    more = True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        more = message.get("more_body", False)
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": BODY})
