"""The public texts staff write in Markdown, one per page and language.

Markdown is rendered by markdown-it-py with raw HTML off, then the HTML is cleaned by nh3
(the Ammonia sanitizer) to a short list of tags, with only ``http``, ``https`` and ``mailto``
links: a script, an event handler or a ``javascript:`` link typed by anyone with a staff
password never reaches a visitor. A language without its own text shows the default
language's, else English, else any.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from markupsafe import Markup
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from opensmm.audit import service as audit
from opensmm.audit.actor import Actor
from opensmm.branding.models import ContentPage
from opensmm.db import utcnow
from opensmm.errors import DomainError, NotFound
from opensmm.i18n import N_
from opensmm.i18n.languages import DEFAULT_LANGUAGE
from opensmm.web.i18n import LANGUAGES

if TYPE_CHECKING:
    from markdown_it import MarkdownIt

MAX_BODY = 50_000

# slug -> (path, title): every page a visitor can open, in the footer's order; "home" and
# "features" are the landing page's hero and cards (each "## " heading starts a card).
PAGES: dict[str, tuple[str, str]] = {
    "home": ("/", N_("Home page: hero")),
    "features": ("/", N_("Home page: features")),
    "terms": ("/terms", N_("Terms of service")),
    "privacy": ("/privacy", N_("Privacy policy")),
    "refund": ("/refund-policy", N_("Refund policy")),
    "faq": ("/faq", N_("FAQ")),
}
FOOTER = ("terms", "privacy", "refund", "faq")
TERMS = "terms"

_TAGS = {
    "a", "p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "strong", "em", "del", "code",
    "pre", "blockquote", "ul", "ol", "li", "table", "thead", "tbody", "tr", "th", "td",
}
_ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}, "th": {"align"}, "td": {"align"}}



@lru_cache(maxsize=1)
def _markdown() -> MarkdownIt:
    """The parser, built (and markdown-it imported) at the first page rendered, not at
    start: most processes that import this module render no Markdown (idle memory)."""
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": False}).enable(["table", "strikethrough"])


class ContentRefused(DomainError):
    message = N_("This text cannot be saved")


@dataclass(frozen=True)
class Shown:
    """A page as a visitor sees it: its cleaned HTML and the language it was written in."""

    slug: str
    language: str
    html: Markup
    version: int
    body: str

    @property
    def cards(self) -> list[Markup]:
        """The text as the landing page's feature cards."""
        return cards(self.body)


@lru_cache(maxsize=128)
def render(body: str) -> Markup:
    """Markdown to safe HTML (raw HTML is shown as text, then everything is sanitized)."""
    import nh3

    clean = nh3.clean(
        _markdown().render(body), tags=_TAGS, attributes=_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"}, link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )
    return Markup(clean)  # noqa: S704 - sanitized by nh3 just above


def cards(body: str) -> list[Markup]:
    """The landing page's feature cards: the text split at each level-2 heading."""
    parts: list[list[str]] = []
    fence = False
    for line in body.splitlines():
        if line.lstrip().startswith(("```", "~~~")):
            fence = not fence
        if (line.startswith("## ") and not fence) or not parts:
            parts.append([])
        parts[-1].append(line)
    return [render("\n".join(part)) for part in parts if "\n".join(part).strip()]


def _check_slug(slug: str) -> None:
    if slug not in PAGES:
        raise NotFound(N_("This page does not exist."))


def _check_language(language: str) -> None:
    if language not in LANGUAGES:
        raise ContentRefused(N_("Unknown language; known: {codes}"), codes=", ".join(LANGUAGES))


def clean_body(body: str) -> str:
    """The text as it will be kept, or a refusal (too long)."""
    text = body.replace("\x00", "").replace("\r\n", "\n").strip()
    if len(text) > MAX_BODY:
        raise ContentRefused(N_("A page is at most {n} characters"), n=MAX_BODY)
    return text


def save(session: Session, slug: str, language: str, body: str, actor: Actor) -> int:
    """Keep the text of ``slug`` in ``language`` (an empty text removes it: the page then
    falls back to another language). Returns the page's new version (across languages)."""
    _check_slug(slug)
    _check_language(language)
    text = clean_body(body)
    version = (session.scalar(
        select(func.max(ContentPage.version)).where(ContentPage.slug == slug)
    ) or 0) + 1
    row = session.get(ContentPage, (slug, language))
    # A removed text stays as an empty row: versions only ever grow, so a customer's
    # accepted terms version never names two different texts.
    if row is None:
        session.add(ContentPage(slug=slug, language=language, body=text, version=version,
                                updated_at=utcnow()))
    else:
        row.body, row.version, row.updated_at = text, version, utcnow()
    session.flush()
    audit.record(session, actor, "content.save", f"content:{slug}:{language}", slug=slug,
                 language=language, characters=len(text), version=version)
    return version


def source(session: Session, slug: str, language: str) -> str:
    """The Markdown staff wrote for exactly this language ("" when none)."""
    _check_slug(slug)
    row = session.get(ContentPage, (slug, language))
    return row.body if row is not None else ""


def written(session: Session) -> dict[str, list[str]]:
    """Per page, the languages it is written in."""
    found: dict[str, list[str]] = {}
    for slug, language in session.execute(
        select(ContentPage.slug, ContentPage.language).where(ContentPage.body != "")
        .order_by(ContentPage.slug, ContentPage.language)
    ):
        found.setdefault(slug, []).append(language)
    return found


def footer_links(session: Session) -> list[tuple[str, str]]:
    """(path, title) of the footer's pages that exist in some language."""
    present = set(session.scalars(
        select(ContentPage.slug).where(ContentPage.body != "").distinct()
    ))
    return [PAGES[slug] for slug in FOOTER if slug in present]


def shown(session: Session, slug: str, language: str, default: str) -> Shown | None:
    """The page in ``language``, else in ``default``, else English, else any; None when
    it is written in no language."""
    _check_slug(slug)
    rows = list(session.scalars(select(ContentPage).where(ContentPage.slug == slug)))
    written = {row.language: row for row in rows if row.body}
    for code in (language, default, DEFAULT_LANGUAGE, *sorted(written)):
        row = written.get(code)
        if row is not None:
            return Shown(slug, code, render(row.body), max(r.version for r in rows), row.body)
    return None


def current_terms_version(session: Session) -> int | None:
    """The terms' version a customer signing up now accepts; None when there are none."""
    if not session.scalar(select(func.count()).select_from(ContentPage)
                          .where(ContentPage.slug == TERMS, ContentPage.body != "")):
        return None
    return session.scalar(select(func.max(ContentPage.version))
                          .where(ContentPage.slug == TERMS))
