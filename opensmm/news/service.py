"""Announcements (written by staff, in each language) and the catalog's updates (written
by ``opensmm.catalog.updates``, never by hand)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from opensmm.audit import service as audit
from opensmm.audit.actor import Actor
from opensmm.catalog.models import CatalogUpdate
from opensmm.db.pagination import Page, paginate
from opensmm.db.types import parse_id
from opensmm.errors import DomainError, NotFound
from opensmm.i18n import N_
from opensmm.i18n.languages import LANGUAGES
from opensmm.news.models import Announcement

TITLE_MAX = 200
BODY_MAX = 10_000


class AnnouncementNotFound(NotFound):
    message = N_("Announcement not found")


class AnnouncementRefused(DomainError):
    pass


@dataclass(frozen=True)
class Shown:
    """An announcement in the reader's language (or the panel's default)."""

    id: int
    title: str
    body: str
    created_at: datetime


def _clean(
    texts: Mapping[str, tuple[str, str]], default_language: str
) -> dict[str, dict[str, str]]:
    kept: dict[str, dict[str, str]] = {}
    for code, (raw_title, raw_body) in texts.items():
        if code not in LANGUAGES:
            continue
        title, body = raw_title.strip(), raw_body.strip()
        if not title and not body:
            continue
        name = LANGUAGES[code].name
        if not title or not body:
            raise AnnouncementRefused(
                N_("Give the announcement both a title and a text in {language}"),
                language=name,
            )
        if len(title) > TITLE_MAX:
            raise AnnouncementRefused(N_("A title is at most {max} characters"), max=TITLE_MAX)
        if len(body) > BODY_MAX:
            raise AnnouncementRefused(N_("A text is at most {max} characters"), max=BODY_MAX)
        kept[code] = {"title": title, "body": body}
    if default_language not in kept:
        raise AnnouncementRefused(
            N_("Write the announcement at least in the panel's default language, {language}"),
            language=LANGUAGES[default_language].name if default_language in LANGUAGES
            else default_language,
        )
    return kept


def post(
    session: Session, actor: Actor, texts: Mapping[str, tuple[str, str]], default_language: str
) -> Announcement:
    """A new announcement; ``texts`` maps a language to its (title, body)."""
    row = Announcement(author_id=actor.user_id, texts=_clean(texts, default_language))
    session.add(row)
    session.flush()
    audit.record(session, actor, "news.post", f"announcement:{row.id}",
                 title=row.texts[default_language]["title"])
    return row


def delete(session: Session, actor: Actor, announcement_id: int) -> None:
    row = get(session, announcement_id)
    first = next(iter(row.texts.values()), {"title": ""})
    audit.record(session, actor, "news.delete", f"announcement:{row.id}", title=first["title"])
    session.delete(row)


def get(session: Session, announcement_id: int) -> Announcement:
    row = session.get(Announcement, announcement_id) if parse_id(announcement_id) else None
    if row is None:
        raise AnnouncementNotFound()
    return row


def shown_in(row: Announcement, lang: str, default_language: str) -> Shown:
    texts = row.texts
    text = texts.get(lang) or texts.get(default_language) or next(iter(texts.values()))
    return Shown(row.id, text["title"], text["body"], row.created_at)


def latest(session: Session, lang: str, default_language: str, limit: int = 3) -> list[Shown]:
    query = select(Announcement).order_by(Announcement.id.desc()).limit(limit)
    return [shown_in(row, lang, default_language) for row in session.scalars(query)]


def page_of(
    session: Session, lang: str, default_language: str, number: int, per_page: int = 10
) -> Page[Shown]:
    query = select(Announcement).order_by(Announcement.id.desc())
    found = paginate(session, query, number, per_page)
    items: Sequence[Shown] = [shown_in(row, lang, default_language) for row in found.items]
    return Page(items=items, number=found.number, per_page=found.per_page, total=found.total)


def all_announcements(session: Session, number: int) -> Page[Announcement]:
    return paginate(session, select(Announcement).order_by(Announcement.id.desc()), number)


def catalog_updates(session: Session, number: int) -> Page[CatalogUpdate]:
    query = select(CatalogUpdate).order_by(CatalogUpdate.id.desc())
    return paginate(session, query, number)

