"""Staff actions on providers, from every door: each writes one audit row."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from sqlalchemy.orm import Session

from opensmm.audit import service as audit
from opensmm.audit.actor import Actor
from opensmm.client import Balance
from opensmm.client import Service as UpstreamService
from opensmm.money import format_money
from opensmm.providers import service as providers
from opensmm.providers import webhooks
from opensmm.providers.models import Provider


def add_provider(
    session: Session, actor: Actor, name: str, url: str, api_key: str,
    balance: Balance | None = None, idempotent: bool | None = None,
) -> Provider:
    provider = providers.add_provider(session, name, url, api_key)
    if balance is not None:
        providers.record_balance(session, provider.id, balance, idempotent)
    audit.record(session, actor, "provider.add", f"provider:{provider.id}",
                 provider=provider.name, url=provider.url)
    return provider


def record_balance(
    session: Session, actor: Actor, provider_id: int, balance: Balance,
    idempotent: bool | None = None,
) -> Provider:
    provider = providers.record_balance(session, provider_id, balance, idempotent)
    audit.record(session, actor, "provider.balance", f"provider:{provider_id}",
                 provider=provider.name, amount=format_money(balance.amount),
                 currency=balance.currency or "")
    return provider


def import_services(
    session: Session, actor: Actor, provider_id: int, upstream: Sequence[UpstreamService], *,
    markup_percent: Decimal, categories: Sequence[str] = (),
) -> providers.ImportReport:
    report = providers.import_services(
        session, provider_id, upstream, markup_percent=markup_percent, categories=categories
    )
    provider = session.get(Provider, provider_id)
    audit.record(session, actor, "provider.import", f"provider:{provider_id}",
                 provider=provider.name if provider else provider_id,
                 created=len(report.created), skipped=len(report.skipped),
                 markup=format_money(markup_percent))
    return report


def sync_services(
    session: Session, actor: Actor, provider_id: int, upstream: Sequence[UpstreamService], *,
    keep_prices: bool = False,
) -> providers.SyncReport:
    report = providers.sync_services(session, provider_id, upstream, keep_prices=keep_prices)
    provider = session.get(Provider, provider_id)
    audit.record(session, actor, "provider.sync", f"provider:{provider_id}",
                 provider=provider.name if provider else provider_id,
                 repriced=len(report.repriced), changed=len(report.changed),
                 disabled=len(report.disabled))
    return report


def set_webhook_secret(
    session: Session, actor: Actor, provider: Provider, secret: str, panel_secret: str
) -> None:
    webhooks.set_secret(session, provider, secret, panel_secret)
    audit.record(session, actor, "provider.webhook", f"provider:{provider.id}",
                 provider=provider.name, on=provider.webhook_secret is not None)
