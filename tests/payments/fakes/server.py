"""A tiny HTTP server on 127.0.0.1 for fake gateways: routes, recorded requests, faults.

Each fake gateway subclasses ``FakeServer`` and declares routes with ``@route(method,
pattern)``; a handler takes the ``Request`` and its path groups and returns
``(status, json_value)``. Faults for the "gateway down" cases: ``fault = "drop"`` closes
connections without answering, ``fault = "slow"`` answers after ``slow_seconds``,
``fault = "html"`` answers a 502 page, ``fault = "garbage"`` answers 200 with non-JSON,
``fault = "huge"`` answers 200 with 3 MB of JSON.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

Handler = Callable[..., tuple[int, Any]]


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    groups: tuple[str, ...] = ()

    def json(self) -> Any:
        return json.loads(self.body)

    def form(self) -> dict[str, str]:
        return dict(parse_qsl(self.body.decode(), keep_blank_values=True))


@dataclass(frozen=True)
class Raw:
    """A handler's answer that is not JSON (a page, a redirect)."""

    body: bytes
    content_type: str = "text/html; charset=utf-8"
    headers: tuple[tuple[str, str], ...] = ()


def route(method: str, pattern: str) -> Callable[[Handler], Handler]:
    def mark(fn: Handler) -> Handler:
        fn.__route__ = (method, re.compile(f"^{pattern}$"))  # type: ignore[attr-defined]
        return fn

    return mark


@dataclass
class FakeServer:
    fault: str | None = None
    slow_seconds: float = 2.0
    requests: list[Request] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._routes = [
            (*fn.__route__, getattr(self, name))
            for name, fn in type(self).__dict__.items()
            if hasattr(fn, "__route__")
        ]
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    # --- lifecycle ---------------------------------------------------------------------

    def start(self) -> FakeServer:
        fake = self

        class _H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                fake._serve(self)

            do_POST = do_GET
            do_DELETE = do_GET

        self._server = _QuietServer(("127.0.0.1", 0), _H)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def count(self, method: str, path_prefix: str) -> int:
        return sum(
            1 for r in self.requests if r.method == method and r.path.startswith(path_prefix)
        )

    # --- serving -----------------------------------------------------------------------

    def _serve(self, h: BaseHTTPRequestHandler) -> None:
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length) if length else b""
        split = urlsplit(h.path)
        request = Request(
            method=h.command,
            path=split.path,
            query=dict(parse_qsl(split.query, keep_blank_values=True)),
            headers={k.lower(): v for k, v in h.headers.items()},
            body=body,
        )
        with self._lock:
            self.requests.append(request)
        if self.fault == "drop":
            with contextlib.suppress(OSError):
                h.connection.shutdown(socket.SHUT_RDWR)
            h.close_connection = True
            return
        if self.fault == "slow":
            time.sleep(self.slow_seconds)
        if self.fault == "html":
            self._send(h, 502, b"<html><body>Bad gateway</body></html>", "text/html")
            return
        if self.fault == "huge":
            self._send(h, 200, b'{"x": "' + b"A" * 3_000_000 + b'"}', "application/json")
            return
        if self.fault == "garbage":
            self._send(h, 200, b"\x00not json{", "application/json")
            return
        for method, pattern, handler in self._routes:
            match = pattern.match(request.path)
            if method == request.method and match:
                request.groups = match.groups()
                try:
                    status, value = handler(request)
                except Exception as exc:  # a bug in the fake: make it loud
                    status, value = 599, {"fake_error": repr(exc)}
                if isinstance(value, Raw):
                    self._send(h, status, value.body, value.content_type, value.headers)
                    return
                data = value if isinstance(value, bytes) else json.dumps(value).encode()
                self._send(h, status, data, "application/json")
                return
        self._send(h, 404, b'{"error": "no such route in the fake"}', "application/json")

    @staticmethod
    def _send(h: BaseHTTPRequestHandler, status: int, data: bytes, content_type: str,
              headers: tuple[tuple[str, str], ...] = ()) -> None:
        try:
            h.send_response(status)
            h.send_header("Content-Type", content_type)
            for name, value in headers:
                h.send_header(name, value)
            h.send_header("Content-Length", str(len(data)))
            h.send_header("Request-Id", "req_fake")
            h.end_headers()
            h.wfile.write(data)
            h.wfile.flush()
        except OSError:
            h.close_connection = True


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hangs up (after its timeout, or on a huge answer) is expected here.
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


def free_port() -> int:
    """A port nothing listens on (for "the gateway is unreachable")."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port
