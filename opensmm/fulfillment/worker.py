"""The worker: sends new orders and refills, follows running ones, brings statuses home.

One pass (:meth:`Worker.run_once`):

1. hold whatever a dead worker left in ``sending`` (in doubt: never resent);
2. send new orders (a few at a time per provider, each marked ``sending`` before its call)
   and new refills; the simulator's are "sent" at once;
3. check running orders that are due, 100 ids per call, forwarding customers' cancels
   first, one transaction per batch of answers;
4. check open refills the same way;
5. now and then: ask the refills auto-refill services are due (``opensmm.refills.auto``),
   refresh the scorecards (``opensmm.scorecards``), and the other housekeeping below.

No transaction is ever open during a call to a provider. A provider that fails is backed
off (all calls); one that has not enough funds or refuses the key gets no new orders for a
while (status checks go on). Several workers may run at once, on several machines: leases
and ``FOR UPDATE SKIP LOCKED`` keep them off each other's orders.
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TypeVar

import httpx

from opensmm.catalog.service import SIMULATOR
from opensmm.currencies import fetch as currency_rates
from opensmm.db import Database
from opensmm.fulfillment import outbox, routing, tracking
from opensmm.fulfillment.config import Tally, WorkerConfig, new_owner
from opensmm.fulfillment.health import (
    ProviderView,
    load_providers,
    record_failure,
    record_success,
)
from opensmm.fulfillment.modes import Modes
from opensmm.fulfillment.protocol import (
    Accepted,
    Fulfillment,
    InDoubt,
    ItemProblem,
    NotSent,
    Observation,
    SendOutcome,
    UpstreamFailure,
)
from opensmm.mail.sender import MailConfig, MailSender
from opensmm.notifications import scan as notifications
from opensmm.notifications.telegram import TelegramConfig, TelegramSender
from opensmm.orders import idempotency
from opensmm.payments import polling as payment_polling
from opensmm.payments.keys import panel_secret
from opensmm.providers import webhooks as provider_webhooks
from opensmm.refills import auto as auto_refill
from opensmm.scorecards import service as scorecards
from opensmm.settings import get_settings
from opensmm.subscriptions import service as subscriptions
from opensmm.webhooks import sender as webhook_sender

log = logging.getLogger("opensmm.fulfillment")

HOUSEKEEPING_EVERY = timedelta(minutes=10)
# Auto-refills are looked for this often (each pass asks at most auto_refill.BATCH) ...
AUTO_REFILL_EVERY = timedelta(minutes=1)
# ... and the scorecards recomputed this often.
SCORECARDS_EVERY = timedelta(minutes=10)
# The display currencies' exchange rates are fetched this often (when a URL is set).
RATES_EVERY = timedelta(hours=1)

C = TypeVar("C", outbox.ClaimedOrder, outbox.ClaimedRefill)
Answers = dict[int, Observation | ItemProblem]  # a status call's, by our order id


@dataclass
class _Group:
    """What happened to one provider's sends in a pass."""

    accepted: int = 0
    problem: SendOutcome | None = None


class Worker:
    def __init__(
        self,
        db: Database,
        config: WorkerConfig | None = None,
        owner: str | None = None,
        mail: MailConfig | None = None,
    ) -> None:
        self.db = db
        self.config = config or WorkerConfig.from_settings()
        self.owner = owner or new_owner()
        # The mail outbox is sent by the same loop, after the orders (docs/email.md).
        self.mail = MailSender(db, mail or MailConfig.from_settings(), self.owner)
        self.modes = Modes(self.config)
        self.total = Tally()
        self._pool = ThreadPoolExecutor(
            max_workers=self.config.send_threads, thread_name_prefix="opensmm-send"
        )
        self._providers: dict[int, ProviderView] = {}
        # Set on SIGTERM/SIGINT (by :meth:`run`'s caller): no new call starts; the calls on
        # the wire are answered and recorded; claimed orders not yet sent are given back.
        self.stopping = threading.Event()
        self._panel_secret: str | None = None
        self._next_housekeeping: datetime | None = None
        self._next_auto_refill: datetime | None = None
        self._next_scorecards: datetime | None = None
        self._next_rates: datetime | None = None
        self._webhook_http: httpx.Client | None = None
        # Notifications (docs/notifications.md): a scan now and then; Telegram after mail.
        settings = get_settings()
        self.notify_every = timedelta(seconds=max(1.0, settings.notify_every_seconds))
        self._notify_base_url = settings.public_url
        self._notify_currency = settings.currency
        self.telegram = TelegramSender(db, TelegramConfig.from_settings(settings), self.owner)
        self._next_notify: datetime | None = None

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        self.modes.close()
        if self._webhook_http is not None:
            self._webhook_http.close()

    def _local(self, mode: str) -> Fulfillment | None:
        return self.modes.simulator if mode == SIMULATOR else None

    # --- the loop ------------------------------------------------------------------

    def run_once(self) -> Tally:
        tally = Tally()
        # One clock for every lease and due time, the database's (docs/reliability.md).
        now = self.db.sync_clock()
        self._providers = load_providers(self.db)
        outbox.recover(self.db, self.config, tally)
        for phase in (self._subscriptions, self._auto_refill, self._send_orders,
                      self._send_refills, self._poll_orders, self._poll_refills,
                      self._poll_payments, self._send_webhooks, self._housekeeping,
                      self._scorecards, self._rates, self._notify):
            if self.stopping.is_set():
                break
            phase(now, tally)
        if not self.stopping.is_set():
            tally.mails += self.mail.run_once()
            tally.telegram += self.telegram.run_once()
        self.total.add(tally)
        if tally.busy():
            log.info("worker pass: %s", {k: v for k, v in tally.as_dict().items() if v})
        return tally

    def run(self, stop: threading.Event) -> None:
        """Passes until ``stop`` is set; sleeps when a pass found nothing to do."""
        log.info("worker %s started", self.owner)
        self.stopping = stop
        errors = 0
        try:
            while not stop.is_set():
                try:
                    tally = self.run_once()
                except Exception:
                    errors += 1
                    log.exception("worker pass failed (%d in a row)", errors)
                    stop.wait(self.config.backoff(errors).total_seconds())
                    continue
                errors = 0
                if not tally.busy():
                    stop.wait(self.config.idle_seconds)
        finally:
            self.close()
            log.info("worker %s stopped: %s", self.owner, self.total.as_dict())

    def _subscriptions(self, now: datetime, tally: Tally) -> None:
        """Subscriptions kept here (manual, simulator): posts, pauses, resumes, expiries."""
        tally.subscriptions += subscriptions.run_due(
            self.db, now, self.config.simulator.seconds, self.config.batch
        )

    def _poll_payments(self, now: datetime, tally: Tally) -> None:
        """Customers' open payments, asked about at their gateways (a lost callback)."""
        if self._panel_secret is None:
            self._panel_secret = panel_secret(self.db)
        tally.payments_polled += payment_polling.poll_due(self.db, self._panel_secret, now)

    def _send_webhooks(self, now: datetime, tally: Tally) -> None:
        """Resellers' status webhooks (opensmm.webhooks): signed POSTs, retried."""
        if self._panel_secret is None:
            self._panel_secret = panel_secret(self.db)
        tally.webhooks += webhook_sender.run_once(self.db, self._webhook_client,
                                                  self._panel_secret, now)

    def _webhook_client(self) -> httpx.Client:
        """Made when the first webhook is due, not at the first pass: most panels send
        none, and a client's TLS context (the CA bundle) holds megabytes."""
        if self._webhook_http is None:
            self._webhook_http = httpx.Client(follow_redirects=False)
        return self._webhook_http

    def _housekeeping(self, now: datetime, tally: Tally) -> None:
        """Now and then: forget ``add`` idempotency keys past their 24 hours, and the
        providers' webhook signatures past their validity."""
        if self._next_housekeeping is not None and now < self._next_housekeeping:
            return
        self._next_housekeeping = now + HOUSEKEEPING_EVERY
        idempotency.purge_expired(self.db, now)
        provider_webhooks.forget_seen(self.db, now)

    def _auto_refill(self, now: datetime, tally: Tally) -> None:
        """Every ``AUTO_REFILL_EVERY``: the refills auto-refill services are due, asked in
        the same pass before the refills are sent (a full batch looks again next pass)."""
        if self._next_auto_refill is not None and now < self._next_auto_refill:
            return
        asked = auto_refill.run(self.db, now)
        tally.auto_refills += asked
        self._next_auto_refill = None if asked >= auto_refill.BATCH else now + AUTO_REFILL_EVERY

    def _scorecards(self, now: datetime, tally: Tally) -> None:
        """Every ``SCORECARDS_EVERY``: recompute and store the scorecards."""
        if self._next_scorecards is not None and now < self._next_scorecards:
            return
        self._next_scorecards = now + SCORECARDS_EVERY
        try:
            scorecards.refresh(self.db, now)
        except Exception:
            # Orders go on; the figures stay as last stored until the next turn.
            log.exception("ALERT the scorecards could not be refreshed")

    def _rates(self, now: datetime, tally: Tally) -> None:
        """Every ``RATES_EVERY``: the display currencies' rates from ``currency_rates_url``
        (a failure is logged and changes nothing; the call is made with no transaction)."""
        if self._next_rates is not None and now < self._next_rates:
            return
        self._next_rates = now + RATES_EVERY
        currency_rates.refresh_logged(self.db, self._notify_currency)

    def _notify(self, now: datetime, tally: Tally) -> None:
        """Every ``notify_every``: find what to tell customers and staff, each thing once
        (opensmm.notifications.scan); the mails go out with the outbox below."""
        if self._next_notify is not None and now < self._next_notify:
            return
        self._next_notify = now + self.notify_every
        try:
            found = notifications.run(
                self.db, base_url=self._notify_base_url, currency=self._notify_currency,
                telegram=self.telegram.config is not None, now=now,
            )
        except Exception:
            # Orders and mail go on; the scan is tried again at its next turn.
            log.exception("ALERT the notifications scan failed")
            return
        tally.notices += found.notices

    # --- sending -------------------------------------------------------------------

    def _blocked(self, now: datetime, *, sending: bool) -> set[int]:
        return {
            pid
            for pid, view in self._providers.items()
            if not (view.can_send(now) if sending else view.can_call(now))
        }

    def _send_orders(self, now: datetime, tally: Tally) -> None:
        # Orders waiting on a provider that cannot take them go to their next route first.
        routing.reroute_waiting(self.db, self.config, self._providers, now, tally)
        claimed = outbox.claim_orders(
            self.db, self.owner, self.config, self._blocked(now, sending=True), self._local, tally
        )
        for provider_id, group in _by_provider(claimed).items():
            self._send_group(
                provider_id,
                group,
                mark=lambda c: outbox.mark_sending(
                    self.db, self.owner, self.config, c.outbound.order_id
                ),
                call=lambda mode, c: mode.send(c.outbound),
                record=lambda c, outcome, by, t: outbox.record_send(
                    self.db, self.owner, self.config, c, outcome, by, t
                ),
                release=lambda items: outbox.release(
                    self.db, self.owner, [c.outbound.order_id for c in items]
                ),
                tally=tally,
            )

    def _send_refills(self, now: datetime, tally: Tally) -> None:
        claimed = outbox.claim_refills(
            self.db, self.owner, self.config, self._blocked(now, sending=True), self._local, tally
        )
        for provider_id, group in _by_provider(claimed).items():
            self._send_group(
                provider_id,
                group,
                mark=lambda c: outbox.mark_refill_sending(
                    self.db, self.owner, self.config, c.outbound.refill_id
                ),
                call=lambda mode, c: mode.send_refill(c.outbound),
                record=lambda c, outcome, by, t: outbox.record_refill_send(
                    self.db, self.owner, self.config, c, outcome, by, t
                ),
                release=lambda items: None,  # their lease runs out; nothing was sent
                tally=tally,
            )

    def _send_group(
        self,
        provider_id: int | None,
        group: Sequence[C],
        *,
        mark: Callable[[C], bool],
        call: Callable[[Fulfillment, C], SendOutcome],
        record: Callable[[C, SendOutcome, str, Tally], None],
        release: Callable[[Sequence[C]], None],
        tally: Tally,
    ) -> None:
        view = self._providers.get(provider_id) if provider_id is not None else None
        if view is None:
            release(group)
            return
        mode = self.modes.provider(view)
        stop = threading.Event()
        result = _Group()
        lock = threading.Lock()

        def send_one(claim: C) -> Tally | None:
            if stop.is_set() or self.stopping.is_set():
                return None
            if not mark(claim):
                return Tally()
            try:
                outcome = call(mode, claim)
            except Exception as exc:
                log.exception("sending to %s failed unexpectedly", mode.name)
                outcome = InDoubt(f"unexpected error while sending: {exc!r}")
            mine = Tally()
            record(claim, outcome, mode.name, mine)
            with lock:
                if isinstance(outcome, Accepted):
                    result.accepted += 1
                elif isinstance(outcome, InDoubt) or (
                    isinstance(outcome, NotSent) and outcome.provider_problem
                ):
                    result.problem = result.problem or outcome
                    stop.set()
            return mine

        # The first call alone, as a probe: a failing provider costs one call per pass.
        outcomes = [send_one(group[0])] if group else []
        outcomes += list(self._pool.map(send_one, group[1:]))
        release([claim for claim, done in zip(group, outcomes, strict=True) if done is None])
        for done in outcomes:
            if done is not None:
                tally.add(done)
        if result.problem is not None:
            tally.failures += 1
            funds = isinstance(result.problem, NotSent) and result.problem.funds
            reason = getattr(result.problem, "reason", "the provider failed")
            record_failure(self.db, self.config, view.id, reason, sends_only=funds)
        elif result.accepted:
            self._succeeded(view, sent=True)

    def _succeeded(self, view: ProviderView, *, sent: bool) -> None:
        record_success(self.db, view, sent=sent)
        cleared = replace(view, failures=0, backoff_until=None)
        if sent:
            cleared = replace(cleared, send_failures=0, send_paused_until=None, alert=None)
        elif view.send_failures == 0:
            cleared = replace(cleared, alert=None)
        self._providers[view.id] = cleared

    # --- following -----------------------------------------------------------------

    def _mode_for(self, mode: str, provider_id: int | None) -> Fulfillment | None:
        view = self._providers.get(provider_id) if provider_id is not None else None
        try:
            return self.modes.get(mode, view)
        except LookupError:
            log.error("no fulfillment for mode %r (provider %s)", mode, provider_id)
            return None

    def _failed(self, provider_id: int | None, exc: UpstreamFailure, tally: Tally) -> datetime:
        tally.failures += 1
        if provider_id is None:
            log.error("ALERT fulfillment failed: %s", exc.reason)
            return self.db.now() + self.config.backoff(1)
        return record_failure(self.db, self.config, provider_id, exc.reason, sends_only=False)

    def _poll_orders(self, now: datetime, tally: Tally) -> None:
        items = tracking.claim_due_orders(
            self.db, self.owner, self.config, self._blocked(now, sending=False)
        )
        groups: dict[tuple[str, int | None], list[tracking.TrackedOrder]] = defaultdict(list)
        for item in items:
            groups[(item.fulfillment, item.provider_id)].append(item)
        for (mode_name, provider_id), group in groups.items():
            mode = self._mode_for(mode_name, provider_id)
            if mode is None:
                tracking.postpone(
                    self.db, [i.tracked.order_id for i in group], now + self.config.backoff(5)
                )
                continue
            view = self._providers.get(provider_id) if provider_id is not None else None
            config = self._poll_config(view, now)
            succeeded = self._poll_group(mode, provider_id, group, config, tally)
            if succeeded and view is not None:
                self._succeeded(view, sent=False)

    def _poll_config(self, view: ProviderView | None, now: datetime) -> WorkerConfig:
        """A provider whose webhooks arrive is checked only now and then (a fallback)."""
        if view is not None and view.webhooks_live(now, self.config):
            return self.config.pushed()
        return self.config

    def _poll_group(
        self,
        mode: Fulfillment,
        provider_id: int | None,
        group: Sequence[tracking.TrackedOrder],
        config: WorkerConfig,
        tally: Tally,
    ) -> bool:
        """Check one provider's orders, chunk by chunk; False if a call failed (the rest
        of the group is then postponed, without calls).

        While a chunk's answers are recorded, the next chunk's status call is already on
        its way (the upstream and our database work at once). It starts only once this
        chunk's own call has succeeded: a failing provider still gets one call per pass.
        """
        chunks = tracking.chunks(group)
        failed_until: datetime | None = None
        asked: Future[Answers] | None = None  # this chunk's status call, started ahead
        for index, chunk in enumerate(chunks):
            if self.stopping.is_set():
                break  # their claims run out; the next worker asks again
            if failed_until is not None:
                tracking.postpone(self.db, [i.tracked.order_id for i in chunk], failed_until)
                continue
            following = chunks[index + 1] if index + 1 < len(chunks) else None
            try:
                asked = self._poll_chunk(mode, chunk, asked, following, config, tally)
            except UpstreamFailure as exc:
                asked = None
                failed_until = self._failed(provider_id, exc, tally)
                tracking.postpone(self.db, [i.tracked.order_id for i in chunk], failed_until)
        return failed_until is None

    def _poll_chunk(
        self,
        mode: Fulfillment,
        chunk: Sequence[tracking.TrackedOrder],
        asked: Future[Answers] | None,
        following: Sequence[tracking.TrackedOrder] | None,
        config: WorkerConfig,
        tally: Tally,
    ) -> Future[Answers] | None:
        """Forward the chunk's cancels, ask its statuses (``asked``: already asked) and
        record the answers. Returns the status call of ``following``, if started ahead."""
        settled: set[int] = set()
        cancels = [item for item in chunk if item.cancel_requested]
        if cancels:
            answers = mode.cancel([item.tracked for item in cancels])
            settled = tracking.record_cancels(self.db, config, mode.name, cancels, answers, tally)
        to_poll = [item for item in chunk if item.tracked.order_id not in settled]
        seen: Answers = {}
        if asked is not None:
            seen = asked.result()
        elif to_poll:
            seen = mode.poll([item.tracked for item in to_poll])
        ahead = self._ask_ahead(mode, following)
        if to_poll:
            tracking.record_observations(self.db, config, mode.name, to_poll, seen, tally)
        return ahead

    def _ask_ahead(
        self, mode: Fulfillment, chunk: Sequence[tracking.TrackedOrder] | None
    ) -> Future[Answers] | None:
        """Start ``chunk``'s status call on the pool, for a remote mode (a local one has no
        wait to hide). Not for a chunk with cancels to forward: they go first, in turn."""
        if chunk is None or not mode.remote or any(item.cancel_requested for item in chunk):
            return None
        return self._pool.submit(mode.poll, [item.tracked for item in chunk])

    def _poll_refills(self, now: datetime, tally: Tally) -> None:
        items = tracking.claim_due_refills(
            self.db, self.owner, self.config, self._blocked(now, sending=False)
        )
        groups: dict[tuple[str, int | None], list[tracking.TrackedRefillClaim]] = defaultdict(
            list
        )
        for item in items:
            groups[(item.fulfillment, item.provider_id)].append(item)
        for (mode_name, provider_id), group in groups.items():
            ids = [item.tracked.refill_id for item in group]
            mode = self._mode_for(mode_name, provider_id)
            if mode is None:
                tracking.postpone_refills(self.db, ids, now + self.config.backoff(5))
                continue
            for start in range(0, len(group), tracking.CHUNK):
                chunk = group[start : start + tracking.CHUNK]
                try:
                    seen = mode.poll_refills([item.tracked for item in chunk])
                except UpstreamFailure as exc:
                    until = self._failed(provider_id, exc, tally)
                    tracking.postpone_refills(self.db, ids[start:], until)
                    break
                tracking.record_refill_observations(
                    self.db, self.config, mode.name, chunk, seen, tally
                )


def _by_provider(claimed: Sequence[C]) -> dict[int | None, list[C]]:
    groups: dict[int | None, list[C]] = defaultdict(list)
    for claim in claimed:
        groups[claim.provider_id].append(claim)
    return groups


class BackgroundWorker:
    """A worker on a daemon thread (``opensmm serve``, ``opensmm worker``): start, then
    stop at shutdown, waiting at most the grace period for the calls on the wire."""

    def __init__(self, db: Database, config: WorkerConfig | None = None) -> None:
        self.worker = Worker(db, config)
        self.stop_event = threading.Event()
        self.thread = threading.Thread(
            target=self.worker.run, args=(self.stop_event,), name="opensmm-worker", daemon=True
        )

    def start(self) -> None:
        self.thread.start()

    def request_stop(self) -> None:
        """No new work from now on (safe from a signal handler: it only sets an event)."""
        self.stop_event.set()

    def stop(self, timeout: float | None = None) -> bool:
        """Stop and wait; False if calls were still on the wire after the grace period
        (their orders stay ``sending`` and are held once the lease ends: in doubt)."""
        self.stop_event.set()
        grace = self.worker.config.grace_seconds if timeout is None else timeout
        self.thread.join(grace)
        if self.thread.is_alive():
            log.error(
                "ALERT worker %s: calls still on the wire after the %.0f s grace period were "
                "abandoned; their orders will be held for a person once the lease ends",
                self.worker.owner, grace,
            )
            return False
        return True
