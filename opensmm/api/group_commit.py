"""Group commit for the API v2 writes (``add``, ``cancel``, ``refill``): the requests that
arrive together share one transaction.

Placing an order is a handful of statements and one commit; on SQLite every unit of work
also waits for the one write lock (``BEGIN IMMEDIATE``), and on PostgreSQL every order of
an account waits on the account's row from its charge to its commit (docs/performance.md).
Here the ``add``, ``cancel`` and ``refill`` requests that arrive in one process within a
short window (or until a batch is full) are run in ONE transaction, in arrival order, each
``add`` in its own SAVEPOINT, each id of a ``cancel`` or ``refill`` in its own (alone, each
id is its own transaction: one refused id does not undo the others):

- each keeps its own checks, answer, order and ledger entry, with the same rules and locks
  as alone (``opensmm.api.actions.add_in``, ``cancel_in``, ``refill_in`` are the same
  code); a refusal, or any unexpected exception, rolls back its own savepoint only (the
  ids of a ``cancel`` done before it stay done, as alone), and the others go on;
- nobody is answered before the batch's COMMIT succeeds: a crash before it acknowledges
  nothing, after it everything;
- a failure of the batch itself before COMMIT (the savepoint machinery, a lost connection,
  a deadlock) rolls everything back, and every request is then placed alone, one at a time,
  as without group commit (nothing was committed, so nothing is placed twice);
- a failure of the COMMIT itself answers every request of the batch with the internal
  error: on a server across a network a COMMIT that failed may still have committed, and
  retrying would place the orders twice. Nobody is ever answered an order that was not
  committed. (An ``add`` alone answers the same when its COMMIT fails.)

Rate limits, the maintenance switch and the key's format are checked per request before
it joins a batch (``ApiEndpoint.answer``); the key itself, like everything else, inside.

While a batch runs, the next one gathers. On SQLite there is one line of batches (one
writer at a time anyway). On PostgreSQL there is one line per API key, so that a batch
holds one account's row, as one order does, and the batches of different customers run
side by side. A batch locks up front, before any of its work: first the caller's orders
its ``cancel`` and ``refill`` requests name (by id), then its account (if an ``add`` or a
``cancel`` is in it). That is the order of the one at a time path (an order's row, then
its account's), and the idempotency keys are claimed under the account's lock (two
batches of one account never hold keys the other waits for).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import anyio
from sqlalchemy import select
from sqlalchemy.orm import Session

from opensmm.accounts.models import ApiKey, User
from opensmm.api import actions
from opensmm.api.params import Params
from opensmm.db import Database
from opensmm.observability.requests import RequestRecord, current_request
from opensmm.orders.models import Order

log = logging.getLogger("opensmm.api")

class GroupCommitFailed(RuntimeError):
    """The batch's COMMIT failed: this request's order may or may not exist."""


@dataclass(slots=True)
class Outcome:
    """One request's result: its answer, or what it raises (a refusal, an error)."""

    value: Any = None
    error: BaseException | None = None

    def result(self) -> Any:
        if self.error is not None:
            raise self.error
        return self.value


# The API's writes that go through group commit: each answers exactly as alone.
GROUPED_ACTIONS = frozenset({"add", "cancel", "refill"})


class BatchBroken(RuntimeError):
    """A savepoint could not be opened, released or rolled back: the batch's transaction
    is not to be trusted any further (the batch is rolled back, each request placed alone)."""


@dataclass(slots=True)
class _Item:
    action: str
    key_hash: str
    params: Params
    record: RequestRecord | None
    future: asyncio.Future[Outcome]
    arrived: float = field(default=0.0)


class _Queue:
    """The requests waiting for one batch line, and its batch in flight (at most one)."""

    __slots__ = ("in_flight", "pending", "timer")

    def __init__(self) -> None:
        self.pending: list[_Item] = []
        self.in_flight = False
        self.timer: asyncio.TimerHandle | None = None


class GroupCommit:
    """Gathers one process's ``add``, ``cancel`` and ``refill`` requests into batches (one
    per ``Database``).

    On SQLite, one line of batches for all (one writer at a time anyway). On PostgreSQL one
    line per API key: a batch then holds one account's row lock, as one order does, and the
    batches of different customers run side by side as their orders did; a customer's
    orders, which queued one by one on that row, now go through it a batch at a time.
    """

    def __init__(
        self,
        db: Database,
        currency: str,
        limiter: anyio.CapacityLimiter,
        *,
        window_seconds: float,
        max_batch: int,
    ) -> None:
        if window_seconds < 0 or max_batch < 1:
            raise ValueError("the group commit's window must be >= 0 and its batch >= 1")
        self.db = db
        self.currency = currency
        self.limiter = limiter
        self.window = window_seconds
        self.max_batch = max_batch
        self.per_key = not db.is_sqlite
        self._queues: dict[str, _Queue] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        # What the batches were: for the tests and the benchmark's curiosity.
        self.batch_sizes: list[int] = []

    async def submit(
        self, action: str, key_hash: str, params: Params, record: RequestRecord | None
    ) -> Any:
        """Run this ``add``, ``cancel`` or ``refill`` with the others that arrive with it;
        its answer, once the batch is committed (or its refusal raised, as alone)."""
        if action not in GROUPED_ACTIONS:
            raise ValueError(f"{action!r} does not go through group commit")
        loop = asyncio.get_running_loop()
        line = key_hash if self.per_key else ""
        queue = self._queues.get(line)
        if queue is None:
            queue = self._queues[line] = _Queue()
        item = _Item(action, key_hash, params, record, loop.create_future(), loop.time())
        queue.pending.append(item)
        self._schedule(line, queue)
        outcome = await item.future
        return outcome.result()

    def _schedule(self, line: str, queue: _Queue) -> None:
        """Start the line's next batch if it may start now; else make sure a timer will."""
        loop = asyncio.get_running_loop()
        if queue.in_flight:
            return  # the next batch gathers meanwhile; it starts when this one ends
        if not queue.pending:
            if self._queues.get(line) is queue:
                del self._queues[line]  # an idle line costs nothing
            return
        wait = queue.pending[0].arrived + self.window - loop.time()
        if len(queue.pending) < self.max_batch and wait > 0:
            if queue.timer is None:
                queue.timer = loop.call_later(wait, self._on_timer, line, queue)
            return
        if queue.timer is not None:
            queue.timer.cancel()
            queue.timer = None
        batch = queue.pending[: self.max_batch]
        del queue.pending[: self.max_batch]
        queue.in_flight = True
        task = loop.create_task(self._run(line, queue, batch))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _on_timer(self, line: str, queue: _Queue) -> None:
        queue.timer = None
        self._schedule(line, queue)

    async def _run(self, line: str, queue: _Queue, batch: list[_Item]) -> None:
        self.batch_sizes.append(len(batch))
        try:
            outcomes = await anyio.to_thread.run_sync(
                self._place_batch, batch, limiter=self.limiter
            )
        except Exception as exc:  # noqa: BLE001 - every waiting request answers it
            outcomes = [Outcome(error=exc) for _ in batch]
        finally:
            queue.in_flight = False
            self._schedule(line, queue)
        for item, outcome in zip(batch, outcomes, strict=True):
            if not item.future.done():  # its request may have been cancelled meanwhile
                item.future.set_result(outcome)

    # --- in a worker thread ------------------------------------------------------------

    def _place_batch(self, batch: list[_Item]) -> list[Outcome]:
        committing = False
        session = self.db.write_session()
        try:
            session.begin()
            if not self.db.is_sqlite:
                _lock_up_front(session, batch)
            outcomes = [self._one(session, item) for item in batch]
            committing = True
            session.commit()
            return outcomes
        except Exception as exc:
            _rollback_quietly(session)
            if committing:
                log.exception("group commit: the COMMIT of %d requests failed", len(batch))
                return [_commit_failed(exc) for _ in batch]
            log.warning(
                "group commit: a batch of %d failed before its commit; each placed alone",
                len(batch), exc_info=True,
            )
        finally:
            session.close()
        return [self._alone(item) for item in batch]

    def _one(self, session: Session, item: _Item) -> Outcome:
        """One request: ``add`` in its own savepoint, ``cancel`` and ``refill`` a savepoint
        per id, as alone a transaction per id; a refusal rolls back only its own work."""
        token = current_request.set(item.record)  # its key id, its address (auth)
        try:
            units = _savepoints(session)
            if item.action == "add":
                with units.each() as inner:
                    value = actions.add_in(inner, item.key_hash, item.params)
            elif item.action == "cancel":
                value = actions.cancel_in(self.db, units, item.key_hash, item.params)
            else:
                value = actions.refill_in(self.db, units, item.key_hash, item.params)
            return Outcome(value=value)
        except BatchBroken:
            raise  # the batch fails: each request is then placed alone
        except Exception as exc:  # noqa: BLE001 - a refusal or not, it is this one's
            return Outcome(error=exc)
        finally:
            current_request.reset(token)

    def _alone(self, item: _Item) -> Outcome:
        token = current_request.set(item.record)
        try:
            action = actions.ACTIONS[item.action]
            return Outcome(value=action(self.db, item.key_hash, item.params, self.currency))
        except Exception as exc:  # noqa: BLE001 - answered by the endpoint, as alone
            return Outcome(error=exc)
        finally:
            current_request.reset(token)


def _savepoints(session: Session) -> actions.Units:
    """A request's units of work inside the batch: each a savepoint of its transaction."""

    @contextmanager
    def savepoint() -> Iterator[Session]:
        try:
            nested = session.begin_nested()
        except Exception as exc:
            raise BatchBroken("SAVEPOINT failed") from exc
        try:
            yield session
        except BaseException:
            try:
                nested.rollback()
            except Exception as exc:
                raise BatchBroken("ROLLBACK TO SAVEPOINT failed") from exc
            raise
        try:
            nested.commit()  # RELEASE SAVEPOINT; the batch's COMMIT makes it last
        except Exception as exc:
            raise BatchBroken("RELEASE SAVEPOINT failed") from exc

    # The key's check too: a statement that fails in it must not leave the batch's
    # transaction aborted (PostgreSQL) with the others' work in it.
    return actions.Units(check=savepoint, each=savepoint)


def _lock_up_front(session: Session, batch: list[_Item]) -> None:
    """On PostgreSQL, before any of the batch's work (one key per batch, so one account):
    first the caller's orders that its ``cancel`` and ``refill`` requests name, by id, then
    the account if an ``add`` or a ``cancel`` may move money. The order of the one at a
    time path (an order's row, then its account's: ``cancel_by_customer``, the worker's
    ``apply_update``), so that a batch never holds the account while it waits for an order
    that someone waits to charge or refund on the account. Rows of other customers' orders
    are not held for the batch: each such id locks and is refused in its own savepoint, as
    alone."""
    hashes = sorted({item.key_hash for item in batch})
    ids = sorted({
        number
        for item in batch
        if item.action != "add"
        for number in actions.named_ids(item.params)
    })
    if ids:
        session.execute(
            select(Order.id)
            .join(ApiKey, ApiKey.user_id == Order.user_id)
            .where(
                Order.id.in_(ids), ApiKey.key_hash.in_(hashes), ApiKey.revoked_at.is_(None)
            )
            .order_by(Order.id)
            .with_for_update(of=Order)
        ).all()
    if any(item.action in ("add", "cancel") for item in batch):
        _lock_accounts(session, batch)


def _lock_accounts(session: Session, batch: list[_Item]) -> None:
    """Lock the caller's account (one key per batch on PostgreSQL) before the batch's own
    work: its idempotency keys are then claimed under that lock, and another batch of the
    account waits here, holding no key. FOR NO KEY UPDATE, as the ledger's own lock
    (opensmm.ledger.service), which then finds the row already held. An unknown or revoked
    key locks nothing: its requests are refused inside.
    """
    hashes = sorted({item.key_hash for item in batch})
    session.execute(
        select(User.id)
        .join(ApiKey, ApiKey.user_id == User.id)
        .where(ApiKey.key_hash.in_(hashes), ApiKey.revoked_at.is_(None))
        .order_by(User.id)
        .with_for_update(key_share=True, of=User)
    ).all()


def _commit_failed(cause: Exception) -> Outcome:
    error = GroupCommitFailed("the group commit's COMMIT failed")
    error.__cause__ = cause
    return Outcome(error=error)


def _rollback_quietly(session: Session) -> None:
    try:
        session.rollback()
    except Exception:  # the connection is gone: it is dropped with the session
        log.debug("rolling back a failed batch failed", exc_info=True)

