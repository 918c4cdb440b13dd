"""The admin API's plumbing: operations registered with their Pydantic models, served by
Starlette, refused in one JSON shape, and described by one OpenAPI document.

Each request: the bearer token is rate-limited (the API v2's limits and stores), the body
read (at most 64 KiB), then, in a worker thread, the token checked (401 unknown or revoked,
403 a read token on anything but GET), the query and body validated (422), and the handler
run in one unit of work (a write for anything but GET) that commits or rolls back as a
whole. A ``DomainError`` rolls back and answers 422 ``refused`` (404 for ``NotFound``);
anything else is logged and answered 500 ``internal``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, Generic, TypeVar

import anyio
from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

from opensmm.accounts.keys import hash_key
from opensmm.adminapi import tokens
from opensmm.adminapi.models import READ
from opensmm.adminapi.schemas import ErrorAnswer, ErrorDetail, Problem
from opensmm.audit.actor import Actor
from opensmm.db import Database
from opensmm.db.types import MAX_ID
from opensmm.errors import DomainError, NotFound
from opensmm.security.guard import Guard, RateLimited
from opensmm.security.network import client_ip, parse_trusted_proxies
from opensmm.settings import Settings

log = logging.getLogger("opensmm.adminapi")

PREFIX = "/api/admin/v1"
MAX_BODY_BYTES = 64 * 1024
_PARAM = re.compile(r"{([a-z_]+)}")

Q = TypeVar("Q", bound=BaseModel | None)
B = TypeVar("B", bound=BaseModel | None)


@dataclass(frozen=True)
class Call(Generic[Q, B]):
    """What a handler gets: its unit of work, who acts, the path's ids, the valid input."""

    session: Session
    actor: Actor
    ids: dict[str, int]
    query: Q
    body: B


Handler = Callable[[Call[Any, Any]], BaseModel]


@dataclass(frozen=True)
class Operation:
    method: str
    path: str  # below PREFIX, OpenAPI style: "/orders/{order_id}"
    handler: Handler
    summary: str
    answer: type[BaseModel]
    query: type[BaseModel] | None = None
    body: type[BaseModel] | None = None
    status: int = 200

    @property
    def name(self) -> str:
        return self.handler.__name__

    @property
    def params(self) -> list[str]:
        return _PARAM.findall(self.path)

    @property
    def scope(self) -> str:
        return READ if self.method == "GET" else "write"


class Operations:
    """The registry the routes and the OpenAPI document are both made from."""

    def __init__(self) -> None:
        self.all: list[Operation] = []

    def _add(self, method: str, path: str, answer: type[BaseModel], *, query: type[BaseModel]
             | None = None, body: type[BaseModel] | None = None) -> Callable[[Any], Any]:
        def decorator(handler: Any) -> Any:
            summary = (handler.__doc__ or "").strip().split("\n\n")[0]
            self.all.append(Operation(method, path, handler, " ".join(summary.split()),
                                      answer, query, body))
            return handler

        return decorator

    def get(self, path: str, answer: type[BaseModel], *,
            query: type[BaseModel] | None = None) -> Callable[[Any], Any]:
        return self._add("GET", path, answer, query=query)

    def post(self, path: str, answer: type[BaseModel], *,
             body: type[BaseModel] | None = None) -> Callable[[Any], Any]:
        return self._add("POST", path, answer, body=body)

    def patch(self, path: str, answer: type[BaseModel], *,
              body: type[BaseModel]) -> Callable[[Any], Any]:
        return self._add("PATCH", path, answer, body=body)


class Refusal(Exception):
    """An answer other than 200, in the one error shape."""

    def __init__(self, status: int, code: str, message: str,
                 problems: list[Problem] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.problems = problems or []

    def response(self, headers: dict[str, str] | None = None) -> JSONResponse:
        detail = ErrorDetail(code=self.code,
                             message=self.message, problems=self.problems)
        return JSONResponse(ErrorAnswer(error=detail).model_dump(mode="json"),
                            status_code=self.status, headers=headers)


def unauthorized() -> Refusal:
    return Refusal(401, "unauthorized",
                   "A valid admin token is required: Authorization: Bearer TOKEN")


def forbidden() -> Refusal:
    return Refusal(403, "forbidden", "This token may only read (GET); this needs a write token")


def _problems(exc: ValidationError) -> list[Problem]:
    return [
        Problem(loc=[part for part in error["loc"] if isinstance(part, str | int)],
                message=error["msg"])
        for error in exc.errors(include_url=False, include_input=False)
    ][:20]


def _invalid(exc: ValidationError, where: str) -> Refusal:
    problems = _problems(exc)
    for problem in problems:
        problem.loc.insert(0, where)
    return Refusal(422, "invalid", f"The request's {where} is not valid", problems)


def bearer(request: Request) -> str | None:
    value = request.headers.get("authorization", "")
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


async def read_body(request: Request) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise Refusal(413, "too_large", "The body is larger than 64 KiB")
        chunks.append(chunk)
    return b"".join(chunks)


class AdminApi:
    """The ASGI app below ``/api/admin/v1``."""

    def __init__(self, db: Database, settings: Settings, operations: Operations,
                 document: Callable[[], dict[str, Any]]) -> None:
        self.db = db
        self.operations = operations
        self.guard = Guard(settings)
        self.limiter = anyio.CapacityLimiter(settings.db_threads)
        self.trusted_proxies = parse_trusted_proxies(settings.trusted_proxies)
        self._document = document
        routes = [Route(PREFIX + "/openapi.json", self.openapi, methods=["GET"])]
        for operation in operations.all:
            path = _PARAM.sub(r"{\1:int}", operation.path)
            routes.append(Route(PREFIX + path, partial(self.endpoint, operation),
                                methods=[operation.method], name=operation.name))
        self.app: ASGIApp = Starlette(
            routes=routes,
            exception_handlers={HTTPException: self.http_error},  # type: ignore[dict-item]
        )

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)

    async def openapi(self, request: Request) -> Response:
        return JSONResponse(self._document())

    async def http_error(self, request: Request, exc: HTTPException) -> Response:
        if exc.status_code == 405:
            return Refusal(405, "method_not_allowed", "This path does not take that method"
                           ).response({"allow": (exc.headers or {}).get("allow", "")})
        return Refusal(404, "not_found", "No such path in the admin API").response()

    async def endpoint(self, operation: Operation, request: Request) -> Response:
        ip = client_ip(request.scope, self.trusted_proxies)
        token = bearer(request)
        try:
            if any(not 0 < value <= MAX_ID for value in request.path_params.values()):
                raise Refusal(404, "not_found", "Not found")
            await self.guard.admit(ip, hash_key(token) if token else None)
            body = await read_body(request) if operation.body is not None else b""
            return await anyio.to_thread.run_sync(
                partial(self._run, operation, request, token, body, ip), limiter=self.limiter
            )
        except RateLimited as exc:
            return Refusal(429, "rate_limited", exc.message).response(
                {"retry-after": str(exc.retry_after)}
            )
        except Refusal as refusal:
            if refusal.status == 401:
                await self.guard.count_invalid_key(ip)
                return refusal.response({"www-authenticate": 'Bearer realm="opensmm admin"'})
            return refusal.response()
        except Exception:
            log.exception("admin API %s %s failed", request.method, request.url.path)
            return Refusal(500, "internal", "Internal error, please try again later").response()

    def _run(self, operation: Operation, request: Request, token: str | None, body: bytes,
             ip: str) -> Response:
        with self.db.read() as session:
            row = tokens.authenticate(session, token) if token else None
            if row is None:
                raise unauthorized()
            actor = tokens.actor_of(row, ip)
            if operation.scope != READ and row.scope == READ:
                raise forbidden()
        query = self._query(operation, request)
        parsed = self._body(operation, body)
        ids = {name: int(value) for name, value in request.path_params.items()}
        unit = self.db.read() if operation.method == "GET" else self.db.write()
        try:
            with unit as session:
                answer = operation.handler(Call(session, actor, ids, query, parsed))
                content = answer.model_dump(mode="json")
        except NotFound as exc:
            raise Refusal(404, "not_found", exc.message) from None
        except DomainError as exc:
            raise Refusal(422, "refused", exc.message) from None
        return JSONResponse(content, status_code=operation.status)

    @staticmethod
    def _query(operation: Operation, request: Request) -> BaseModel | None:
        pairs = request.query_params.multi_items()
        if operation.query is None:
            if pairs:
                raise Refusal(422, "invalid", "This path takes no query parameters")
            return None
        values: dict[str, str] = {}
        for name, value in pairs:
            if name in values:
                raise Refusal(422, "invalid", f"The query parameter {name[:40]!r} is repeated")
            values[name] = value
        try:
            return operation.query.model_validate(values)
        except ValidationError as exc:
            raise _invalid(exc, "query") from None

    @staticmethod
    def _body(operation: Operation, body: bytes) -> BaseModel | None:
        if operation.body is None:
            return None
        try:
            return operation.body.model_validate_json(body if body.strip() else b"{}")
        except ValidationError as exc:
            raise _invalid(exc, "body") from None
