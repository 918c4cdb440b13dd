"""For reference: the same null endpoint in FastAPI (form fields declared, as a typical app)."""

from __future__ import annotations

from typing import Annotated

from fastapi import FastAPI, Form
from fastapi.responses import Response

from bench.null_app import BODY

app = FastAPI()


@app.post("/api/v2")
async def endpoint(
    key: Annotated[str, Form()], action: Annotated[str, Form()], order: Annotated[str, Form()] = ""
) -> Response:
    return Response(BODY, media_type="application/json")
