"""A scriptable fake SMM panel speaking API v2, on a real socket, for tests.

It is a stdlib ``ThreadingHTTPServer`` on ``127.0.0.1`` (a free port) in a background
thread. Tests script what each ``action`` answers and then check what the panel received::

    from tests.fakepanel import Drop, FakePanel, Json, Slow

    with FakePanel(key="k") as panel:
        panel.on("balance", {"balance": "100.84292", "currency": "USD"})  # a JSON body
        panel.on("add", Slow(Json({"order": 1}), 2.0))                      # a slow answer
        panel.on("status", Drop())                                          # no answer at all
        ...                                   # point the code under test at panel.url
        assert panel.count("add") == 1        # "sent exactly once"
        assert panel.last("add").params["link"] == "https://x"

Routing is by the ``action`` parameter (query string and body merged, as panels do).
``panel.on(action, r1, r2, ...)`` answers with ``r1``, then ``r2``..., repeating the last
one forever. A reply is one of:

- a :class:`Reply` (``Json``, ``Text``, ``Empty``, ``Slow``, ``Drop``, ``Truncated``);
- a callable ``(Received) -> reply`` (for answers that depend on the request);
- any other value: shorthand for ``Json(value)``.

An action with no script answers ``{"error": "Incorrect request"}``; with ``key=...``, a
request with another key answers ``{"error": "Invalid API key"}`` (and is recorded too).
Every request is recorded *before* it is answered (also those answered by ``Drop`` or a
slow reply), in :attr:`FakePanel.requests`. Exceptions raised by callables are recorded in
:attr:`FakePanel.errors` and answered with HTTP 500.

:data:`SEED` holds the example answers of the API page this project was created from;
:meth:`FakePanel.use_seed` scripts every action with them.
"""

from __future__ import annotations

import contextlib
import json
import socket
import sys
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlsplit

__all__ = [
    "SEED",
    "Drop",
    "Empty",
    "FakePanel",
    "Json",
    "Received",
    "Reply",
    "Slow",
    "Text",
    "Truncated",
    "free_port",
]


@dataclass(frozen=True)
class Received:
    """One request the panel received.

    ``params`` merges the query string and the body (form or JSON object; JSON values are
    turned into their text), the last value of a repeated name winning; ``multi`` keeps
    every value. Header names are lower-case.
    """

    method: str
    path: str
    action: str | None
    params: dict[str, str]
    multi: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    at: float = field(default_factory=time.monotonic)

    @property
    def key(self) -> str | None:
        return self.params.get("key")


# --- replies -------------------------------------------------------------------------


class Reply:
    """How the panel answers a request. Subclasses implement :meth:`send`."""

    def send(self, handler: _Handler) -> None:
        raise NotImplementedError


def _encode_json(value: object) -> bytes:
    return json.dumps(value, default=_json_default).encode()


def _json_default(value: object) -> object:
    if isinstance(value, Decimal):
        return float(value) if value != value.to_integral_value() else int(value)
    raise TypeError(f"not JSON: {type(value).__name__}")


@dataclass(frozen=True)
class Text(Reply):
    """A raw body: HTML pages, broken JSON, anything. ``status`` is the HTTP status."""

    body: str | bytes
    status: int = 200
    content_type: str = "text/html; charset=utf-8"
    headers: Mapping[str, str] = field(default_factory=dict)

    def send(self, handler: _Handler) -> None:
        data = self.body.encode() if isinstance(self.body, str) else self.body
        handler.send_body(self.status, data, self.content_type, self.headers)


@dataclass(frozen=True)
class Json(Reply):
    """A JSON body (``Content-Type: application/json``). ``Decimal`` values become numbers."""

    body: Any
    status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)

    def send(self, handler: _Handler) -> None:
        handler.send_body(self.status, _encode_json(self.body), "application/json", self.headers)


@dataclass(frozen=True)
class Empty(Reply):
    """An empty body with ``status``."""

    status: int = 200

    def send(self, handler: _Handler) -> None:
        handler.send_body(self.status, b"", "application/json", {})


@dataclass(frozen=True)
class Slow(Reply):
    """Wait ``seconds`` (after the whole request was read), then answer with ``reply``.

    The wait ends early when the panel stops, so slow replies never delay teardown.
    """

    reply: Any
    seconds: float

    def send(self, handler: _Handler) -> None:
        if handler.panel.stopping.wait(self.seconds):
            handler.close_connection = True
            return
        handler.panel.resolve(self.reply, handler.received).send(handler)


@dataclass(frozen=True)
class Drop(Reply):
    """Read the request, then close the connection without answering."""

    def send(self, handler: _Handler) -> None:
        handler.close_connection = True
        handler.abort()


@dataclass(frozen=True)
class Truncated(Reply):
    """Send the status line, headers and the first ``keep`` bytes of ``body``, then close.

    ``Content-Length`` announces the whole body, so the client sees the connection drop
    in the middle of the response.
    """

    body: Any = field(default_factory=lambda: {"order": 23501})
    keep: int = 5

    def send(self, handler: _Handler) -> None:
        data = self.body if isinstance(self.body, bytes) else _encode_json(self.body)
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data[: self.keep])
        handler.wfile.flush()
        handler.close_connection = True
        handler.abort()


ReplyFactory = Callable[[Received], Any]


# --- the server ----------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server
    received: Received

    @property
    def panel(self) -> FakePanel:
        return self.server.panel

    def setup(self) -> None:
        super().setup()
        self.panel.track(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.panel.untrack(self.connection)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline().strip():
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _serve(self) -> None:
        body = self._read_body()
        split = urlsplit(self.path)
        pairs = parse_qsl(split.query, keep_blank_values=True)
        content_type = self.headers.get("Content-Type", "").lower()
        if content_type.startswith("application/json"):
            try:
                decoded = json.loads(body or b"null")
            except ValueError:
                decoded = None
            if isinstance(decoded, dict):
                for name, value in decoded.items():
                    text = value if isinstance(value, str) else json.dumps(value)
                    pairs.append((str(name), text))
        elif body and not content_type.startswith("multipart/"):
            pairs += parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
        multi: dict[str, list[str]] = {}
        for name, value in pairs:
            multi.setdefault(name, []).append(value)
        params = {name: values[-1] for name, values in multi.items()}
        self.received = Received(
            method=self.command,
            path=split.path,
            action=params.get("action"),
            params=params,
            multi=multi,
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
        )
        reply = self.panel.reply_for(self.received)
        try:
            reply.send(self)
        except OSError:
            self.close_connection = True  # the client went away (e.g. after its timeout)

    def send_body(
        self, status: int, data: bytes, content_type: str, headers: Mapping[str, str]
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()

    def abort(self) -> None:
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    panel: FakePanel

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, OSError):
            return  # connection reset, broken pipe: the client's business
        self.panel.errors.append(exc if isinstance(exc, BaseException) else RuntimeError())
        traceback.print_exc()


class FakePanel:
    """A scriptable API v2 panel on ``127.0.0.1``. Use as a context manager (or
    :meth:`start` / :meth:`stop`).

    ``key``: if given, requests with another key are answered ``Invalid API key``.
    ``path``: the path :attr:`url` points to (every path is served alike).
    """

    def __init__(self, *, key: str | None = None, path: str = "/api/v2") -> None:
        self.key = key
        self.path = path
        self.stopping = threading.Event()
        self.errors: list[BaseException] = []
        self._lock = threading.Condition()
        self._requests: list[Received] = []
        self._scripts: dict[str, list[Any]] = {}
        self._connections: set[socket.socket] = set()
        self._threads: set[threading.Thread] = set()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle -----------------------------------------------------------------

    def start(self) -> FakePanel:
        if self._server is not None:
            return self
        server = _Server(("127.0.0.1", 0), _Handler)
        server.panel = self
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        self.stopping.set()
        server.shutdown()
        with self._lock:
            connections = list(self._connections)
            threads = list(self._threads)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        server.server_close()
        for thread in threads:
            thread.join(timeout=5)
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FakePanel:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the fake panel is not running")
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        """The API endpoint: ``http://127.0.0.1:<port>/api/v2``."""
        return self.base_url + self.path

    # --- scripting -----------------------------------------------------------------

    def on(self, action: str, *replies: Any) -> FakePanel:
        """Script ``action``: answer with each reply in turn, the last one repeating."""
        if not replies:
            raise ValueError("give at least one reply")
        with self._lock:
            self._scripts[action] = list(replies)
        return self

    def use_seed(self) -> FakePanel:
        """Script every action with the seed document's example answers."""
        for action, reply in SEED.items():
            self.on(action, reply)
        return self

    def reset(self) -> None:
        """Forget the scripts, the recorded requests and the errors."""
        with self._lock:
            self._scripts.clear()
            self._requests.clear()
            self.errors.clear()

    # --- what was received ---------------------------------------------------------

    @property
    def requests(self) -> list[Received]:
        """Every request received so far, oldest first."""
        with self._lock:
            return list(self._requests)

    def received(self, action: str | None = None) -> list[Received]:
        """The requests for ``action`` (all requests if None)."""
        return [r for r in self.requests if action is None or r.action == action]

    def count(self, action: str | None = None) -> int:
        return len(self.received(action))

    def last(self, action: str | None = None) -> Received:
        found = self.received(action)
        if not found:
            raise AssertionError(f"the fake panel received no {action or ''} request")
        return found[-1]

    def wait_for(self, count: int, action: str | None = None, timeout: float = 5.0) -> None:
        """Block until ``count`` requests (for ``action``) were received."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while sum(action is None or r.action == action for r in self._requests) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"fewer than {count} {action or ''} requests arrived")
                self._lock.wait(left)

    # --- used by the handler -------------------------------------------------------

    def track(self, conn: socket.socket) -> None:
        with self._lock:
            self._connections.add(conn)
            self._threads.add(threading.current_thread())

    def untrack(self, conn: socket.socket) -> None:
        with self._lock:
            self._connections.discard(conn)
            self._threads.discard(threading.current_thread())

    def reply_for(self, received: Received) -> Reply:
        with self._lock:
            self._requests.append(received)
            self._lock.notify_all()
            if self.key is not None and received.key != self.key:
                return Json({"error": "Invalid API key"})
            script = self._scripts.get(received.action or "")
            if script is None:
                return Json({"error": "Incorrect request"})
            spec = script.pop(0) if len(script) > 1 else script[0]
        return self.resolve(spec, received)

    def resolve(self, spec: Any, received: Received) -> Reply:
        if isinstance(spec, Reply):
            return spec
        if callable(spec):
            try:
                result = spec(received)
            except Exception as exc:
                self.errors.append(exc)
                return Text("fake panel: reply callable raised", status=500)
            return self.resolve(result, received)
        return Json(spec)


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (connections to it are refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# The example answers of the seed document (docs of a real panel), per action. The
# ``status``, ``refill`` and ``refill_status`` entries answer the single-id and the
# multi-id forms alike.
def _seed_status(received: Received) -> Any:
    if "orders" in received.params:
        return SEED_MULTI["status"]
    return SEED_SINGLE["status"]


def _seed_refill(received: Received) -> Any:
    if "orders" in received.params:
        return SEED_MULTI["refill"]
    return SEED_SINGLE["refill"]


def _seed_refill_status(received: Received) -> Any:
    if "refills" in received.params:
        return SEED_MULTI["refill_status"]
    return SEED_SINGLE["refill_status"]


SEED_SINGLE: dict[str, Any] = {
    "services": [
        {
            "service": 1,
            "name": "Followers",
            "type": "Default",
            "category": "First Category",
            "rate": "0.90",
            "min": "50",
            "max": "10000",
            "refill": True,
            "cancel": True,
        }
    ],
    "add": {"order": 23501},
    "status": {
        "charge": "0.27819",
        "start_count": "3572",
        "status": "Partial",
        "remains": "157",
        "currency": "USD",
    },
    "refill": {"refill": "1"},
    "refill_status": {"status": "Completed"},
    "cancel": [{"order": 9, "cancel": {"error": "Incorrect order ID"}}, {"order": 2, "cancel": 1}],
    "balance": {"balance": "100.84292", "currency": "USD"},
}

SEED_MULTI: dict[str, Any] = {
    "status": {
        "1": {
            "charge": "0.27819",
            "start_count": "3572",
            "status": "Partial",
            "remains": "157",
            "currency": "USD",
        },
        "10": {"error": "Incorrect order ID"},
        "100": {
            "charge": "1.44219",
            "start_count": "234",
            "status": "In progress",
            "remains": "10",
            "currency": "USD",
        },
    },
    "refill": [
        {"order": 1, "refill": 1},
        {"order": 2, "refill": 2},
        {"order": 3, "refill": {"error": "Incorrect order ID"}},
    ],
    "refill_status": [
        {"refill": 1, "status": "Completed"},
        {"refill": 2, "status": "Rejected"},
        {"refill": 3, "status": {"error": "Refill not found"}},
    ],
}

SEED: dict[str, Any] = {
    "services": SEED_SINGLE["services"],
    "add": SEED_SINGLE["add"],
    "status": _seed_status,
    "refill": _seed_refill,
    "refill_status": _seed_refill_status,
    "cancel": SEED_SINGLE["cancel"],
    "balance": SEED_SINGLE["balance"],
}
