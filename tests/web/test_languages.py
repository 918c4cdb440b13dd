"""Every shipped language, the same way (English and Arabic have their own deeper tests in
tests/web/test_i18n.py):

- its catalog complete and consistent (what ``catalogs check`` says), its plural rule the
  CLDR one of its locale;
- money, numbers and dates in its locale (Brazilian Portuguese for ``pt``);
- every customer, staff and anonymous page of tests/web/test_i18n.py rendered in it, with
  ``lang``/``dir`` right and no English left: in a non-Latin script no Latin word that is
  not data or an allowed token; in a Latin script no word of the English messages that
  the language's own catalog never uses.

Every language of ``LANGUAGES`` ships its catalog: one missing fails here (the panel would
quietly stop offering it), never skips.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from functools import cache

import pytest
from babel.messages.plurals import get_plural
from sqlalchemy import select

from opensmm.affiliates.models import Affiliate
from opensmm.audit.models import AuditEntry
from opensmm.i18n import catalogs, formatting
from opensmm.i18n.languages import LANGUAGES, from_accept_language, locale_of
from opensmm.panel_settings.registry import SETTINGS
from tests.support.panel import Panel, running_panel
from tests.web.support import WebClient, make_person, order_through_the_form
from tests.web.test_i18n import (
    ALLOWED,
    ANONYMOUS_PAGES,
    CUSTOMER_PAGES,
    LANGUAGE_NAMES,
    STAFF_PAGES,
    latin_words,
    visible_text,
)

OTHERS = sorted(code for code in LANGUAGES if code != "en")
# Names that are the same in every language, beyond test_i18n's ALLOWED (the pages below
# name them: a file type, the formats and services staff configure, the time zone, and the
# example coupon code).
NAMES = {"ICO", "KB", "Markdown", "SMTP", "Telegram", "UTC", "WELCOME", "rrggbb",
         # CLDR's day periods of the Hindi locale ("9:22 pm")
         "am", "pm",
         # the settings' values, as `opensmm settings` takes them (whole words only)
         *{choice for setting in SETTINGS.values() for choice in setting.choices}}
WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*")


def needs_catalog(code: str) -> None:
    if not catalogs.has_catalog(code):
        pytest.fail(f"no catalog for {code!r} (opensmm/i18n/locale/{code}/): a shipped "
                    "language must have one")


# --- the catalogs ----------------------------------------------------------------------------
@pytest.mark.parametrize("code", sorted(LANGUAGES))
def test_the_catalog_is_complete_with_the_locales_plural_rule(code: str) -> None:
    needs_catalog(code)
    assert [str(p) for p in catalogs.problems(code)] == []
    catalog = catalogs.read_catalog(catalogs.po_path(code), locale=code)
    rule = get_plural(locale_of(code))
    assert (catalog.num_plurals, catalog.plural_expr) == (rule.num_plurals, rule.plural_expr)


def test_russian_plural_forms_pick_the_right_word() -> None:
    from opensmm.i18n.translate import Translator

    t = Translator("ru")
    plural = next(m for m in catalogs.read_catalog(catalogs.po_path("ru"), locale="ru")
                  if m.id and not isinstance(m.id, str))
    forms = list(plural.string)
    assert len(forms) == 3
    singular, many = plural.id
    # one: 1, 21, 101; few: 2-4, 22-24; many: 5-20, 11-14, 25
    for n, form in ((1, 0), (21, 0), (2, 1), (24, 1), (5, 2), (11, 2), (14, 2), (112, 2)):
        assert t.ngettext(singular, many, n) == forms[form].format(n=n)


def test_a_language_without_its_catalog_is_not_offered_and_reads_english(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from opensmm.i18n.translate import Translator
    from opensmm.web import i18n

    monkeypatch.setattr(i18n, "has_catalog", lambda code: code != "tr")
    assert i18n.offered_codes(["en", "tr", "ru", "xx"]) == ["en", "ru"]
    assert [lang.code for lang in i18n.offered(["tr"])] == ["en"]  # never none at all
    # Asked for anyway (a stored account language): English, no error.
    missing = catalogs.LOCALE_DIR / "no-such-language" / "messages.po"
    monkeypatch.setattr(catalogs, "po_path", lambda code: missing)
    monkeypatch.setattr(catalogs, "mo_path", lambda code: missing.with_suffix(".mo"))
    monkeypatch.setattr(catalogs, "_loaded", {})
    assert Translator("ru")("Orders") == "Orders"


# --- formatting ------------------------------------------------------------------------------
def test_money_numbers_and_dates_in_each_locale() -> None:
    nbsp, nnbsp = "\xa0", "\u202f"
    amount, moment = Decimal("1234567.5"), datetime(2026, 1, 2, 15, 4)
    expected = {
        "ru": (f"1{nbsp}234{nbsp}567,50{nbsp}$", "02.01.2026, 15:04"),
        "tr": ("$1.234.567,50", "2.01.2026 15:04"),
        "hi": ("$12,34,567.50", "2/1/26, 3:04 pm"),
        "pt": (f"US${nbsp}1.234.567,50", "02/01/2026 15:04"),
        "es": (f"1.234.567,50{nbsp}US$", "2/1/26, 15:04"),
        "id": ("US$1.234.567,50", "2/1/26 15.04"),
    }
    for code, (money, when) in expected.items():
        assert formatting.money(amount, "USD", code).replace(nnbsp, nbsp) == money, code
        assert formatting.when(moment, code).replace(nnbsp, " ") == when, code
    # Hindi groups by lakh also without a currency; every locale keeps Latin digits.
    assert formatting.decimal(amount, "hi", min_places=2) == "12,34,567.50"
    assert formatting.number(1234567, "ru") == f"1{nbsp}234{nbsp}567"
    assert formatting.money(Decimal("0.00125"), "USD", "pt") == f"US${nbsp}0,00125"
    assert locale_of("pt") == "pt_BR"
    assert from_accept_language("pt-BR") == from_accept_language("pt") == "pt"


# --- every page in every language ------------------------------------------------------------
# Beyond tests/web/test_i18n.py's pages: every other page without an id in its path.
MORE_CUSTOMER_PAGES = ("/account/2fa", "/affiliates",
                       "/news", "/subscriptions", "/tickets", "/tickets/new", "/updates")
MORE_STAFF_PAGES = ("/admin/canned", "/admin/content", "/admin/coupons", "/admin/emails",
                    "/admin/news", "/admin/scorecards", "/admin/settings", "/admin/tickets",
                    "/admin/tokens")
MORE_ANONYMOUS_PAGES = ("/terms", "/privacy", "/refund-policy", "/faq")


@dataclass
class Site:
    panel: Panel
    shop: WebClient
    staff: WebClient
    paths: dict[str, list[str]]  # "shop" / "staff" / "anonymous" → the pages
    data: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def site(database_servers: dict) -> Iterator[Site]:
    """One panel with orders, a provider and a payment, read in each language in turn."""
    with running_panel(database_servers, "sqlite") as panel:
        boss, customer = make_person(panel, staff=True), make_person(panel, balance="100")
        service = panel.service(name="Insta Followers HQ", category="Insta Growth",
                                rate="0.98515", refill=True, cancel=True, min_quantity=10)
        links = ["https://example.test/p/one", "https://example.test/p/two"]
        shop, staff = WebClient(panel.url), WebClient(panel.url)
        try:
            shop.login(customer)
            staff.login(boss)
            ids = order_through_the_form(panel, shop, customer, service, links)
            panel.set_order(ids[0], status="Completed")
            panel.set_order(ids[1], status="Partial", remains=157)
            with panel.write() as session:
                from opensmm.providers.service import add_provider

                provider = add_provider(session, "bigpanel", "http://127.0.0.1:9/api/v2", "k")
                provider_id = provider.id
            adjusted = staff.deposit(customer.id, "-0.005", "bonus fix")
            assert adjusted.status_code == 303
            shop.get("/orders")  # the flashes, shown in English, are read now
            staff.get("/admin")
            shop.get("/affiliates")  # makes the customer's referral code
            ids_of = {"order": ids[1], "customer": customer.id, "service": service,
                      "provider": provider_id}
            paths = {"shop": [*CUSTOMER_PAGES, *MORE_CUSTOMER_PAGES],
                     "staff": [p.format(**ids_of) for p in STAFF_PAGES] + [
                         "/admin/payments", "/admin/payment-methods", *MORE_STAFF_PAGES],
                     "anonymous": [*ANONYMOUS_PAGES, *MORE_ANONYMOUS_PAGES]}
            data = [boss.name, customer.name, f"{customer.name}@example.test",
                    f"{boss.name}@example.test", "Insta Followers HQ", "Insta Growth",
                    *links, "example.test", "YOUR_API_KEY", "bonus fix", "bigpanel", "test",
                    *LANGUAGE_NAMES,
                    # the gateways' names and the audit log's codes: identifiers
                    "stripe", "Stripe", "PayPal", "NOWPayments", "manual",
                    *SETTINGS]  # the settings' names, as `opensmm settings` takes them
            with panel.db.read() as session:
                data.extend(session.scalars(select(Affiliate.code)))  # random letters
                for action, target in session.execute(select(AuditEntry.action,
                                                             AuditEntry.target)):
                    data.extend((action, target))
            yield Site(panel, shop, staff, paths, data)
        finally:
            shop.close()
            staff.close()


@cache
def vocabulary(code: str) -> frozenset[str]:
    """The words (lower case) of a catalog's translations, or of the English msgids."""
    words: set[str] = set()
    for message in catalogs.read_catalog(catalogs.po_path(code), locale=code):
        if not message.id:
            continue
        texts = message.id if code == "en" else message.string
        for text in [texts] if isinstance(texts, str) else list(texts):
            words.update(w.lower() for w in WORD.findall(re.sub(r"<[^>]+>|\{\w+\}", " ", text)))
    return frozenset(words)


def writes_in_latin(code: str) -> bool:
    letters = "".join(vocabulary(code))
    return sum("a" <= c <= "z" for c in letters) > len(letters) / 2


# Paths of the docs named in help texts (docs/currencies.md): technical, like <code>.
DOC_PATH = re.compile(r"\bdocs/[\w./-]+")


def english_left(code: str, page: str, data: list[str]) -> set[str]:
    text = DOC_PATH.sub(" ", visible_text(page))
    # An account's language shows as its code; one letter alone (a date format's d/m/Y, a
    # CLDR "p. m.") says nothing about English left.
    ignored = set(LANGUAGES) | NAMES
    if not writes_in_latin(code):
        return {w for w in latin_words(text, data) - ignored if len(w) > 1}
    for value in sorted(data, key=len, reverse=True):
        text = text.replace(value, " ")
    text = re.sub(r"https?://\S*", " ", text)
    # Whole words, accents included: "Categorías" is one word, not "Categor" and "as".
    words = {w for w in WORD.findall(text) if len(w) > 1} - ignored - ALLOWED
    english, own = vocabulary("en"), vocabulary(code)
    return {w for w in words if w.lower() in english and w.lower() not in own}


@pytest.mark.parametrize("code", OTHERS)
def test_every_page_is_in_the_language(site: Site, code: str) -> None:
    needs_catalog(code)
    language = LANGUAGES[code]
    head = f'<html lang="{code}" dir="{language.direction}">'
    shown: dict[str, str] = {}
    for who, client in (("shop", site.shop), ("staff", site.staff)):
        assert client.get(f"/lang/{code}").status_code == 303  # the switch, stored
        for path in site.paths[who]:
            page = client.get(path)
            assert page.status_code == 200, (code, path)
            shown[f"{who} {path}"] = page.text
    tag = locale_of(code).replace("_", "-")
    anonymous = WebClient(site.panel.url, **{"Accept-Language": f"{tag},en;q=0.5"})
    try:
        for path in site.paths["anonymous"]:
            shown[f"anonymous {path}"] = anonymous.get(path).text
    finally:
        anonymous.close()
    assert [where for where, page in shown.items() if head not in page] == []
    # The switch offers every other language, named in its own language.
    for other in LANGUAGES.values():
        if other.code != code and catalogs.has_catalog(other.code):
            assert f'hreflang="{other.code}"' in shown["shop /dashboard"], other.code
    english = {where: sorted(words) for where, page in shown.items()
               if (words := english_left(code, page, site.data))}
    assert english == {}
