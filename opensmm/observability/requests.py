"""What one API request did, for its log line and its metrics.

The endpoint creates a ``RequestRecord`` and puts it in a context variable; the worker thread
that runs the action sees the same object (anyio copies the context into the thread), so the
key lookup that every request already does can note the key's id here: the log line needs no
query of its own.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass

from opensmm.observability import metrics
from opensmm.observability.access import AccessLog
from opensmm.observability.logs import scrub

# Outcomes (also the ``outcome`` label of the request metrics).
OK = "ok"  # answered without {"error": ...} at the top level
REFUSED = "refused"  # a domain refusal: not enough funds, incorrect order ID, ...
INVALID_KEY = "invalid_key"  # unknown, revoked or malformed key, or outside its allow-list
LIMITED = "limited"  # rate limited
FAILED = "failed"  # an unexpected error (logged with its traceback, answered generically)


@dataclass(slots=True)
class RequestRecord:
    ip: str
    action: str = "none"
    outcome: str = OK
    key_id: int | None = None
    error: str | None = None
    retry_after: int | None = None


current_request: ContextVar[RequestRecord | None] = ContextVar("opensmm_request", default=None)


def finish(record: RequestRecord, seconds: float, access_log: AccessLog | None) -> None:
    """Count the request and write its one log line (never the key: only its id)."""
    metrics.observe_request(record.action, record.outcome, seconds)
    if access_log is not None and access_log.enabled:
        access_log.write({
            "ip": record.ip,
            "key_id": record.key_id,
            "action": record.action,  # a known action's name, "unknown" or "none"
            "outcome": record.outcome,
            # A refusal's public message; scrubbed all the same, as it may quote the request.
            "error": scrub(record.error) if record.error else None,
            "ms": round(seconds * 1000, 2),
        })
