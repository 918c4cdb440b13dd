"""The API's log line per request, written in batches.

Through ``logging`` a line cost a record, a handler lock and a ``write`` to stderr per request:
about a third of a ``status`` answer's CPU time (docs/performance.md). Here the line is
formatted directly, in the shape the process's formatter gives every other line (JSON or
text), kept in memory and written with the lines of the same moment in one ``write``: at the
latest ``FLUSH_SECONDS`` after it was made, at once when ``MAX_LINES`` are waiting, and when
the server stops (``ApiEndpoint.close``, at the lifespan's shutdown; ``atexit`` as well, for a
process that ends otherwise). A process killed with SIGKILL loses at most the last half second
of lines.
"""

from __future__ import annotations

import asyncio
import atexit
import sys
import threading
import time
from typing import Any, TextIO

from opensmm.observability.logs import json_line, text_line
from opensmm.settings import Settings

LOGGER = "opensmm.access"
FLUSH_SECONDS = 0.5
MAX_LINES = 256


class AccessLog:
    def __init__(self, settings: Settings, stream: TextIO | None = None) -> None:
        self.enabled = settings.access_log and settings.log_level.upper() in ("DEBUG", "INFO")
        self._format = text_line if settings.log_format == "text" else json_line
        self._stream = stream
        self._lines: list[str] = []
        # Lines come from the event loop; flush also runs at exit, from another thread maybe.
        self._lock = threading.Lock()
        self._flush_pending = False
        if self.enabled:
            atexit.register(self.flush)

    def write(self, fields: dict[str, Any]) -> None:
        """One request's line (``fields`` must hold only safe values: nothing is scrubbed)."""
        line = self._format(time.time(), "INFO", LOGGER, "api", fields)
        with self._lock:
            self._lines.append(line)
            waiting = len(self._lines)
            schedule = not self._flush_pending
            self._flush_pending = True
        if waiting >= MAX_LINES:
            self.flush()
        elif schedule:
            self._schedule_flush()

    def _schedule_flush(self) -> None:
        try:
            asyncio.get_running_loop().call_later(FLUSH_SECONDS, self.flush)
        except RuntimeError:  # no event loop in this thread: nothing would flush later
            self.flush()

    def flush(self) -> None:
        with self._lock:
            lines, self._lines = self._lines, []
            self._flush_pending = False
        if lines:
            stream = self._stream or sys.stderr  # looked up late: tests replace sys.stderr
            stream.write("\n".join(lines) + "\n")
            stream.flush()
