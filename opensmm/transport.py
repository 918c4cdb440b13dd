"""The HTTP/1.1 protocol ``opensmm serve`` gives uvicorn: its httptools one, minus a flaw.

A request that offers a protocol upgrade (``Connection: Upgrade, HTTP2-Settings`` with
``Upgrade: h2c``: the JDK's ``HttpClient`` with its defaults, PHP curl with
``CURL_HTTP_VERSION_2_0``, ``curl --http2``) is, for llhttp (the parser inside httptools),
a message that ends with its headers: whatever follows belongs to the new protocol. So the
body never reaches the application (every action answers "Invalid API key"), and when the
body comes in a packet of its own, uvicorn parses it as a new request and answers a stray
``400 text/plain``. A server may ignore an upgrade offer (RFC 9110 §7.8) and answer in
HTTP/1.1; that is what this protocol does.

How: when the headers of such a request are complete, the request is not started. llhttp
then stops and says where the "upgraded" bytes begin; the request line and the headers,
without the offer, are fed with those bytes to a fresh parser, which reads the request
(body included, Content-Length or chunked) as an ordinary one. Requests without an upgrade
offer pay one C call (``should_upgrade``) per request. WebSocket upgrades are left to
uvicorn as before (opensmm serves none).

Every response also announces ``Keep-Alive: timeout=N`` (``OPENSMM_KEEPALIVE_SECONDS``): an
idle pooled connection is then dropped by the client before the server closes it, instead
of racing it ("socket hang up" in Node, whose pools keep sockets 5 s by default).
"""

from __future__ import annotations

import contextlib

import httptools
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from opensmm.security.read_timeout import BodyDeadlineMixin, ReadTimeoutMixin

# Headers that belong to the upgrade offer, dropped when it is ignored (RFC 9113 §3.2).
_OFFER_HEADERS = frozenset({b"upgrade", b"http2-settings"})
_OFFER_TOKENS = frozenset({b"upgrade", b"http2-settings"})


class OpenSMMHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, ignoring upgrade offers other than WebSocket's."""

    _ignored_offer = False

    def on_headers_complete(self) -> None:
        if self.parser.should_upgrade() and self._get_upgrade() not in (None, b"websocket"):
            # An offer (``Upgrade`` named in ``Connection``) of anything but WebSocket: read
            # again below, without it. CONNECT, and WebSocket, stay uvicorn's business.
            self._ignored_offer = True
            return
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        if self._ignored_offer:
            return
        super().on_message_complete()

    def data_received(self, data: bytes) -> None:
        self._unset_keepalive_if_required()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            msg = "Invalid HTTP request received."
            self.logger.warning(msg)
            self.send_400_response(msg)
        except httptools.HttpParserUpgrade as upgrade:
            if not self._ignored_offer:  # a WebSocket upgrade: uvicorn's own path, unchanged
                if self._should_upgrade():
                    self.handle_websocket_upgrade()
                else:
                    self._unsupported_upgrade_warning()
                return
            self._read_without_offer(data[_offset(upgrade, len(data)) :])

    def _read_without_offer(self, rest: bytes) -> None:
        """Read the offering request again, as plain HTTP/1.1, with what followed it."""
        self._ignored_offer = False
        version = self.parser.get_http_version().encode("ascii")
        method = self.parser.get_method()
        head = [method, b" ", self.url, b" HTTP/", version, b"\r\n"]
        for name, value in self.headers:
            if name in _OFFER_HEADERS:
                continue
            if name == b"connection":
                kept = [t for t in value.split(b",") if t.strip().lower() not in _OFFER_TOKENS]
                if not kept:
                    continue
                head += [name, b": ", b",".join(kept).strip(), b"\r\n"]
                continue
            head += [name, b": ", value, b"\r\n"]
        head.append(b"\r\n")
        self.parser = httptools.HttpRequestParser(self)
        with contextlib.suppress(AttributeError):  # as uvicorn sets up its own parser
            self.parser.set_dangerous_leniencies(lenient_data_after_close=True)
        self.data_received(b"".join(head) + rest)


def _offset(upgrade: httptools.HttpParserUpgrade, size: int) -> int:
    """Where the bytes after the offering request's headers start, in the packet fed."""
    if upgrade.args and isinstance(upgrade.args[0], int) and 0 <= upgrade.args[0] <= size:
        return int(upgrade.args[0])
    return size


class ServeProtocol(BodyDeadlineMixin, ReadTimeoutMixin, OpenSMMHttpProtocol):
    """What ``opensmm serve`` runs: h2c offers read as HTTP/1.1, and deadlines on each
    request's head and body (``opensmm.security.read_timeout``)."""
