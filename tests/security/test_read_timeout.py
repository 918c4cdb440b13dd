"""A client that sends its request head a byte at a time is disconnected after
``OPENSMM_READ_TIMEOUT_SECONDS``, and one that sends its body a byte at a time after
``OPENSMM_BODY_TIMEOUT_SECONDS``; normal clients, kept-alive connections and a body slower
than the head's deadline but within the body's are not cut. Against a real ``opensmm serve``."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.support.databases import PostgresServer, SqliteFiles
from tests.support.panel import Panel, running_panel

TIMEOUT = 2.0
# Longer than the head's: a slow body within it is served (below).
BODY_TIMEOUT = 6.0


@pytest.fixture(scope="module")
def panel(database_servers: dict[str, PostgresServer | SqliteFiles]) -> Iterator[Panel]:
    # The database plays no part here: SQLite only.
    env = {"OPENSMM_READ_TIMEOUT_SECONDS": str(TIMEOUT), "OPENSMM_LOG_LEVEL": "warning",
           "OPENSMM_BODY_TIMEOUT_SECONDS": str(BODY_TIMEOUT)}
    with running_panel(database_servers, "sqlite", env=env) as started:
        yield started


def _connect(panel: Panel) -> socket.socket:
    host, port = panel.url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=10)


def _closed(sock: socket.socket) -> bool:
    """Whether the server has closed the connection (without waiting)."""
    sock.setblocking(False)
    try:
        return sock.recv(1) == b""
    except BlockingIOError:
        return False
    except ConnectionError:
        return True
    finally:
        sock.setblocking(True)


def _drip_until_closed(sock: socket.socket, head: bytes, give_up: float) -> float:
    """Send ``head`` one byte a second; the seconds until the server hung up."""
    started = time.monotonic()
    for byte in head:
        if _closed(sock):
            return time.monotonic() - started
        try:
            sock.sendall(bytes([byte]))
        except ConnectionError:
            return time.monotonic() - started
        if time.monotonic() - started > give_up:
            break
        time.sleep(1)
    raise AssertionError(f"still open after {time.monotonic() - started:.1f} s")


def test_a_client_dripping_its_headers_is_disconnected(panel: Panel) -> None:
    head = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 100
    with _connect(panel) as sock:
        seconds = _drip_until_closed(sock, head, give_up=TIMEOUT + 6)
    assert TIMEOUT - 0.5 <= seconds <= TIMEOUT + 2.5


def test_a_kept_alive_connection_dripping_its_next_head_is_disconnected(panel: Panel) -> None:
    with _connect(panel) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert sock.recv(4096).startswith(b"HTTP/1.1 200")
        seconds = _drip_until_closed(sock, b"GET /healthz HTTP/1.1\r\n" * 4, TIMEOUT + 6)
    assert seconds <= TIMEOUT + 2.5


def _response(sock: socket.socket) -> bytes:
    """One whole response (head and Content-Length body), which may come in several reads."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(4096)
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                  if line.lower().startswith(b"content-length:"))
    while len(body) < length:
        body += sock.recv(4096)
    return data


def test_the_deadline_counts_from_the_last_answer(panel: Panel) -> None:
    """The connection's one timer fires while requests still come (its first deadline is
    long past), then cuts the dripped head a whole deadline after the last answer."""
    with _connect(panel) as sock:
        started = time.monotonic()
        while time.monotonic() - started < TIMEOUT * 1.6:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            assert _response(sock).startswith(b"HTTP/1.1 200")
            time.sleep(TIMEOUT / 4)
        seconds = _drip_until_closed(sock, b"GET /healthz HTTP/1.1\r\n" * 4, TIMEOUT + 6)
    assert TIMEOUT - 0.5 - TIMEOUT / 4 <= seconds <= TIMEOUT + 2.5


def test_normal_clients_are_unaffected(panel: Panel) -> None:
    with httpx.Client(base_url=panel.url, timeout=10) as http:
        for _ in range(3):  # one kept-alive connection, a pause between requests
            assert http.get("/healthz").status_code == 200
            time.sleep(TIMEOUT / 2)
        assert http.post("/api/v2", data={"action": "balance"}).status_code == 200


def test_a_slow_body_after_a_complete_head_is_not_cut(panel: Panel) -> None:
    body = b"action=balance&key=" + b"x" * 6
    with _connect(panel) as sock:
        sock.sendall(b"POST /api/v2 HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
                     b"application/x-www-form-urlencoded\r\nContent-Length: "
                     + str(len(body)).encode() + b"\r\n\r\n")
        for chunk in (body[:8], body[8:16], body[16:]):
            time.sleep(TIMEOUT * 0.6)  # more than the head's deadline in all
            sock.sendall(chunk)
        answer = sock.recv(4096)
    assert answer.startswith(b"HTTP/1.1 200"), answer[:200]


def test_a_client_dripping_its_body_is_disconnected(panel: Panel) -> None:
    head = (b"POST /api/v2 HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
            b"application/x-www-form-urlencoded\r\nContent-Length: 500\r\n\r\n")
    with _connect(panel) as sock:
        sock.sendall(head)
        seconds = _drip_until_closed(sock, b"action=balance&key=" + b"x" * 400,
                                     give_up=BODY_TIMEOUT + 8)
    assert BODY_TIMEOUT - 0.5 <= seconds <= BODY_TIMEOUT + 3


def test_a_page_form_dripped_is_disconnected_too(panel: Panel) -> None:
    head = (b"POST /login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
            b"application/x-www-form-urlencoded\r\nContent-Length: 300\r\n\r\n")
    with _connect(panel) as sock:
        sock.sendall(head)
        seconds = _drip_until_closed(sock, b"name=a&password=" + b"b" * 280,
                                     give_up=BODY_TIMEOUT + 8)
    assert seconds <= BODY_TIMEOUT + 3
    # and the server goes on serving
    assert httpx.get(f"{panel.url}/healthz", timeout=10).status_code == 200
