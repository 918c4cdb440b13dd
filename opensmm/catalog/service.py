"""The catalog: categories and services, for staff to manage and customers to list."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import TypeVar

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from opensmm.catalog import platforms
from opensmm.catalog.models import Category, Service, ServiceRoute
from opensmm.catalog.types import SERVICE_TYPES
from opensmm.db.types import parse_id
from opensmm.errors import DomainError, NotFound
from opensmm.i18n import N_

# How a service's orders are fulfilled (see opensmm.fulfillment): staff set the status, an
# upstream panel does the work, or the built-in simulator moves them by itself.
MANUAL, PROVIDER, SIMULATOR = "manual", "provider", "simulator"
FULFILLMENT_MODES = (MANUAL, PROVIDER, SIMULATOR)
MAX_QUANTITY = 1_000_000_000


class ServiceNotFound(NotFound):
    message = N_("Incorrect service ID")


def get_or_create_category(session: Session, name: str) -> Category:
    name = name.strip()
    if not name or len(name) > 200:
        raise DomainError(N_('A category name is 1 to 200 characters long'))
    category = session.scalar(select(Category).where(Category.name == name))
    if category is None:
        category = Category(name=name)
        session.add(category)
        session.flush()
    return category


def validate_service_fields(
    *, name: str, type: str, rate: Decimal, min_quantity: int, max_quantity: int, refill_days: int
) -> None:
    if not name.strip() or len(name) > 300:
        raise DomainError(N_('A service name is 1 to 300 characters long'))
    if type not in SERVICE_TYPES:
        raise DomainError(
            N_('Unknown service type {type!r}; known: {known}'),
            type=type,
            known=', '.join(SERVICE_TYPES,
        ))
    if rate < 0:
        raise DomainError(N_('The rate must not be negative'))
    if min_quantity < 1:
        raise DomainError(N_('The minimum quantity must be at least 1.'))
    if max_quantity < min_quantity:
        raise DomainError(
            N_('The maximum quantity ({max}) must not be less than the minimum ({min}).'),
            max=max_quantity, min=min_quantity,
        )
    if max_quantity > MAX_QUANTITY:
        raise DomainError(N_('The maximum quantity must not be more than {limit}.'),
                          limit=f"{MAX_QUANTITY:,}")
    if not 0 <= refill_days <= 3650:
        raise DomainError(N_('Refill days must be between 0 and 3650'))


def validate_fulfillment(
    fulfillment: str, provider_id: int | None, provider_service_id: int | None
) -> None:
    if fulfillment not in FULFILLMENT_MODES:
        modes = ", ".join(FULFILLMENT_MODES)
        raise DomainError(
            N_('Unknown fulfillment mode {fulfillment!r}; one of: {modes}'),
            fulfillment=fulfillment,
            modes=modes,
        )
    if fulfillment == PROVIDER:
        if provider_id is None or provider_service_id is None:
            raise DomainError(N_("A provider service needs a provider and the provider's service ID"))  # noqa: E501
        if provider_service_id < 1:
            raise DomainError(N_("The provider's service ID must be a positive whole number"))
    elif provider_id is not None or provider_service_id is not None:
        raise DomainError(
            N_('Only provider services have a provider, not {fulfillment} ones'),
            fulfillment=fulfillment,
        )


def add_service(
    session: Session,
    *,
    name: str,
    category: str,
    rate: Decimal,
    min_quantity: int,
    max_quantity: int,
    type: str = "Default",
    refill: bool = False,
    refill_days: int = 30,
    cancel: bool = False,
    dripfeed: bool = False,
    one_active_per_link: bool = False,
    description: str = "",
    fulfillment: str = MANUAL,
    enabled: bool = True,
    provider_id: int | None = None,
    provider_service_id: int | None = None,
    provider_rate: Decimal | None = None,
    markup_percent: Decimal | None = None,
) -> Service:
    validate_service_fields(
        name=name,
        type=type,
        rate=rate,
        min_quantity=min_quantity,
        max_quantity=max_quantity,
        refill_days=refill_days,
    )
    validate_fulfillment(fulfillment, provider_id, provider_service_id)
    service = Service(
        category_id=get_or_create_category(session, category).id,
        name=name.strip(),
        type=type,
        rate=rate,
        min_quantity=min_quantity,
        max_quantity=max_quantity,
        refill=refill,
        refill_days=refill_days,
        cancel=cancel,
        dripfeed=dripfeed,
        one_active_per_link=one_active_per_link,
        description=description,
        fulfillment=fulfillment,
        enabled=enabled,
        provider_id=provider_id,
        provider_service_id=provider_service_id,
        provider_rate=provider_rate,
        markup_percent=markup_percent,
    )
    session.add(service)
    session.flush()
    if provider_id is not None and provider_service_id is not None:
        # Its provider is its route 1 (opensmm.catalog.routes adds the others).
        session.add(
            ServiceRoute(
                service_id=service.id,
                position=1,
                provider_id=provider_id,
                provider_service_id=provider_service_id,
                cost=provider_rate,
            )
        )
        session.flush()
    return service


def get_service(session: Session, service_id: int) -> Service:
    if parse_id(service_id) is None:  # no row has it (and PostgreSQL would refuse to bind it)
        raise ServiceNotFound()
    service = session.get(Service, service_id)
    if service is None:
        raise ServiceNotFound()
    return service


def catalog_query(*, enabled_only: bool = True) -> Select[Service, str]:
    """Services with their category name, in catalog order (also the API's fast read)."""
    query = (
        select(Service, Category.name)
        .join(Category, Category.id == Service.category_id)
        .order_by(Category.position, Category.name, Service.position, Service.id)
    )
    if enabled_only:
        query = query.where(Service.enabled.is_(True))
    return query


def list_services(session: Session, *, enabled_only: bool = True) -> list[tuple[Service, str]]:
    """Services with their category name, in catalog order."""
    query = catalog_query(enabled_only=enabled_only)
    return [(service, category) for service, category in session.execute(query).all()]


# --- Staff editing: categories and services, their order on the page ----------------------


Positioned = TypeVar("Positioned", Category, Service)


class CategoryNotFound(NotFound):
    message = N_("Category not found")


def list_categories(session: Session) -> list[Category]:
    return list(session.scalars(select(Category).order_by(Category.position, Category.name)))


def get_category(session: Session, category_id: int) -> Category:
    category = session.get(Category, category_id)
    if category is None:
        raise CategoryNotFound()
    return category


def create_category(session: Session, name: str) -> Category:
    """A new, empty category (``get_or_create_category`` is for imports and forms)."""
    if session.scalar(select(Category.id).where(Category.name == name.strip())) is not None:
        raise DomainError(N_('A category named {name!r} already exists'), name=name.strip())
    return get_or_create_category(session, name)


def rename_category(session: Session, category_id: int, name: str) -> Category:
    category = get_category(session, category_id)
    name = name.strip()
    if not name or len(name) > 200:
        raise DomainError(N_('A category name is 1 to 200 characters long'))
    taken = session.scalar(select(Category.id).where(Category.name == name))
    if taken is not None and taken != category.id:
        raise DomainError(N_('A category named {name!r} already exists'), name=name)
    category.name = name
    return category


def set_category_platform(session: Session, category_id: int, raw: str) -> Category:
    """Staff's platform (icon) for a category: "" guessed from its name, "none" no platform,
    else a known platform (anything else is refused, nothing changed)."""
    category = get_category(session, category_id)
    category.platform = platforms.parse_choice(raw)
    return category


def _swap(items: list[Positioned], index: int, step: int) -> None:
    """Renumber ``items`` in their current order, then swap one with its neighbour."""
    other = index + step
    if 0 <= other < len(items):
        items[index], items[other] = items[other], items[index]
    for position, item in enumerate(items):
        item.position = position * 10


def move_category(session: Session, category_id: int, step: int) -> Category:
    """Move a category one place up (``step=-1``) or down (``step=1``) on the pages."""
    category = get_category(session, category_id)
    ordered = list_categories(session)
    _swap(ordered, ordered.index(category), 1 if step > 0 else -1)
    return category


def move_service(session: Session, service_id: int, step: int) -> Service:
    """Move a service one place up or down within its category."""
    service = get_service(session, service_id)
    ordered = list(
        session.scalars(
            select(Service)
            .where(Service.category_id == service.category_id)
            .order_by(Service.position, Service.id)
        )
    )
    _swap(ordered, ordered.index(service), 1 if step > 0 else -1)
    return service


def set_service_enabled(session: Session, service_id: int, enabled: bool) -> Service:
    """A disabled service is hidden from customers and refuses new orders."""
    service = get_service(session, service_id)
    service.enabled = enabled
    return service


MAX_AUTO_REFILL_DAYS = 3650


def set_auto_refill(session: Session, service_id: int, every_days: int | None) -> Service:
    """Ask refills automatically every ``every_days`` inside the refill window (None: off).
    Only for a service that offers refills, and more often than never within its window."""
    service = get_service(session, service_id)
    if every_days is not None:
        if not service.refill:
            raise DomainError(N_("Auto-refill needs a service that offers refills"))
        if not 1 <= every_days <= min(service.refill_days, MAX_AUTO_REFILL_DAYS):
            raise DomainError(N_("Auto-refill days must be from 1 to the refill days ({days})"),
                              days=service.refill_days)
    service.auto_refill_days = every_days
    return service


def update_service(
    session: Session,
    service_id: int,
    *,
    name: str,
    category: str,
    rate: Decimal,
    min_quantity: int,
    max_quantity: int,
    type: str,
    refill: bool,
    refill_days: int,
    cancel: bool,
    dripfeed: bool,
    one_active_per_link: bool,
    description: str,
    enabled: bool,
    fulfillment: str | None = None,
) -> Service:
    """Replace a service's editable fields; orders already placed keep their price.

    ``fulfillment`` (None: unchanged) may switch between the modes the service's provider
    link allows: a service imported from a provider stays a provider service.
    """
    validate_service_fields(
        name=name,
        type=type,
        rate=rate,
        min_quantity=min_quantity,
        max_quantity=max_quantity,
        refill_days=refill_days,
    )
    service = get_service(session, service_id)
    if fulfillment is not None:
        validate_fulfillment(fulfillment, service.provider_id, service.provider_service_id)
        service.fulfillment = fulfillment
    service.category_id = get_or_create_category(session, category).id
    service.name = name.strip()
    service.type = type
    service.rate = rate
    service.min_quantity = min_quantity
    service.max_quantity = max_quantity
    service.refill = refill
    service.refill_days = refill_days
    service.cancel = cancel
    service.dripfeed = dripfeed
    service.one_active_per_link = one_active_per_link
    service.description = description
    service.enabled = enabled
    return service


def search_services(
    session: Session, search: str = "", *, enabled_only: bool = True
) -> list[tuple[Service, str]]:
    """``list_services`` narrowed to names, categories or ids matching ``search``."""
    return matching(list_services(session, enabled_only=enabled_only), search)


def matching(rows: list[tuple[Service, str]], search: str) -> list[tuple[Service, str]]:
    """The rows whose service name or category contains ``search`` (any case), or whose id
    it is."""
    wanted = search.strip().casefold()[:200]
    if not wanted:
        return rows
    return [
        (service, category)
        for service, category in rows
        if wanted in service.name.casefold()
        or wanted in category.casefold()
        or wanted == str(service.id)
    ]


def services_by_id(session: Session, ids: Iterable[int]) -> dict[int, Service]:
    wanted = set(ids)
    if not wanted:
        return {}
    return {s.id: s for s in session.scalars(select(Service).where(Service.id.in_(wanted)))}
