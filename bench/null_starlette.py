"""The framework's own cost: the null endpoint written in Starlette (what opensmm's pages use).

Like opensmm's API it parses the form (or query string) before answering, and answers the
same fixed body as ``bench.null_app``.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bench.null_app import BODY


async def endpoint(request: Request) -> Response:
    await request.form()
    return Response(BODY, media_type="application/json")


app = Starlette(routes=[Route("/api/v2", endpoint, methods=["GET", "POST"])])
