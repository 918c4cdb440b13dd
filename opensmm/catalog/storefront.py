"""What the landing page sells: the platforms of the categories with enabled services, how
many services each offers and its cheapest rate per 1000.

One grouped query over the catalog, kept per process behind the catalog's stamp (the
triggers of migration 0005 change it with every change to services or categories, through
any door): a page costs one tiny read of the stamp while the catalog stays the same.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from opensmm.catalog import platforms
from opensmm.catalog.models import CatalogStamp, Category, Service
from opensmm.catalog.types import SERVICE_TYPES, Units

# Packages charge their rate per order, not per 1000: they have no "from … per 1000".
PER_THOUSAND = tuple(name for name, kind in SERVICE_TYPES.items() if kind.units is not Units.FLAT)


@dataclass(frozen=True)
class Offer:
    platform: str | None  # a slug of ``platforms.PLATFORMS``; None: categories without one
    name: str  # the platform's name ("" for the others)
    services: int  # enabled services
    cheapest: Decimal | None  # the lowest rate per 1000 among them (None: packages only)


@dataclass(frozen=True)
class Snapshot:
    offers: tuple[Offer, ...]
    # Every category's platform by its name (None: the generic icon), for the icons.
    icons: dict[str, str | None]


_cache: dict[str, tuple[int, Snapshot]] = {}
_lock = threading.Lock()

OFFERS = (
    select(
        Category.name,
        Category.platform,
        func.count(Service.id),
        func.min(case((Service.type.in_(PER_THOUSAND), Service.rate))),
    )
    .join(Service, Service.category_id == Category.id)
    .where(Service.enabled.is_(True))
    .group_by(Category.id, Category.name, Category.platform, Category.position)
    .order_by(Category.position, Category.name)
)


def _snapshot(session: Session) -> Snapshot:
    icons = {name: platforms.platform_of(name, chosen)
             for name, chosen in session.execute(select(Category.name, Category.platform))}
    return Snapshot(_offers(session), icons)


def _offers(session: Session) -> tuple[Offer, ...]:
    grouped: dict[str | None, tuple[int, Decimal | None]] = {}
    for name, chosen, count, cheapest in session.execute(OFFERS):
        slug = platforms.platform_of(name, chosen)
        services, lowest = grouped.get(slug, (0, None))
        if cheapest is not None and (lowest is None or cheapest < lowest):
            lowest = cheapest
        grouped[slug] = (services + count, lowest)
    # In the catalog's order (the first category of each platform), the others last.
    ordered = [slug for slug in grouped if slug is not None] + (
        [None] if None in grouped else [])
    return tuple(
        Offer(slug, platforms.PLATFORMS[slug].name if slug else "", *grouped[slug])
        for slug in ordered
    )


def snapshot(session: Session) -> Snapshot:
    """The platforms on sale and the categories' icons (cached per catalog stamp)."""
    stamp = session.scalar(select(CatalogStamp.stamp)) or 0
    key = session.get_bind().engine.url.render_as_string(hide_password=False)
    cached = _cache.get(key)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    # Rows read after the stamp are as new as it or newer (see opensmm.api.reads): cached
    # under the older stamp, they are read again at the next page.
    found = _snapshot(session)
    if not session.new and not session.dirty:
        with _lock:
            _cache[key] = (stamp, found)
    return found


def offers(session: Session) -> tuple[Offer, ...]:
    """The platforms on sale, for the landing page."""
    return snapshot(session).offers


def icons(session: Session) -> dict[str, str | None]:
    """Each category's platform by its name, for the pages' icons."""
    return snapshot(session).icons
