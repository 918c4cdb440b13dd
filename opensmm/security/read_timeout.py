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
    """Closes a connection whose next request head is not complete in time.

    The timer is lazy: each response only moves the deadline (a float), and the one timer
    of the connection, when it fires, sets itself again for the deadline it finds. A timer
    made and cancelled per request cost a few microseconds of the event loop's time on
    every answer (docs/performance.md, fourth round); the connections are closed at the
    same moments."""

    # Provided by uvicorn's protocol classes (h11 and httptools alike).
    loop: asyncio.AbstractEventLoop
    transport: asyncio.Transport
    cycle: Any
    _head_timer: asyncio.TimerHandle | None = None
    # When the head being waited for must be complete (None: no head is waited for), and
    # the cycle of the request answered just before (None on a new connection): a new
    # head replaces it.
    _head_deadline: float | None = None
    _head_answered: Any = None
    _head_timer_at = 0.0  # the deadline the timer was set for

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
        seconds = get_settings().read_timeout_seconds
        if seconds <= 0 or self.transport.is_closing():
            self._head_deadline = None
            return
        self._head_deadline = self.loop.time() + seconds
        self._head_answered = self.cycle
        if self._head_timer is None:
            self._set_head_timer(self._head_deadline)

    def _cancel_head_timer(self) -> None:
        self._head_deadline = None
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _set_head_timer(self, deadline: float) -> None:
        self._head_timer_at = deadline
        self._head_timer = self.loop.call_at(deadline, self._head_due)

    def _head_due(self) -> None:
        self._head_timer = None
        deadline = self._head_deadline
        if deadline is None or self.transport.is_closing():
            return
        if self.cycle is not self._head_answered:
            self._head_deadline = None  # a head came in: armed again after its response
            return
        if deadline > self._head_timer_at:  # answers since: the wait started later
            self._set_head_timer(deadline)
            return
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
    calls ``on_headers_complete`` and ``on_message_complete``. Lazy like the head's timer:
    a request only sets its deadline, the connection's one timer looks when it fires.
    """

    loop: asyncio.AbstractEventLoop
    transport: asyncio.Transport
    cycle: Any
    _body_timer: asyncio.TimerHandle | None = None
    _body_deadline: float = 0.0
    _body_cycle: Any = None  # the request whose body is awaited (None: none is)
    _body_timer_at = 0.0  # the deadline the timer was set for

    def on_headers_complete(self) -> None:
        super().on_headers_complete()  # type: ignore[misc]
        seconds = get_settings().body_timeout_seconds
        cycle = self.cycle
        if seconds > 0 and cycle is not None and getattr(cycle, "more_body", False):
            self._body_cycle = cycle
            self._body_deadline = self.loop.time() + seconds
            if self._body_timer is None:
                self._set_body_timer(self._body_deadline)
        else:
            self._body_cycle = None

    def on_message_complete(self) -> None:
        super().on_message_complete()  # type: ignore[misc]
        if self.cycle is None or not getattr(self.cycle, "more_body", True):
            self._body_cycle = None

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_body_timer()
        super().connection_lost(exc)  # type: ignore[misc]

    def _cancel_body_timer(self) -> None:
        self._body_cycle = None
        if self._body_timer is not None:
            self._body_timer.cancel()
            self._body_timer = None

    def _set_body_timer(self, deadline: float) -> None:
        self._body_timer_at = deadline
        self._body_timer = self.loop.call_at(deadline, self._body_due)

    def _body_due(self) -> None:
        self._body_timer = None
        cycle = self._body_cycle
        if cycle is None or self.transport.is_closing():
            return
        if self._body_deadline > self._body_timer_at:  # a later request's body is awaited
            self._set_body_timer(self._body_deadline)
            return
        if cycle.more_body:
            self.transport.close()


class ReadTimeoutProtocol(BodyDeadlineMixin, ReadTimeoutMixin, HttpToolsProtocol):
    """uvicorn's httptools protocol (its "auto" choice: httptools comes with
    ``uvicorn[standard]``) with the head and body deadlines."""


class ReadTimeoutH11Protocol(ReadTimeoutMixin, H11Protocol):
    """The same over h11 (``uvicorn --http h11``)."""
