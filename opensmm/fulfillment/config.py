"""The worker's settings, and the tally of what one pass did."""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass, field, fields, replace
from datetime import datetime, timedelta

from opensmm.fulfillment.simulator import SimulatorConfig
from opensmm.settings import Settings, get_settings


@dataclass(frozen=True)
class WorkerConfig:
    idle_seconds: float = 1.0
    poll_seconds: float = 30.0
    lease_seconds: float = 60.0
    http_timeout: float = 30.0
    backoff_seconds: float = 5.0
    backoff_max_seconds: float = 600.0
    batch: int = 1000
    send_threads: int = 4
    grace_seconds: float = 20.0
    route_failover_minutes: float = 10.0
    # A provider whose status webhooks arrive (docs/fulfillment.md) is still checked, but
    # only this often; after ``webhook_quiet_seconds`` without one, as usual again.
    webhook_poll_seconds: float = 900.0
    webhook_quiet_seconds: float = 1800.0
    simulator: SimulatorConfig = field(default_factory=SimulatorConfig)

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> WorkerConfig:
        settings = settings or get_settings()
        return cls(
            idle_seconds=settings.worker_idle_seconds,
            poll_seconds=settings.worker_poll_seconds,
            lease_seconds=settings.worker_lease_seconds,
            http_timeout=settings.worker_http_timeout,
            backoff_seconds=settings.worker_backoff_seconds,
            backoff_max_seconds=settings.worker_backoff_max_seconds,
            batch=max(1, settings.worker_batch),
            send_threads=max(1, settings.worker_send_threads),
            grace_seconds=max(0.0, settings.worker_grace_seconds),
            route_failover_minutes=max(0.0, settings.worker_route_failover_minutes),
            webhook_poll_seconds=max(1.0, settings.worker_webhook_poll_seconds),
            webhook_quiet_seconds=max(1.0, settings.worker_webhook_quiet_seconds),
            simulator=SimulatorConfig(
                seconds=settings.simulator_seconds,
                seed=settings.simulator_seed,
                partial_percent=settings.simulator_partial_percent,
            ),
        )

    def backoff(self, attempts: int) -> timedelta:
        """The wait after the ``attempts``-th failure in a row: doubling, capped."""
        exponent = min(max(attempts, 1) - 1, 30)
        return timedelta(seconds=min(self.backoff_seconds * 2**exponent, self.backoff_max_seconds))

    def next_poll(self, now: datetime, next_change_at: datetime | None = None) -> datetime:
        """When to look again: after the poll interval, or sooner if a change is expected."""
        later = now + timedelta(seconds=self.poll_seconds)
        if next_change_at is not None and next_change_at < later:
            return max(next_change_at, now)
        return later

    def pushed(self) -> WorkerConfig:
        """This config for a provider whose webhooks arrive: the fallback poll interval."""
        return replace(self, poll_seconds=max(self.poll_seconds, self.webhook_poll_seconds))

    @property
    def lease(self) -> timedelta:
        return timedelta(seconds=self.lease_seconds)

    @property
    def sending_lease(self) -> timedelta:
        """A send's lease outlives the call's own timeout: only a dead worker's expires."""
        return timedelta(seconds=self.lease_seconds + self.http_timeout)


def new_owner() -> str:
    """This worker's name in leases: host, process and a random part (threads share it)."""
    return f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass
class Tally:
    """What one pass (or a whole run) did; the worker logs it and tests read it."""

    sent: int = 0  # orders the upstream accepted
    held: int = 0  # orders (and refills) held for a person
    routed: int = 0  # orders moved to their service's next route (opensmm.fulfillment.routing)
    retried: int = 0  # sends refused for now, to be tried again (not enough funds, down)
    polled: int = 0  # orders whose status was asked
    updated: int = 0  # orders whose status, remains or start count changed
    refunds: int = 0  # orders that reached Partial, Canceled or Expired
    alerts: int = 0  # unknown statuses, refused transitions, orders the upstream lost
    cancels: int = 0  # cancels forwarded
    refills_sent: int = 0
    refills_updated: int = 0
    auto_refills: int = 0  # refills asked by auto-refill (opensmm.refills.auto)
    failures: int = 0  # whole calls that failed (the provider was backed off)
    payments_polled: int = 0  # customers' payments asked about at their gateway
    webhooks: int = 0  # resellers' status webhooks attempted
    mails: int = 0  # mails of the outbox attempted (sent, or to be tried again)
    notices: int = 0  # notifications recorded (each thing told once, opensmm.notifications)
    telegram: int = 0  # Telegram messages attempted
    subscriptions: int = 0  # subscriptions kept here looked at (posts, pauses, expiries)

    def add(self, other: Tally) -> None:
        for item in fields(self):
            setattr(self, item.name, getattr(self, item.name) + getattr(other, item.name))

    def busy(self) -> bool:
        return any(getattr(self, item.name) for item in fields(self))

    def as_dict(self) -> dict[str, int]:
        return {item.name: getattr(self, item.name) for item in fields(self)}
