"""The catalog: categories and services, for staff to manage and customers to list."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from opensmm.catalog.models import Category, Service
from opensmm.catalog.types import SERVICE_TYPES
from opensmm.errors import DomainError, NotFound

FULFILLMENT_MODES = ("manual",)
MAX_QUANTITY = 1_000_000_000


class ServiceNotFound(NotFound):
    message = "Incorrect service ID"


def get_or_create_category(session: Session, name: str) -> Category:
    name = name.strip()
    if not name or len(name) > 200:
        raise DomainError("A category name is 1 to 200 characters long")
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
        raise DomainError("A service name is 1 to 300 characters long")
    if type not in SERVICE_TYPES:
        raise DomainError(f"Unknown service type {type!r}; known: {', '.join(SERVICE_TYPES)}")
    if rate < 0:
        raise DomainError("The rate must not be negative")
    if not 1 <= min_quantity <= max_quantity <= MAX_QUANTITY:
        raise DomainError(f"Need 1 <= min <= max <= {MAX_QUANTITY}")
    if not 0 <= refill_days <= 3650:
        raise DomainError("Refill days must be between 0 and 3650")


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
    fulfillment: str = "manual",
    enabled: bool = True,
) -> Service:
    validate_service_fields(
        name=name,
        type=type,
        rate=rate,
        min_quantity=min_quantity,
        max_quantity=max_quantity,
        refill_days=refill_days,
    )
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
    )
    session.add(service)
    session.flush()
    return service


def get_service(session: Session, service_id: int) -> Service:
    service = session.get(Service, service_id)
    if service is None:
        raise ServiceNotFound()
    return service


def list_services(session: Session, *, enabled_only: bool = True) -> list[tuple[Service, str]]:
    """Services with their category name, in catalog order."""
    query = (
        select(Service, Category.name)
        .join(Category, Category.id == Service.category_id)
        .order_by(Category.position, Category.name, Service.position, Service.id)
    )
    if enabled_only:
        query = query.where(Service.enabled.is_(True))
    return [(service, category) for service, category in session.execute(query).all()]
