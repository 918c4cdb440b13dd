"""The ASGI application: the lean API path beside the framework app for everything else."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from opensmm.api.endpoint import ApiEndpoint
from opensmm.db import Database, get_database
from opensmm.observability.health import HEALTH_PATHS, HealthEndpoint
from opensmm.observability.logs import configure_logging
from opensmm.observability.metrics import MetricsEndpoint
from opensmm.security.network import is_https, parse_trusted_proxies
from opensmm.settings import Settings, get_settings

# Also with a doubled slash: clients that join a base URL ending in "/" with "/api/v2".
API_PATHS = frozenset({"/api/v2", "/api/v2/", "//api/v2", "//api/v2/"})
METRICS_PATH = "/metrics"
ADMIN_API_PREFIX = "/api/admin/v1/"


def pages_app(db: Database, settings: Settings) -> ASGIApp:
    """The pages and the back office (served by the framework)."""
    from opensmm.web.app import build

    return build(db, settings)


def with_header(send: Send, name: bytes, value: bytes) -> Send:
    """``send`` that adds a header to the response (unless the app set it)."""

    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = list(message.get("headers", []))
            if all(key.lower() != name for key, _ in headers):
                headers.append((name, value))
            message["headers"] = headers
        await send(message)

    return sending


class OpenSMM:
    """Sends ``/api/v2`` (with or without the slash, never redirected) to the lean endpoint,
    ``/api/admin/v1/*`` to the admin API (``opensmm.adminapi``), and ``/metrics``, ``/healthz``
    and ``/readyz`` to theirs, before the pages' framework.
    Every answer to an HTTPS request (pages, API, metrics) carries Strict-Transport-Security."""

    def __init__(self, settings: Settings | None = None, db: Database | None = None) -> None:
        self.settings = settings or get_settings()
        self.db = db or get_database(self.settings.database_url)
        self.api = ApiEndpoint(
            self.db, self.settings.currency, self.settings.db_threads, self.settings
        )
        self.metrics = MetricsEndpoint(self.db, self.settings)
        self.health = HealthEndpoint(self.db)
        self.pages = pages_app(self.db, self.settings)
        # Built at its first request: its routes, Pydantic models and OpenAPI document are
        # megabytes that a panel whose staff never call the admin API need not hold.
        self._admin_api: ASGIApp | None = None
        self.trusted_proxies = parse_trusted_proxies(self.settings.trusted_proxies)
        hsts = self.settings.hsts_seconds
        self.hsts = f"max-age={hsts}".encode() if hsts > 0 else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            self.hsts is not None
            and scope["type"] == "http"
            and is_https(scope, self.trusted_proxies)
        ):
            send = with_header(send, b"strict-transport-security", self.hsts)
        if scope["type"] == "http" and scope["path"] in API_PATHS:
            await self.api(scope, receive, send)
        elif scope["type"] == "http" and scope["path"] == METRICS_PATH:
            await self.metrics(scope, receive, send)
        elif scope["type"] == "http" and scope["path"] in HEALTH_PATHS:
            await self.health(scope, receive, send)
        elif scope["type"] == "http" and scope["path"].startswith(ADMIN_API_PREFIX):
            await self.admin_api()(scope, receive, send)
        elif scope["type"] == "lifespan":
            await self.pages(scope, self._on_shutdown(receive), send)
        else:
            await self.pages(scope, receive, send)

    def admin_api(self) -> ASGIApp:
        if self._admin_api is None:
            from opensmm.adminapi.app import build

            self._admin_api = build(self.db, self.settings)
        return self._admin_api

    def _on_shutdown(self, receive: Receive) -> Receive:
        """``receive`` that also writes out what the API still holds when the server stops
        (uvicorn ends its process with the signal it got, so ``atexit`` may never run)."""

        async def wrapped() -> Message:
            message = await receive()
            if message["type"] == "lifespan.shutdown":
                await self.api.close()
            return message

        return wrapped


def create_app() -> OpenSMM:
    """The factory ``uvicorn --factory`` and ``opensmm serve`` use."""
    configure_logging(get_settings())
    return OpenSMM()
