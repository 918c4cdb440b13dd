"""Prometheus metrics, served at ``/metrics``.

Counters live in each server process (``prometheus_client``; with ``opensmm serve --workers N``
the processes share them through files in ``PROMETHEUS_MULTIPROC_DIR``, which ``serve`` sets
up). Gauges that describe the panel's state (orders by status, held orders, upstream errors)
are read from the database at scrape time, so every process answers the same.

Access: off with ``OPENSMM_METRICS=false``; with ``OPENSMM_METRICS_TOKEN`` set, only requests
that carry ``Authorization: Bearer <token>``; without a token, only requests from the loopback
address that did not pass through a proxy.
"""

from __future__ import annotations

import hmac
import logging
import os
from collections.abc import Iterator
from typing import Any

import anyio
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from starlette.types import Receive, Scope, Send

from opensmm.db import Database
from opensmm.settings import Settings

log = logging.getLogger("opensmm.metrics")

# ``_created`` series double the output and nobody graphs them.
disable_created_metrics()  # type: ignore[no-untyped-call]

REQUESTS = Counter(
    "opensmm_api_requests", "API v2 requests, by action and outcome", ["action", "outcome"]
)
LATENCY = Histogram(
    "opensmm_api_request_duration_seconds",
    "Time from the first byte of an API v2 request to its answer, by action",
    ["action"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
RATE_LIMIT_BACKEND_ERRORS = Counter(
    "opensmm_rate_limit_backend_errors",
    "Rate-limit checks let through because Redis could not be reached",
)

# One (counter, histogram) child pair per label set: ``labels()`` takes a lock and builds a
# tuple on every call, a dict lookup does not.
_children: dict[tuple[str, str], tuple[Any, Any]] = {}


def observe_request(action: str, outcome: str, seconds: float) -> None:
    pair = _children.get((action, outcome))
    if pair is None:
        pair = _children[(action, outcome)] = (
            REQUESTS.labels(action, outcome),
            LATENCY.labels(action),
        )
    pair[0].inc()
    pair[1].observe(seconds)


class DatabaseCollector:
    """Gauges read from the database when Prometheus scrapes."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def collect(self) -> Iterator[Metric]:
        from opensmm.observability.panel_state import read_state

        up = GaugeMetricFamily(
            "opensmm_database_up", "1 if the scrape could read the database, else 0"
        )
        try:
            families = read_state(self.db)
        except Exception as exc:  # noqa: BLE001 - a scrape must answer even with the DB down
            log.warning("metrics: cannot read the database (%s)", type(exc).__name__)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families


def exposition(db: Database) -> bytes:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        registry = REGISTRY
    state = CollectorRegistry(auto_describe=False)
    state.register(DatabaseCollector(db))
    return generate_latest(registry) + generate_latest(state)


_FORWARDING = frozenset({b"x-forwarded-for", b"forwarded", b"x-real-ip"})


def _refusal(scope: Scope, settings: Settings) -> tuple[int, str, list[tuple[bytes, bytes]]] | None:
    if not settings.metrics:
        return 404, "Not Found\n", []
    headers = scope.get("headers", [])
    if settings.metrics_token:
        expected = f"Bearer {settings.metrics_token}".encode()
        given = next((value for name, value in headers if name == b"authorization"), b"")
        if hmac.compare_digest(given, expected):
            return None
        return 401, "A bearer token is needed for /metrics\n", [(b"www-authenticate", b"Bearer")]
    from opensmm.security.network import is_loopback

    client = scope.get("client")
    # A request relayed by a proxy on this machine comes from 127.0.0.1 too: refuse it.
    if client and is_loopback(client[0]) and not any(name in _FORWARDING for name, _ in headers):
        return None
    return (
        403,
        "/metrics is served to localhost only; set OPENSMM_METRICS_TOKEN to read it from "
        "elsewhere\n",
        [],
    )


class MetricsEndpoint:
    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        refusal = _refusal(scope, self.settings)
        if refusal is None:
            status, body = 200, await anyio.to_thread.run_sync(exposition, self.db)
            headers = [(b"content-type", CONTENT_TYPE_LATEST.encode())]
        else:
            status, text, headers = refusal
            body = text.encode()
            headers = [*headers, (b"content-type", b"text/plain; charset=utf-8")]
        headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
