"""Writing and reading the audit log."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from opensmm.audit.actor import Actor
from opensmm.audit.models import AuditEntry
from opensmm.db.pagination import Page, paginate

MAX_PARAM = 1000


def _param(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, int | bool) or value is None:
        return value
    return str(value)[:MAX_PARAM]


def record(
    session: Session, actor: Actor, action: str, target: str = "", **params: Any
) -> AuditEntry:
    """Log a staff action inside the caller's unit of work: it commits with the action."""
    entry = AuditEntry(
        actor_id=actor.user_id,
        actor=actor.name[:64],
        door=actor.door,
        action=action,
        target=target[:200],
        params={key: _param(value) for key, value in params.items()},
        ip=actor.ip[:64],
    )
    session.add(entry)
    return entry


def entries(
    session: Session,
    *,
    actor: str | None = None,
    action: str | None = None,
    door: str | None = None,
    page: int = 1,
) -> Page[AuditEntry]:
    query = select(AuditEntry)
    if actor:
        query = query.where(AuditEntry.actor == actor)
    if action:
        query = query.where(AuditEntry.action.startswith(action, autoescape=True))
    if door:
        query = query.where(AuditEntry.door == door)
    return paginate(session, query.order_by(AuditEntry.id.desc()), page)


def count(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(AuditEntry)) or 0)
