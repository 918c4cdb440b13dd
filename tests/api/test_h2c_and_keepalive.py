"""Transport, issue 13: requests offering an HTTP/2 upgrade (``Upgrade: h2c``) are read as
HTTP/1.1 with their body; idle connections are kept (and announced) well beyond Node's 5 s;
``//api/v2`` is the API too.

The requests are exact replays of what the clients sent to a capture server (packet by
packet): curl 7.88.1 ``--http2`` (libcurl, which PHP's curl with ``CURL_HTTP_VERSION_2_0``
is too: the same bytes without a User-Agent), and the JDK 17 ``HttpClient`` with its
defaults (``BodyPublishers.ofString``: headers and body in two packets; ``ofInputStream``:
chunked, one packet)."""

from __future__ import annotations

import contextlib
import time
from urllib.parse import urlsplit

import pytest

from tests.api.helpers import JSON_TYPE, connect, read_response
from tests.support.panel import Customer, Panel

KEY = b"KEYKEYKEY"  # replaced by the customer's key (the lengths are recomputed)
BODY = b"key=KEYKEYKEY&action=balance"

CURL = [
    b"POST /api/v2 HTTP/1.1\r\nHost: HOST\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n"
    b"Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n"
    b"HTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\nContent-Length: LENGTH\r\n"
    b"Content-Type: application/x-www-form-urlencoded\r\n\r\nBODY"
]
CURL_CHUNKED = [
    b"POST /api/v2 HTTP/1.1\r\nHost: HOST\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n"
    b"Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n"
    b"HTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\nTransfer-Encoding: chunked\r\n"
    b"Content-Type: application/x-www-form-urlencoded\r\n\r\nCHUNKED"
]
PHP_CURL = [
    b"POST /api/v2 HTTP/1.1\r\nHost: HOST\r\nAccept: */*\r\n"
    b"Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n"
    b"HTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\nContent-Length: LENGTH\r\n"
    b"Content-Type: application/x-www-form-urlencoded\r\n\r\nBODY"
]
JDK = [
    b"POST /api/v2 HTTP/1.1\r\nConnection: Upgrade, HTTP2-Settings\r\nContent-Length: LENGTH\r\n"
    b"Host: HOST\r\nHTTP2-Settings: AAEAAEAAAAIAAAAAAAMAAAAAAAQBAAAAAAUAAEAAAAYABgAA\r\n"
    b"Upgrade: h2c\r\nUser-Agent: Java-http-client/17.0.15\r\n"
    b"Content-Type: application/x-www-form-urlencoded\r\n\r\n",
    b"BODY",
]
JDK_CHUNKED = [
    b"POST /api/v2 HTTP/1.1\r\nConnection: Upgrade, HTTP2-Settings\r\nHost: HOST\r\n"
    b"HTTP2-Settings: AAEAAEAAAAIAAAAAAAMAAAAAAAQBAAAAAAUAAEAAAAYABgAA\r\n"
    b"Transfer-encoding: chunked\r\nUpgrade: h2c\r\nUser-Agent: Java-http-client/17.0.15\r\n"
    b"Content-Type: application/x-www-form-urlencoded\r\n\r\nCHUNKED",
]


def _two_packets(packets: list[bytes]) -> list[bytes]:
    """The same bytes, the headers in one packet and the body in another."""
    whole = b"".join(packets)
    cut = whole.index(b"\r\n\r\n") + 4
    return [whole[:cut], whole[cut:]]


REPLAYS = {
    "curl --http2": CURL,
    "curl --http2, two packets": _two_packets(CURL),
    "curl --http2, chunked": CURL_CHUNKED,
    "curl --http2, chunked, two packets": _two_packets(CURL_CHUNKED),
    "PHP curl HTTP/2": PHP_CURL,
    "PHP curl HTTP/2, two packets": _two_packets(PHP_CURL),
    "JDK HttpClient (two packets)": JDK,
    "JDK HttpClient, one packet": [b"".join(JDK)],
    "JDK HttpClient, chunked": JDK_CHUNKED,
    "JDK HttpClient, chunked, two packets": _two_packets(JDK_CHUNKED),
}


def _packets(panel: Panel, template: list[bytes], body: bytes) -> list[bytes]:
    host = urlsplit(panel.url).netloc.encode()
    chunked = b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in (body[:9], body[9:]))
    chunked += b"0\r\n\r\n"
    out = []
    for packet in template:
        filled = packet.replace(b"HOST", host).replace(b"LENGTH", str(len(body)).encode())
        out.append(filled.replace(b"CHUNKED", chunked).replace(b"BODY", body))
    return out


@pytest.fixture
def customer(panel: Panel) -> Customer:
    return panel.customer(balance="100")


@pytest.mark.parametrize("template", list(REPLAYS.values()), ids=list(REPLAYS))
def test_an_h2c_offer_is_ignored_and_the_body_read(
    panel: Panel, customer: Customer, template: list[bytes]
) -> None:
    body = BODY.replace(KEY, customer.key.encode())
    with connect(panel) as sock:
        for packet in _packets(panel, template, body):
            sock.sendall(packet)
            time.sleep(0.05)  # really two packets
        buffer = bytearray()
        first = read_response(sock, buffer)
        assert (first.status, first.headers["content-type"]) == (200, JSON_TYPE)
        assert first.json() == {"balance": "100.00", "currency": "USD"}
        assert "upgrade" not in first.headers  # answered in HTTP/1.1, no 101
        # The connection goes on in HTTP/1.1, with no stray answer in between.
        sock.sendall(_packets(panel, CURL, body)[0])
        second = read_response(sock, buffer)
        assert second.json() == {"balance": "100.00", "currency": "USD"}
        sock.settimeout(0.3)
        with pytest.raises(TimeoutError):
            extra = sock.recv(1)
            raise AssertionError(f"a stray answer: {extra!r}")
    assert "Unsupported upgrade" not in panel.server_log()


def test_an_order_placed_with_an_h2c_offer_is_placed_once(
    panel: Panel, customer: Customer
) -> None:
    service = panel.service()
    body = (
        f"key={customer.key}&action=add&service={service}"
        "&link=https%3A%2F%2Finstagram.com%2Fh2c&quantity=100"
    ).encode()
    with connect(panel) as sock:
        for packet in _packets(panel, JDK, body):
            sock.sendall(packet)
            time.sleep(0.05)
        placed = read_response(sock).json()
    assert set(placed) == {"order"}
    status = panel.api(customer.key, "status", orders=str(placed["order"]))
    assert status[str(placed["order"])]["remains"] == "100"
    assert panel.balance(customer) < 100  # charged once


def test_keep_alive_is_announced_and_an_idle_connection_outlives_node_s_pool(
    panel: Panel, customer: Customer
) -> None:
    body = BODY.replace(KEY, customer.key.encode())
    request = _packets(panel, CURL, body)[0].replace(
        b"Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n"
        b"HTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n", b""
    )
    with connect(panel) as sock:
        buffer = bytearray()
        sock.sendall(request)
        first = read_response(sock, buffer)
        assert first.headers["keep-alive"] == "timeout=75"
        time.sleep(6)  # Node's pool keeps an idle socket 5 s; the server must keep it longer
        sock.sendall(request)
        again = read_response(sock, buffer)
        assert again.json() == {"balance": "100.00", "currency": "USD"}


@pytest.mark.parametrize("path", ["//api/v2", "//api/v2/"])
def test_a_doubled_slash_is_the_api_too(panel: Panel, customer: Customer, path: str) -> None:
    response = panel.http.post(
        f"{panel.url}{path}", data={"key": customer.key, "action": "balance"}
    )
    assert (response.status_code, response.headers["content-type"]) == (200, JSON_TYPE)
    assert response.json() == {"balance": "100.00", "currency": "USD"}


def test_two_h2c_requests_in_one_packet_are_both_answered(
    panel: Panel, customer: Customer
) -> None:
    body = BODY.replace(KEY, customer.key.encode())
    request = _packets(panel, CURL, body)[0]
    with connect(panel) as sock:
        sock.sendall(request + request)
        buffer = bytearray()
        for _ in range(2):
            assert read_response(sock, buffer).json() == {"balance": "100.00", "currency": "USD"}


def test_connect_is_left_alone(panel: Panel) -> None:
    """CONNECT is an "upgrade" to llhttp too, with no offer to drop: not read again."""
    host = urlsplit(panel.url).netloc.encode()
    with connect(panel) as sock:
        sock.sendall(b"CONNECT example.com:443 HTTP/1.1\r\nHost: " + host + b"\r\n\r\n")
        sock.settimeout(5)
        with contextlib.suppress(TimeoutError):
            sock.recv(65536)  # whatever uvicorn does (nothing, or a close): no loop, no hang
    assert panel.http.get(f"{panel.url}/healthz").status_code == 200
