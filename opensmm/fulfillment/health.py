"""How each provider is doing: back-off after failures, sends paused, alerts for staff.

The state lives in the ``providers`` row, so that every worker process sees it. Two
brakes: ``backoff_until`` stops every call (the provider is down or answers garbage);
``send_paused_until`` stops only new orders (not enough funds, key refused), while the
orders already there keep being followed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from opensmm.db import Database
from opensmm.fulfillment.config import WorkerConfig
from opensmm.providers.models import Provider

log = logging.getLogger("opensmm.fulfillment")


@dataclass(frozen=True)
class ProviderView:
    id: int
    name: str
    url: str
    api_key: str
    enabled: bool
    failures: int
    backoff_until: datetime | None
    send_failures: int
    send_paused_until: datetime | None
    alert: str | None
    webhooks: bool = False  # a webhook secret is set
    webhook_at: datetime | None = None  # the last good webhook

    def webhooks_live(self, now: datetime, config: WorkerConfig) -> bool:
        """Its webhooks arrive: statuses are pushed, checks are only a fallback."""
        quiet = timedelta(seconds=config.webhook_quiet_seconds)
        return self.webhooks and self.webhook_at is not None and now - self.webhook_at < quiet

    def can_call(self, now: datetime) -> bool:
        return self.enabled and (self.backoff_until is None or self.backoff_until <= now)

    def can_send(self, now: datetime) -> bool:
        return self.can_call(now) and (
            self.send_paused_until is None or self.send_paused_until <= now
        )


def load_providers(db: Database) -> dict[int, ProviderView]:
    with db.read() as session:
        return {
            p.id: ProviderView(
                id=p.id,
                name=p.name,
                url=p.url,
                api_key=p.api_key,
                enabled=p.enabled,
                failures=p.failures,
                backoff_until=p.backoff_until,
                send_failures=p.send_failures,
                send_paused_until=p.send_paused_until,
                alert=p.alert,
                webhooks=p.webhook_secret is not None,
                webhook_at=p.webhook_at,
            )
            for p in session.scalars(select(Provider))
        }


def record_failure(
    db: Database, config: WorkerConfig, provider_id: int, reason: str, *, sends_only: bool
) -> datetime:
    """Count a failure, back off, raise the alert; returns when to try again."""
    now = db.now()
    with db.write() as session:
        provider = session.scalar(
            select(Provider).where(Provider.id == provider_id).with_for_update()
        )
        if provider is None:
            return now + config.backoff(1)
        if sends_only:
            provider.send_failures += 1
            until = now + config.backoff(provider.send_failures)
            provider.send_paused_until = until
        else:
            provider.failures += 1
            until = now + config.backoff(provider.failures)
            provider.backoff_until = until
        if provider.alert != reason:
            provider.alert = reason
            provider.alert_at = now
        name = provider.name
    what = "new orders to" if sends_only else "calls to"
    log.error("ALERT provider %s: %s (no %s it before %s)", name, reason, what, until.isoformat())
    return until


def record_success(db: Database, view: ProviderView, *, sent: bool) -> None:
    """Clear what a success disproves: a poll shows the provider is up; an accepted order
    also shows the account can pay again."""
    clear_failures = view.failures > 0 or view.backoff_until is not None
    clear_sends = sent and (view.send_failures > 0 or view.send_paused_until is not None)
    clear_alert = view.alert is not None and (sent or view.send_failures == 0)
    if not (clear_failures or clear_sends or clear_alert):
        return
    with db.write() as session:
        provider = session.get(Provider, view.id)
        if provider is None:
            return
        if clear_failures:
            provider.failures = 0
            provider.backoff_until = None
        if clear_sends:
            provider.send_failures = 0
            provider.send_paused_until = None
        if clear_alert:
            provider.alert = None
            provider.alert_at = None
    log.info("provider %s answers again; its alert is cleared", view.name)
