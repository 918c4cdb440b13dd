"""Writing and reading the audit log."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from opensmm.accounts.models import User
from opensmm.admin.models import AuditEntry
from opensmm.db.pagination import Page, paginate


def record(
    session: Session, actor: User, action: str, target: str = "", details: str = "", ip: str = ""
) -> AuditEntry:
    """Log a staff action inside the caller's unit of work: it commits with the action."""
    entry = AuditEntry(
        actor_id=actor.id,
        actor=actor.name,
        action=action,
        target=target,
        details=details[:4000],
        ip=ip[:64],
    )
    session.add(entry)
    return entry


def entries(
    session: Session, *, actor: str | None = None, action: str | None = None, page: int = 1
) -> Page[AuditEntry]:
    query = select(AuditEntry)
    if actor:
        query = query.where(AuditEntry.actor == actor)
    if action:
        query = query.where(AuditEntry.action.startswith(action, autoescape=True))
    return paginate(session, query.order_by(AuditEntry.id.desc()), page)


def count(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(AuditEntry)) or 0)
