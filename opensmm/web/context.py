"""What a page sees of its request: ``Ctx`` (the visitor, the form, the unit of work) and
how it answers (a template, a redirect with a flash message, JSON), plus the cookies set."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal
from functools import partial
from typing import Any, Literal
from urllib.parse import parse_qsl, urlencode, urlsplit

import anyio
import jinja2
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse

from opensmm.accounts.models import User
from opensmm.branding import content
from opensmm.branding.theme import brand_of
from opensmm.currencies import service as currencies
from opensmm.db import Database
from opensmm.db.types import MAX_ID
from opensmm.errors import NotFound
from opensmm.i18n import N_, formatting
from opensmm.panel_settings import service as panel_settings
from opensmm.security.network import client_ip, is_https
from opensmm.settings import Settings
from opensmm.web.i18n import Translator, language, offered
from opensmm.web.secret import SecretKey
from opensmm.web.tokens import csrf_token, new_token, read_flash, sign_flash

SESSION_COOKIE = "opensmm_session"
ANON_COOKIE = "opensmm_anon"
FLASH_COOKIE = "opensmm_flash"
LANG_COOKIE = "opensmm_lang"
# A visitor's display currency (signed-in customers keep theirs on their account).
CURRENCY_COOKIE = "opensmm_currency"


@dataclass
class Web:
    """What the pages need from the app: the database, settings, templates, the secret."""

    db: Database
    settings: Settings
    templates: jinja2.Environment
    secret: SecretKey
    limiter: anyio.CapacityLimiter
    trusted_proxies: frozenset[str] = frozenset()


@dataclass
class Cookie:
    name: str
    value: str
    max_age: int | None  # None: a browser-session cookie; 0: delete
    http_only: bool = True


@dataclass
class Ctx:
    """One request, as a view sees it."""

    request: Request
    web: Web
    form: dict[str, str]
    lang: str
    session: Session | None = None
    user: User | None = None
    # The raw session token from the cookie (checked), or the anonymous visitor's id.
    session_token: str | None = None
    anon: str | None = None
    cookies: list[Cookie] = field(default_factory=list)
    # A refusal being shown by a ``refused`` handler, already translated.
    error: str | None = None
    flashes: list[tuple[str, str]] = field(default_factory=list)
    # The file of a page that takes one (``Pages.post(upload=...)``), by field name.
    files: dict[str, bytes] = field(default_factory=dict)
    _display: tuple[str, Decimal | None] | None = None

    # --- convenience ---------------------------------------------------------------------
    @property
    def db(self) -> Session:
        assert self.session is not None, "this page runs without a unit of work"
        return self.session

    @property
    def me(self) -> User:
        assert self.user is not None, "this page is for logged-in visitors"
        return self.user

    @property
    def t(self) -> Translator:
        """``ctx.t("Order {id} placed", id=5)``, ``ctx.t.ngettext(…)``, ``ctx.t.error(exc)``."""
        return Translator(language(self.lang), self.web.settings.currency)

    def money(self, amount: Decimal) -> str:
        """An amount in the panel's currency, formatted for the visitor's language."""
        return formatting.money(amount, self.web.settings.currency, self.lang)

    def display_currency(self) -> tuple[str, Decimal] | None:
        """The display currency the customer chose and its rate (None: the panel's own,
        or one staff no longer offer); read once per request."""
        code = self.chosen_currency()
        if not code:
            return None
        if self._display is None:
            if self.session is not None:
                rate = currencies.rate_of(self.session, code)
            else:
                with self.web.db.read() as session:
                    rate = currencies.rate_of(session, code)
            self._display = (code, rate)
        code, rate = self._display
        return None if rate is None else (code, rate)

    def chosen_currency(self) -> str:
        """The display currency chosen: on the customer's account, or a visitor's cookie
        (a code staff no longer offer converts nothing)."""
        if self.user is not None:
            return self.user.display_currency
        code = self.request.cookies.get(CURRENCY_COOKIE, "")
        return code if len(code) == 3 and code.isascii() and code.isupper() else ""

    def approx(self, amount: Decimal | None) -> str:
        """``"≈ €9.20"``: ``amount`` in the customer's display currency, or "" (none)."""
        shown = self.display_currency()
        if shown is None or amount is None:
            return ""
        code, rate = shown
        return "≈ " + formatting.money(currencies.convert(amount, rate, code), code, self.lang)

    @property
    def ip(self) -> str:
        """The client's address, through trusted proxies (for the log-in limit and audit)."""
        return client_ip(self.request.scope, self.web.trusted_proxies)

    def public_url(self) -> str:
        """The panel's address for links in mails: ``OPENSMM_PUBLIC_URL``, else this
        request's own (its Host header; HTTPS when served so, directly or through a trusted
        proxy). Set the setting in production: a Host header is the client's to choose."""
        configured = self.web.settings.public_url.strip().rstrip("/")
        if configured:
            return configured
        scheme = "https" if is_https(self.request.scope, self.web.trusted_proxies) else "http"
        host = self.request.headers.get("host", "") or self.request.url.netloc
        host = clean_line(host).strip()[:255] or "localhost"
        return f"{scheme}://{host}"

    def arg(self, name: str, default: str = "") -> str:
        """A query-string value, trimmed and bounded, without control characters (a NUL
        cannot even be bound as a parameter on PostgreSQL; none belongs in a search)."""
        return clean_line(self.request.query_params.get(name, default)).strip()[:500]

    def field(self, name: str, default: str = "") -> str:
        """A form field, without control characters other than tabs and line breaks."""
        return clean_text(self.form.get(name, default))

    def path_int(self, name: str) -> int:
        """An id from the path; one that no row can have is "not found" (the framework
        already answers such requests 404 before the view runs)."""
        number = int(self.request.path_params[name])
        if not 0 < number <= MAX_ID:
            raise NotFound(N_("This page does not exist."))
        return number

    def footer_links(self) -> tuple[tuple[str, str], ...]:
        """(path, title) of the content pages the footer links."""
        if self.session is not None:
            return tuple(content.footer_links(self.session))
        with self.web.db.read() as session:
            return tuple(content.footer_links(session))

    def panel_settings(self) -> dict[str, Any]:
        """The panel settings (cached per process behind their stamp)."""
        if self.session is not None:
            return panel_settings.values(self.session)
        with self.web.db.read() as session:
            return panel_settings.values(session)

    # --- tokens ------------------------------------------------------------------------------
    def csrf(self) -> str:
        binding = self.session_token or self.anon
        if binding is None:
            # First page of an anonymous visitor: give them an id to bind forms to.
            self.anon = new_token()
            self.set_cookie(ANON_COOKIE, self.anon, None)
            binding = self.anon
        return csrf_token(self.web.secret.get(), binding)

    def set_cookie(
        self, name: str, value: str, max_age: int | None, http_only: bool = True
    ) -> None:
        self.cookies = [c for c in self.cookies if c.name != name]
        self.cookies.append(Cookie(name, value, max_age, http_only))

    def flash(self, kind: Literal["ok", "error"], text: str) -> None:
        """A message for the next page (after a redirect); ``text`` is already translated."""
        self.flashes.append((kind, text))

    # --- responses ---------------------------------------------------------------------------
    def render(self, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
        shown = read_flash(self.web.secret.get(), self.request.cookies.get(FLASH_COOKIE))
        if shown:
            self.set_cookie(FLASH_COOKIE, "", 0)
        # Messages of this very request, when it shows a page instead of redirecting.
        shown += self.flashes
        self.flashes = []
        if self.error:
            shown.append(("error", self.error))
        panel = self.panel_settings()
        t = self.t
        html = self.web.templates.get_template(template).render(
            ctx=self,
            _=t,
            gettext=t.gettext,
            ngettext=t.ngettext,
            _n=t.ngettext,
            lang=language(self.lang),
            languages=offered(panel["languages"]),
            panel_name=panel["panel_name"],
            brand=brand_of(panel, self.footer_links()),
            user=self.user,
            csrf=self.csrf(),
            flashes=shown,
            currency=self.web.settings.currency,
            approx=self.approx,
            path=self.request.url.path,
            query_with=partial(query_with, self.request),
            **context,
        )
        return HTMLResponse(html, status_code=status_code)

    def redirect(self, url: str) -> RedirectResponse:
        if self.flashes:
            self.set_cookie(FLASH_COOKIE, sign_flash(self.web.secret.get(), self.flashes), 120)
        return RedirectResponse(url, status_code=303)

    def back(self, default: str) -> RedirectResponse:
        """Redirect to the ``back`` form field when it is a local path, else ``default``."""
        return self.redirect(local_path(self.form.get("back"), default))

    def json(self, data: Any, status: int = 200) -> JSONResponse:
        return JSONResponse(data, status_code=status)


_CONTROL_IN_LINE = re.compile(r"[\x00-\x1f\x7f]")
_CONTROL_IN_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def clean_line(value: str) -> str:
    """``value`` without any control character (one line: a search, a filter)."""
    return _CONTROL_IN_LINE.sub("", value)


def clean_text(value: str) -> str:
    """``value`` without control characters other than tab, line feed, carriage return."""
    return _CONTROL_IN_TEXT.sub("", value)


def local_path(candidate: str | None, default: str) -> str:
    """Only paths on this site: never ``//evil.example`` or ``https://…`` (open redirects)."""
    if (
        candidate
        and candidate.startswith("/")
        and not candidate.startswith("//")
        and "\\" not in candidate
        and len(candidate) <= 1000
        and all(32 < ord(ch) < 127 for ch in candidate)
    ):
        return candidate
    return default


def referer_path(request: Request, default: str = "/") -> str:
    """The page the visitor came from, when it is on this site."""
    referer = urlsplit(request.headers.get("referer", ""))
    if referer.netloc != request.url.netloc:
        return default
    path = referer.path + ("?" + referer.query if referer.query else "")
    return local_path(path, default)


def query_with(request: Request, **changes: object) -> str:
    """The current URL's query string with ``changes`` (None removes a key), for links."""
    params = dict(parse_qsl(request.url.query, keep_blank_values=False))
    for key, value in changes.items():
        if value is None or value == "":
            params.pop(key, None)
        else:
            params[key] = str(value)
    return "?" + urlencode(params) if params else "?"
