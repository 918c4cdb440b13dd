"""Helpers for the black-box API v2 tests: raw requests, exact answers, "nothing written".

Everything here talks to the running panel over real HTTP (or a raw socket when the test
is about bytes on the wire); the database is only read, to prove what was or was not
written.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import httpx
from sqlalchemy import func, select, text

from opensmm.accounts.models import User
from opensmm.ledger.models import LedgerEntry
from opensmm.orders.models import Order, OrderEvent
from opensmm.refills.models import Refill
from tests.support.panel import Customer, Panel

JSON_TYPE = "application/json"
LINK = "https://instagram.com/p/abc"


def answer(response: httpx.Response) -> Any:
    """The decoded answer, after the checks every API answer must pass (spec §1)."""
    assert response.status_code == 200, (response.status_code, response.text)
    assert response.headers["content-type"] == JSON_TYPE
    assert not response.is_redirect
    return response.json()


def post(panel: Panel, content: bytes | str, content_type: str | None, **kw: Any) -> Any:
    """POST an explicit body with an explicit Content-Type (None: no such header)."""
    headers = dict(kw.pop("headers", {}))
    if content_type is not None:
        headers["Content-Type"] = content_type
    url = kw.pop("url", panel.api_url)
    raw = content.encode() if isinstance(content, str) else content
    return answer(panel.http.post(url, content=raw, headers=headers, **kw))


def form(panel: Panel, body: str, **kw: Any) -> Any:
    return post(panel, body, "application/x-www-form-urlencoded", **kw)


def get(panel: Panel, query: str, **kw: Any) -> Any:
    return answer(panel.http.get(f"{panel.api_url}?{query}", **kw))


def post_json(panel: Panel, data: Any, **kw: Any) -> Any:
    return post(panel, json.dumps(data), "application/json", **kw)


def multipart(
    fields: list[tuple[str, str]], boundary: str = "----opensmmBoundary7MA4YWxk"
) -> tuple[bytes, str]:
    """A multipart/form-data body built by hand (no file parts, like PHP's curl arrays)."""
    parts = []
    for name, value in fields:
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        )
    body = "".join(parts) + f"--{boundary}--\r\n"
    return body.encode("utf-8"), f"multipart/form-data; boundary={boundary}"


# --- raw sockets -----------------------------------------------------------------------


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes
    interim: list[int]  # 1xx status codes seen before the final answer

    def json(self) -> Any:
        assert self.status == 200, (self.status, self.body)
        assert self.headers["content-type"] == JSON_TYPE
        return json.loads(self.body)


def _read_head(sock: socket.socket, buffer: bytearray) -> tuple[int, dict[str, str]]:
    while b"\r\n\r\n" not in buffer:
        chunk = sock.recv(65536)
        if not chunk:
            raise AssertionError(f"connection closed mid-head: {bytes(buffer)!r}")
        buffer.extend(chunk)
    head, _, rest = bytes(buffer).partition(b"\r\n\r\n")
    buffer[:] = rest
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers


def _read_body(sock: socket.socket, buffer: bytearray, headers: dict[str, str]) -> bytes:
    if "content-length" in headers:
        size = int(headers["content-length"])
        while len(buffer) < size:
            chunk = sock.recv(65536)
            if not chunk:
                break
            buffer.extend(chunk)
        return bytes(buffer[:size])
    while chunk := sock.recv(65536):  # read to close (HTTP/1.0 style)
        buffer.extend(chunk)
    return bytes(buffer)


def connect(panel: Panel) -> socket.socket:
    parts = urlsplit(panel.url)
    sock = socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 80), timeout=15)
    return sock


def read_response(sock: socket.socket, buffer: bytearray | None = None) -> RawResponse:
    buffer = bytearray() if buffer is None else buffer
    interim = []
    while True:
        status, headers = _read_head(sock, buffer)
        if status >= 200:
            break
        interim.append(status)
    return RawResponse(status, headers, _read_body(sock, buffer, headers), interim)


def raw_request(panel: Panel, request: bytes) -> RawResponse:
    """Send exact bytes, read one answer."""
    with connect(panel) as sock:
        sock.sendall(request)
        return read_response(sock)


def http_request(
    panel: Panel,
    method: str,
    target: str,
    headers: list[tuple[str, str]],
    body: bytes = b"",
    version: str = "HTTP/1.1",
) -> bytes:
    host = urlsplit(panel.url).netloc
    lines = [f"{method} {target} {version}", f"Host: {host}"]
    lines += [f"{name}: {value}" for name, value in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


# --- state: what a customer has in the database ----------------------------------------


@dataclass(frozen=True)
class Footprint:
    balance: Decimal
    orders: int
    events: int
    refills: int
    entries: int


def footprint(panel: Panel, customer: Customer) -> Footprint:
    with panel.db.read() as session:
        balance = session.scalar(select(User.balance).where(User.id == customer.id))
        assert balance is not None
        orders = select(Order.id).where(Order.user_id == customer.id)
        return Footprint(
            balance=balance,
            orders=session.scalar(select(func.count()).select_from(orders.subquery())) or 0,
            events=session.scalar(
                select(func.count(OrderEvent.id)).where(OrderEvent.order_id.in_(orders))
            )
            or 0,
            refills=session.scalar(
                select(func.count(Refill.id)).where(Refill.user_id == customer.id)
            )
            or 0,
            entries=session.scalar(
                select(func.count(LedgerEntry.id)).where(LedgerEntry.user_id == customer.id)
            )
            or 0,
        )


@contextmanager
def nothing_written(panel: Panel, *customers: Customer) -> Iterator[None]:
    """Assert that the block changes nothing for ``customers`` and the ledger adds up."""
    before = [footprint(panel, c) for c in customers]
    yield
    assert [footprint(panel, c) for c in customers] == before
    assert panel.ledger_mismatches() == []


def order_row(panel: Panel, order_id: int) -> Order:
    with panel.db.read() as session:
        order = session.get(Order, order_id)
        assert order is not None
        return order


def execute_sql(panel: Panel, statement: str, **params: Any) -> None:
    """Direct SQL, for what no API can do (time passing, a corrupted balance)."""
    with panel.db.write() as session:
        session.execute(text(statement), params)


def place(panel: Panel, customer: Customer, service: int, **params: Any) -> int:
    """An order that must be accepted; its id."""
    params.setdefault("link", LINK)
    placed = panel.api(customer.key, "add", service=service, **params)
    assert set(placed) == {"order"}, placed
    assert isinstance(placed["order"], int)
    return int(placed["order"])


def refusal(panel: Panel, customer: Customer, action: str, **params: Any) -> str:
    """The error message of a request that must be refused without writing anything."""
    with nothing_written(panel, customer):
        result = panel.api(customer.key, action, **params)
    assert isinstance(result, dict) and set(result) == {"error"}, result
    message = result["error"]
    assert isinstance(message, str)
    return message
