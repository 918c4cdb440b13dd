"""A deadline for reading a request's head (uvicorn has none of its own).

uvicorn closes a kept-alive connection that stays silent (``timeout_keep_alive``), but a
client that sends its request line and headers a byte at a time keeps the connection, and
its memory, forever: every byte cancels that timer. Neither h11 nor httptools bounds the
time a head may take. So each connection here gets a watchdog: from the moment it opens,
and again after each response, the next request's head must be complete within
``OPENSMM_READ_TIMEOUT_SECONDS`` or the connection is closed. A request whose head has
arrived is never cut (a slow page or a long upload is not this timer's business).

``opensmm serve`` runs uvicorn with ``http=PROTOCOL`` (below). ``ReadTimeoutMixin`` goes
before uvicorn's protocol class, and composes with other mixins over the same class.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from opensmm.settings import get_settings

PROTOCOL = "opensmm.security.read_timeout:ReadTimeoutProtocol"


class ReadTimeoutMixin:
    """Closes a connection whose next request head is not complete in time."""

    # Provided by uvicorn's protocol classes (h11 and httptools alike).
    loop: asyncio.AbstractEventLoop
    transport: asyncio.Transport
    cycle: Any
    _head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)  # type: ignore[misc]
        self._arm_head_timer()

    def on_response_complete(self) -> None:
        super().on_response_complete()  # type: ignore[misc]
        if not getattr(self, "pipeline", None):  # a pipelined request's head is already in
            self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_timer()
        super().connection_lost(exc)  # type: ignore[misc]

    def _arm_head_timer(self) -> None:
        self._cancel_head_timer()
        seconds = get_settings().read_timeout_seconds
        if seconds > 0 and not self.transport.is_closing():
            # The cycle of the request just answered (None on a new connection): a new
            # head replaces it.
            self._head_timer = self.loop.call_later(seconds, self._head_timed_out, self.cycle)

    def _cancel_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self, answered: Any) -> None:
        self._head_timer = None
        if self.cycle is answered and not self.transport.is_closing():
            self.transport.close()


class BodyDeadlineMixin:
    """Closes a connection whose request body is not complete in time.

    The head's deadline leaves a request alone once its head is in; a client that then sends
    its body a byte at a time would hold the connection (and a worker thread, for a page
    that reads its form) for as long as it likes. From the moment the head is complete, the
    body must be complete within ``OPENSMM_BODY_TIMEOUT_SECONDS``: the whole body, not
    between two reads (nginx's ``client_body_timeout`` is between reads, which a byte every
    few seconds never trips). The default (60 s) carries the largest body the panel takes
    (a 2 MB proof of payment) over a slow mobile link. For httptools' protocol, whose parser
    calls ``on_headers_complete`` and ``on_message_complete``.
    """

    loop: asyncio.AbstractEventLoop
    transport: asyncio.Transport
    cycle: Any
    _body_timer: asyncio.TimerHandle | None = None

    def on_headers_complete(self) -> None:
        super().on_headers_complete()  # type: ignore[misc]
        self._cancel_body_timer()
        seconds = get_settings().body_timeout_seconds
        cycle = self.cycle
        if seconds > 0 and cycle is not None and getattr(cycle, "more_body", False):
            self._body_timer = self.loop.call_later(seconds, self._body_timed_out, cycle)

    def on_message_complete(self) -> None:
        super().on_message_complete()  # type: ignore[misc]
        if self.cycle is None or not getattr(self.cycle, "more_body", True):
            self._cancel_body_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_body_timer()
        super().connection_lost(exc)  # type: ignore[misc]

    def _cancel_body_timer(self) -> None:
        if self._body_timer is not None:
            self._body_timer.cancel()
            self._body_timer = None

    def _body_timed_out(self, cycle: Any) -> None:
        self._body_timer = None
        if cycle.more_body and not self.transport.is_closing():
            self.transport.close()


class ReadTimeoutProtocol(BodyDeadlineMixin, ReadTimeoutMixin, HttpToolsProtocol):
    """uvicorn's httptools protocol (its "auto" choice: httptools comes with
    ``uvicorn[standard]``) with the head and body deadlines."""


class ReadTimeoutH11Protocol(ReadTimeoutMixin, H11Protocol):
    """The same over h11 (``uvicorn --http h11``)."""
