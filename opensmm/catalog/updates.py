"""The Updates page's rows, recorded where every change to a service passes: the flush.

Staff forms, ``opensmm service …``, a provider import and ``provider sync`` all change
``Service`` rows through the ORM; one ``before_flush`` hook compares each service with what
was loaded and adds a ``CatalogUpdate`` for what customers care about (a new service, a new
rate, disabled, enabled again) to the same flush, so it commits or rolls back with the change.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import event, inspect, select
from sqlalchemy.orm import Session

from opensmm.catalog.models import CatalogUpdate, Service

NEW = "new"
RATE = "rate"
DISABLED = "disabled"
ENABLED = "enabled"
KINDS = (NEW, RATE, DISABLED, ENABLED)


def _before(service: Service, name: str) -> tuple[bool, Any]:
    """Whether the attribute changed since it was loaded, and its loaded value."""
    history = inspect(service).attrs[name].history
    if not history.has_changes() or not history.deleted:
        return False, None
    return True, history.deleted[0]


def _ever_announced(session: Session, service_id: int) -> bool:
    with session.no_autoflush:
        return session.scalar(
            select(CatalogUpdate.id)
            .where(CatalogUpdate.service_id == service_id, CatalogUpdate.kind == NEW)
            .limit(1)
        ) is not None


def changes_of(session: Session, service: Service, *, created: bool) -> list[CatalogUpdate]:
    """What customers should read about this service's pending change (a service created
    disabled is new to them when it is first enabled)."""
    if created:
        if not service.enabled:
            return []
        return [CatalogUpdate(service=service, kind=NEW, service_name=service.name,
                              new_rate=service.rate)]
    rows: list[CatalogUpdate] = []
    enabled_changed, was_enabled = _before(service, "enabled")
    if enabled_changed and bool(was_enabled) != bool(service.enabled):
        kind = DISABLED
        if service.enabled:
            kind = ENABLED if _ever_announced(session, service.id) else NEW
        rows.append(CatalogUpdate(service_id=service.id, kind=kind, service_name=service.name,
                                  new_rate=service.rate))
        if kind == NEW:
            return rows
    rate_changed, old_rate = _before(service, "rate")
    if (
        rate_changed
        and service.enabled
        and old_rate is not None
        and Decimal(old_rate) != Decimal(service.rate)
    ):
        rows.append(CatalogUpdate(service_id=service.id, kind=RATE, service_name=service.name,
                                  old_rate=old_rate, new_rate=service.rate))
    return rows


@event.listens_for(Session, "before_flush")
def _record_catalog_updates(session: Session, flush_context: Any, instances: Any) -> None:
    rows: list[CatalogUpdate] = []
    for obj in list(session.new):
        if isinstance(obj, Service):
            rows += changes_of(session, obj, created=True)
    for obj in list(session.dirty):
        if isinstance(obj, Service) and session.is_modified(obj):
            rows += changes_of(session, obj, created=False)
    session.add_all(rows)
