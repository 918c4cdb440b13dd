"""Providers and the services we buy from them: add, import, keep in step.

Calls to a provider never run inside a transaction: the front door reads what it needs,
calls (:func:`fetch_services`, :func:`probe`), then applies the answer in a new
unit of work (:func:`import_services`, :func:`sync_services`, :func:`record_balance`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, Decimal
from urllib.parse import urlsplit

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from opensmm.catalog import routes
from opensmm.catalog import service as catalog
from opensmm.catalog.models import Service
from opensmm.catalog.types import SERVICE_TYPES
from opensmm.client import Balance, Client, ClientError, InvalidArgument
from opensmm.client import Service as UpstreamService
from opensmm.db import utcnow
from opensmm.errors import DomainError, NotFound
from opensmm.i18n import N_
from opensmm.money import QUANTUM, format_money
from opensmm.orders import idempotency
from opensmm.providers.models import Provider
from opensmm.providers.pricing import check_markup, price_with_markup

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
DEFAULT_TIMEOUT = 30.0


class ProviderNotFound(NotFound):
    message = N_("Provider not found")


class ProviderCallFailed(DomainError):
    """A call to the provider failed; the message says how (never with the key)."""


def validate_name(name: str) -> str:
    if not NAME_PATTERN.match(name):
        raise DomainError(
            N_("A provider name is 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"),  # noqa: E501
        )
    return name


def add_provider(session: Session, name: str, url: str, api_key: str) -> Provider:
    validate_name(name)
    url = url.strip()
    api_key = api_key.strip()
    try:
        Client(url, api_key).close()  # the client's own checks of the URL and key
    except InvalidArgument as exc:
        raise DomainError(N_('Incorrect provider: {exc}'), exc=exc) from None
    if len(api_key) > 255:
        raise DomainError(N_('The API key is too long (at most 255 characters)'))
    if session.scalar(select(Provider.id).where(Provider.name == name)) is not None:
        raise DomainError(N_('A provider named {name!r} already exists'), name=name)
    provider = Provider(name=name, url=url, api_key=api_key)
    session.add(provider)
    session.flush()
    return provider


def get_provider(session: Session, name: str) -> Provider:
    provider = session.scalar(select(Provider).where(Provider.name == name))
    if provider is None:
        raise ProviderNotFound(N_('No provider named {name!r}'), name=name)
    return provider


def list_providers(session: Session) -> list[Provider]:
    return list(session.scalars(select(Provider).order_by(Provider.name)))


def mapped_services(session: Session, provider_id: int) -> list[Service]:
    return list(
        session.scalars(
            select(Service).where(Service.provider_id == provider_id).order_by(Service.id)
        )
    )


# --- calls ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Probe:
    balance: Balance
    # The answer said ``X-Opensmm-Idempotency: add``: an in-doubt send may be resent.
    idempotent: bool


def probe(url: str, api_key: str, timeout: float = DEFAULT_TIMEOUT) -> Probe:
    """Our balance at the provider, and whether it announces idempotent ``add``."""
    announced: list[bool] = []

    def look(response: httpx.Response) -> None:
        value = response.headers.get(idempotency.ANNOUNCE_HEADER, "")
        announced.append(value.strip().lower() == idempotency.ANNOUNCE_VALUE)

    try:
        with (
            httpx.Client(timeout=timeout, event_hooks={"response": [look]}) as http,
            Client(url, api_key, http_client=http) as client,
        ):
            balance = client.balance()
    except ClientError as exc:
        raise ProviderCallFailed(
            N_("The provider's balance could not be read: {exc}"),
            exc=exc,
        ) from None
    return Probe(balance, bool(announced) and all(announced))


@dataclass(frozen=True)
class CheckedEndpoint:
    """A provider endpoint that answered ``balance``: the URL to keep and what it said.
    ``guessed`` when the URL typed was the provider's site and its ``/api/v2`` answered."""

    url: str
    balance: Balance
    guessed: bool = False
    # It announced idempotent ``add`` (``Probe.idempotent``).
    idempotent: bool = False


def check_endpoint(url: str, api_key: str, timeout: float = DEFAULT_TIMEOUT) -> CheckedEndpoint:
    """Prove a provider's URL and key before adding it, by asking for the balance.

    When ``url`` answers like a web site (an HTML page, 404, 405) and is not an ``/api/v2``
    endpoint, its ``/api/v2`` is tried too: people often paste the site's address."""
    url = url.strip()
    api_key = api_key.strip()
    try:
        found = probe(url, api_key, timeout)
        return CheckedEndpoint(url, found.balance, idempotent=found.idempotent)
    except ProviderCallFailed as exc:
        failure = exc
    path = urlsplit(url).path.rstrip("/")
    looks_like_a_site = any(
        sign in failure.message for sign in ("HTML", "<", "HTTP 404", "HTTP 405")
    )
    if path.endswith("/api/v2") or not looks_like_a_site:
        raise failure
    guess = url.split("?", 1)[0].rstrip("/") + "/api/v2"
    try:
        found = probe(guess, api_key, timeout)
        return CheckedEndpoint(guess, found.balance, guessed=True, idempotent=found.idempotent)
    except ProviderCallFailed:
        raise ProviderCallFailed(
            N_("{failure} The URL must be the provider's API endpoint, usually its address "
               "followed by /api/v2 (e.g. {guess}); it is on the provider's API page."),
            failure=failure.message, guess=guess,
        ) from None


def fetch_services(url: str, api_key: str, timeout: float = DEFAULT_TIMEOUT) -> list[
    UpstreamService
]:
    try:
        with Client(url, api_key, timeout=timeout) as client:
            return client.services()
    except ClientError as exc:
        raise ProviderCallFailed(
            N_("The provider's services could not be read: {exc}"),
            exc=exc,
        ) from None


def record_balance(
    session: Session, provider_id: int, balance: Balance, idempotent: bool | None = None
) -> Provider:
    provider = session.get(Provider, provider_id)
    if provider is None:
        raise ProviderNotFound()
    if idempotent is not None:
        provider.idempotent = idempotent
    provider.balance = balance.amount.quantize(QUANTUM)
    provider.currency = (balance.currency or "")[:8] or None
    provider.balance_checked_at = utcnow()
    return provider


# --- import and sync -----------------------------------------------------------------


def cost_of(upstream_rate: Decimal) -> Decimal:
    """The provider's rate at our precision, rounded up (never below what we pay)."""
    return upstream_rate.quantize(QUANTUM, rounding=ROUND_CEILING)


def _bounds(upstream: UpstreamService) -> tuple[int, int] | None:
    low = max(1, upstream.min)
    high = min(upstream.max, catalog.MAX_QUANTITY)
    return (low, high) if low <= high else None


@dataclass(frozen=True)
class Imported:
    service_id: int
    upstream_id: int
    name: str
    rate: Decimal


@dataclass(frozen=True)
class Skipped:
    upstream_id: int
    name: str
    reason: str


@dataclass
class ImportReport:
    created: list[Imported] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)


def import_services(
    session: Session,
    provider_id: int,
    upstream: Sequence[UpstreamService],
    *,
    markup_percent: Decimal,
    categories: Iterable[str] = (),
) -> ImportReport:
    """Create a local service for each upstream one (in ``categories``, if given), priced
    at cost plus ``markup_percent`` (see ``opensmm.providers.pricing``)."""
    check_markup(markup_percent)
    wanted = {c.strip().casefold() for c in categories if c.strip()}
    already = {
        service.provider_service_id: service.id
        for service in mapped_services(session, provider_id)
    }
    report = ImportReport()
    for item in upstream:
        if wanted and item.category.strip().casefold() not in wanted:
            continue
        if item.id in already:
            report.skipped.append(
                Skipped(item.id, item.name, f"already imported as service {already[item.id]}")
            )
            continue
        if item.type not in SERVICE_TYPES:
            report.skipped.append(Skipped(item.id, item.name, f"unknown type {item.type!r}"))
            continue
        bounds = _bounds(item)
        if bounds is None:
            report.skipped.append(
                Skipped(item.id, item.name, f"bounds {item.min}-{item.max} make no sense")
            )
            continue
        try:
            rate = price_with_markup(item.rate, markup_percent)
            with session.begin_nested():
                service = catalog.add_service(
                    session,
                    name=(item.name.strip() or f"Service {item.id}")[:300],
                    category=(item.category.strip() or "Imported")[:200],
                    rate=rate,
                    min_quantity=bounds[0],
                    max_quantity=bounds[1],
                    type=item.type,
                    refill=item.refill,
                    cancel=item.cancel,
                    dripfeed=item.dripfeed,
                    description=(item.description or "")[:10_000],
                    fulfillment=catalog.PROVIDER,
                    provider_id=provider_id,
                    provider_service_id=item.id,
                    provider_rate=cost_of(item.rate),
                    markup_percent=markup_percent,
                )
        except DomainError as exc:
            report.skipped.append(Skipped(item.id, item.name, exc.message))
            continue
        already[item.id] = service.id
        report.created.append(Imported(service.id, item.id, service.name, rate))
    return report


@dataclass(frozen=True)
class Change:
    service_id: int
    name: str
    what: str


@dataclass
class SyncReport:
    repriced: list[Change] = field(default_factory=list)
    changed: list[Change] = field(default_factory=list)
    disabled: list[Change] = field(default_factory=list)
    unchanged: int = 0


def _disable(service: Service, why: str, report: SyncReport) -> None:
    if service.enabled:
        service.enabled = False
        report.disabled.append(Change(service.id, service.name, why))


def sync_services(
    session: Session,
    provider_id: int,
    upstream: Sequence[UpstreamService],
    *,
    keep_prices: bool = False,
) -> SyncReport:
    """Bring our services from this provider in step with its list.

    Imported services (with a markup) are repriced at cost plus markup, unless
    ``keep_prices``. A service whose cost now exceeds our rate, whose type changed, or
    that the provider removed is disabled and reported: never sold at a loss.
    """
    by_id = {item.id: item for item in upstream}
    report = SyncReport()
    routes.sync_costs(session, provider_id, {item.id: cost_of(item.rate) for item in upstream})
    for service in mapped_services(session, provider_id):
        item = by_id.get(int(service.provider_service_id or 0))
        if item is None:
            _disable(service, "removed by the provider", report)
            continue
        if item.type != service.type:
            _disable(service, f"the provider changed its type to {item.type!r}", report)
            continue
        before = len(report.repriced) + len(report.changed) + len(report.disabled)
        service.provider_rate = cost_of(item.rate)
        if service.markup_percent is not None and not keep_prices:
            rate = price_with_markup(item.rate, service.markup_percent)
            if rate != service.rate:
                what = f"rate {format_money(service.rate)} -> {format_money(rate)}"
                report.repriced.append(Change(service.id, service.name, what))
                service.rate = rate
        if item.rate > service.rate:
            _disable(
                service,
                f"the provider's rate {item.rate} is above ours ({format_money(service.rate)})",
                report,
            )
        imported = service.markup_percent is not None
        bounds = _bounds(item)
        if bounds is not None and not imported:
            # Staff chose this service's bounds: only narrow them to what the provider takes.
            bounds = (max(bounds[0], service.min_quantity), min(bounds[1], service.max_quantity))
        if bounds is None or bounds[0] > bounds[1]:
            _disable(service, f"the provider's bounds {item.min}-{item.max} do not fit", report)
        elif bounds != (service.min_quantity, service.max_quantity):
            report.changed.append(
                Change(
                    service.id,
                    service.name,
                    f"bounds {service.min_quantity}-{service.max_quantity} -> "
                    f"{bounds[0]}-{bounds[1]}",
                )
            )
            service.min_quantity, service.max_quantity = bounds
        for flag in ("refill", "cancel", "dripfeed"):
            theirs = bool(getattr(item, flag))
            # What the provider dropped, we cannot offer; what it added is staff's choice,
            # unless the service was imported (its flags follow the provider's).
            if getattr(service, flag) != theirs and (imported or not theirs):
                report.changed.append(Change(service.id, service.name, f"{flag} -> {theirs}"))
                setattr(service, flag, theirs)
        if before == len(report.repriced) + len(report.changed) + len(report.disabled):
            report.unchanged += 1
    return report
