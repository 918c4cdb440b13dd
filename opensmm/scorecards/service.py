"""Computing the scorecards (in the worker, now and then) and reading them (pages).

The figures are computed from the orders in a few grouped statements, each served by an
index (``ix_orders_service_finished``, ``ix_orders_finished_at``, ``ix_orders_status``),
and stored in ``service_scores`` and ``provider_scores``: the Services and New order pages
read one small table, never the orders.

- **Average time** (per service): the mean of (finished - placed) × 1000 / units over the
  service's last ``AVERAGE_OF`` Completed orders, as commercial panels show it (for a
  package, the time per order).
- **Rates** (per service and per provider): among the orders that ended (Completed, Partial
  or Canceled) in the last ``WINDOW``, the share Partial, the share Canceled, and among
  those that delivered (Completed or Partial) the share with a refill asked by a person
  (auto-refills say nothing of the provider).
- **Stuck**: running orders (not held: those have their own alert) without progress for
  longer than the panel's ``stuck_hours``; their ``updated_at`` moves only when the
  status, the remains or the start count changes.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, case, delete, func, or_, select, union_all
from sqlalchemy.orm import Session

from opensmm.catalog.models import Service
from opensmm.catalog.types import SERVICE_TYPES, Units
from opensmm.db import Database, utcnow
from opensmm.db.insert import insert_for
from opensmm.fulfillment.states import HELD
from opensmm.i18n import N_
from opensmm.i18n.translate import Translator
from opensmm.orders import statuses as st
from opensmm.orders.models import Order
from opensmm.panel_settings import service as panel_settings
from opensmm.providers.models import Provider
from opensmm.refills.models import Refill
from opensmm.scorecards.models import ProviderScore, ServiceScore, percent

log = logging.getLogger("opensmm.scorecards")

AVERAGE_OF = 10
WINDOW = timedelta(days=30)
ENDED = (st.COMPLETED, st.PARTIAL, st.CANCELED)
SERVICES_PER_READ = 100


@dataclass
class Counts:
    finished: int = 0
    partial: int = 0
    canceled: int = 0
    refilled: int = 0
    stuck: int = 0

    def values(self) -> dict[str, int]:
        return {"finished": self.finished, "partial": self.partial,
                "canceled": self.canceled, "refilled": self.refilled, "stuck": self.stuck}


@dataclass
class Computed:
    services: dict[int, Counts] = field(default_factory=lambda: defaultdict(Counts))
    providers: dict[int, Counts] = field(default_factory=lambda: defaultdict(Counts))
    averages: dict[int, tuple[int, int]] = field(default_factory=dict)  # seconds, of how many


def stuck_after(session: Session) -> timedelta:
    return timedelta(hours=int(panel_settings.get(session, "stuck_hours")))


def stuck_filter(since: datetime) -> list[ColumnElement[bool]]:
    """The ``where`` of a stuck order: running, not held, unchanged since ``since``."""
    return [Order.status.in_(st.RUNNING), Order.updated_at < since,
            or_(Order.send_state.is_(None), Order.send_state != HELD)]


def average_seconds(rows: Iterable[tuple[datetime, datetime, int]]) -> tuple[int, int] | None:
    """(mean seconds per 1000 units, how many orders) of (placed, finished, units) rows."""
    per_1000 = [(done - placed).total_seconds() * 1000 / units
                for placed, done, units in rows if units > 0]
    if not per_1000:
        return None
    return round(sum(per_1000) / len(per_1000)), len(per_1000)


def _last_completed(service_id: int) -> Select[Any]:
    """A service's last ``AVERAGE_OF`` Completed orders (``ix_orders_service_finished``)."""
    last = (
        select(Order.service_id, Order.created_at, Order.finished_at, Order.units)
        .where(Order.service_id == service_id, Order.status == st.COMPLETED,
               Order.finished_at.is_not(None))
        .order_by(Order.finished_at.desc(), Order.id.desc())
        .limit(AVERAGE_OF)
        .subquery()
    )
    return select(last.c.service_id, last.c.created_at, last.c.finished_at, last.c.units)


def _flat(type_name: str) -> bool:
    kind = SERVICE_TYPES.get(type_name)
    return kind is not None and kind.units is Units.FLAT


def compute(session: Session, now: datetime) -> Computed:
    found = Computed()
    types = dict(session.execute(select(Service.id, Service.type).order_by(Service.id)).all())
    service_ids = list(types)
    # One statement per SERVICES_PER_READ services: their LIMIT reads glued by UNION ALL.
    for start in range(0, len(service_ids), SERVICES_PER_READ):
        chunk = service_ids[start:start + SERVICES_PER_READ]
        rows: dict[int, list[tuple[datetime, datetime, int]]] = defaultdict(list)
        for row in session.execute(union_all(*(_last_completed(i) for i in chunk))):
            if row[2] is not None:
                # A package is one unit whatever it holds: its time is per order.
                units = 1000 if _flat(types[row[0]]) else row[3]
                rows[row[0]].append((row[1], row[2], units))
        for service_id, orders in rows.items():
            average = average_seconds(orders)
            if average is not None:
                found.averages[service_id] = average
    refilled = (select(Refill.id)
                .where(Refill.order_id == Order.id, Refill.automatic.is_(False)).exists())
    ended = session.execute(
        select(Order.service_id, Order.provider_id, Order.status, func.count(),
               func.sum(case((and_(Order.status != st.CANCELED, refilled), 1), else_=0)))
        .where(Order.finished_at >= now - WINDOW, Order.status.in_(ENDED))
        .group_by(Order.service_id, Order.provider_id, Order.status)
    ).all()
    for service_id, provider_id, status, count, with_refill in ended:
        targets = [found.services[service_id]]
        if provider_id is not None:
            targets.append(found.providers[provider_id])
        for counts in targets:
            counts.finished += count
            counts.partial += count if status == st.PARTIAL else 0
            counts.canceled += count if status == st.CANCELED else 0
            counts.refilled += int(with_refill or 0)
    stuck = session.execute(
        select(Order.service_id, Order.provider_id, func.count())
        .where(*stuck_filter(now - stuck_after(session)))
        .group_by(Order.service_id, Order.provider_id)
    ).all()
    for service_id, provider_id, count in stuck:
        found.services[service_id].stuck += count
        if provider_id is not None:
            found.providers[provider_id].stuck += count
    return found


ROWS_PER_WRITE = 500


def _upsert(session: Session, model: type[ServiceScore] | type[ProviderScore], key: str,
            rows: list[dict[str, Any]]) -> None:
    """Insert or overwrite ``rows``, a few hundred per statement."""
    for start in range(0, len(rows), ROWS_PER_WRITE):
        statement = insert_for(session, model).values(rows[start:start + ROWS_PER_WRITE])
        session.execute(statement.on_conflict_do_update(
            index_elements=[key],
            set_={name: statement.excluded[name] for name in rows[0] if name != key},
        ))


def refresh(db: Database, now: datetime | None = None) -> int:
    """Compute every figure and store it (an upsert: two workers at once write the same
    rows, the last one wins); rows of services and providers now without figures go.
    Returns how many rows were written."""
    now = now or utcnow()
    with db.read() as session:
        found = compute(session, now)
    with db.write() as session:
        service_rows = []
        for service_id in session.scalars(select(Service.id).order_by(Service.id)):
            seconds, of = found.averages.get(service_id, (None, 0))
            service_rows.append({"service_id": service_id,
                                 **found.services.get(service_id, Counts()).values(),
                                 "average_seconds": seconds, "average_of": of,
                                 "computed_at": now})
        provider_rows = [
            {"provider_id": provider_id, **found.providers.get(provider_id, Counts()).values(),
             "computed_at": now}
            for provider_id in session.scalars(select(Provider.id).order_by(Provider.id))
        ]
        _upsert(session, ServiceScore, "service_id", service_rows)
        _upsert(session, ProviderScore, "provider_id", provider_rows)
        written = len(service_rows) + len(provider_rows)
        session.execute(delete(ServiceScore).where(ServiceScore.service_id.not_in(
            select(Service.id))))
        session.execute(delete(ProviderScore).where(ProviderScore.provider_id.not_in(
            select(Provider.id))))
    return written


# --- reading ---------------------------------------------------------------------------------
def average_times(session: Session) -> dict[int, int]:
    """Every service's stored average seconds per 1000 (services without one are absent)."""
    rows = session.execute(
        select(ServiceScore.service_id, ServiceScore.average_seconds)
        .where(ServiceScore.average_seconds.is_not(None))
    ).all()
    return {service_id: seconds for service_id, seconds in rows if seconds is not None}


@dataclass(frozen=True)
class ProviderRank:
    provider: Provider
    score: ProviderScore | None

    @property
    def trouble(self) -> tuple[object, ...]:
        """How it ranks: fewest stuck orders, then the lowest share of ended orders that went
        wrong (Partial, Canceled or refilled); providers without figures last."""
        if self.score is None or self.score.finished == 0:
            stuck = self.score.stuck if self.score is not None else 0
            return (stuck, 1, 0, self.provider.name)
        s = self.score
        bad = percent(s.partial + s.canceled + s.refilled, s.finished)
        return (s.stuck, 0, bad, self.provider.name)


def provider_ranking(session: Session) -> list[ProviderRank]:
    rows = session.execute(
        select(Provider, ProviderScore)
        .outerjoin(ProviderScore, ProviderScore.provider_id == Provider.id)
    ).all()
    return sorted((ProviderRank(p, s) for p, s in rows), key=lambda r: r.trouble)


def service_figures(session: Session) -> list[tuple[Service, ServiceScore]]:
    """Services with figures, most stuck first, then by id."""
    rows = session.execute(
        select(Service, ServiceScore).join(ServiceScore, ServiceScore.service_id == Service.id)
        .where(or_(ServiceScore.finished > 0, ServiceScore.stuck > 0,
                   ServiceScore.average_seconds.is_not(None)))
        .order_by(ServiceScore.stuck.desc(), Service.id)
    ).all()
    return [(service, score) for service, score in rows]


# --- showing a duration ----------------------------------------------------------------------
BOTH = N_("{larger} {smaller}")
UNDER_A_MINUTE = N_("less than a minute")


def human_duration(t: Translator, seconds: int) -> str:
    """``2 hours 15 minutes``: the two largest units (days and hours, or hours and minutes),
    rounded to the minute, in ``t``'s language with its plural forms."""
    total = round(seconds / 60)
    if total < 1:
        return t(UNDER_A_MINUTE)
    days, rest = divmod(total, 24 * 60)
    hours, minutes = divmod(rest, 60)
    said = []
    if days:
        said.append(t.ngettext("{n} day", "{n} days", days))
    if hours:
        said.append(t.ngettext("{n} hour", "{n} hours", hours))
    if minutes and not days:
        said.append(t.ngettext("{n} minute", "{n} minutes", minutes))
    if len(said) == 1:
        return said[0]
    return t(BOTH, larger=said[0], smaller=said[1])
