"""English and Arabic on gettext catalogs.

- the catalogs: every message of the ``.pot`` translated in every language, all six Arabic
  plural forms, the same ``{placeholders}`` as the English; the ``.pot`` is what the
  templates and the code hold today; a catalog compiles on first load (editable installs)
  and a built wheel ships it compiled;
- refusals: raised with a template marked ``N_`` and parameters, answered in English by the
  API, shown translated on the pages;
- formatting: one money rule, per locale, with CLDR's bidi marks in Arabic;
- the language: the account's, else the browser's, else the panel's default;
- every customer and staff page rendered in Arabic, with data, shows no English word that
  is not data, an allowed token, or a stored event still written in English (listed below,
  for the branch that stores them as codes).
"""

from __future__ import annotations

import ast
import gettext
import html
import io
import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from opensmm.accounts.models import User
from opensmm.audit.models import AuditEntry
from opensmm.catalog.service import FULFILLMENT_MODES
from opensmm.catalog.types import SERVICE_TYPES
from opensmm.errors import DomainError
from opensmm.i18n import N_, Term, catalogs, formatting
from opensmm.ledger.queries import KINDS
from opensmm.orders import statuses
from opensmm.orders.fields import IncorrectLink
from opensmm.payments.models import STATES as PAYMENT_STATES
from opensmm.refills.statuses import REFILL_STATUSES
from opensmm.web import apidocs
from opensmm.web.i18n import LANGUAGES, Translator, from_accept_language
from opensmm.web.orders import ORDER_FIELDS
from tests.support.panel import Panel, running_panel
from tests.web.support import Person, WebClient, make_person, order_through_the_form

REPOSITORY = Path(__file__).resolve().parents[2]
PACKAGE = REPOSITORY / "opensmm"


def pot_ids(path: Path) -> set[str]:
    return {m.id if isinstance(m.id, str) else m.id[0] for m in catalogs.read_catalog(path) if m.id}


# --- the catalogs ----------------------------------------------------------------------------
@pytest.mark.parametrize("lang", ["ar", "en"])  # the others: tests/web/test_languages.py
def test_every_message_is_translated_with_its_placeholders(lang: str) -> None:
    assert lang in catalogs.available()
    assert [str(p) for p in catalogs.problems(lang)] == []


def test_the_pot_holds_what_the_templates_and_the_code_mark(tmp_path: Path) -> None:
    """A string added to a template or marked in the code but not extracted fails here:
    run ``python -m opensmm.i18n.catalogs extract`` then ``update``."""
    fresh = tmp_path / "messages.pot"
    catalogs.extract(fresh)
    assert pot_ids(fresh) == pot_ids(catalogs.TEMPLATE)
    assert len(pot_ids(fresh)) > 350


def test_arabic_has_its_six_plural_forms() -> None:
    arabic = catalogs.read_catalog(catalogs.po_path("ar"), locale="ar")
    assert arabic.num_plurals == 6
    plurals = [m for m in arabic if m.id and not isinstance(m.id, str)]
    assert len(plurals) >= 5
    t = Translator("ar")
    days = [t.ngettext("Revenue, last {n} day", "Revenue, last {n} days", n)
            for n in (0, 1, 2, 3, 11, 100)]
    assert days == ["الإيرادات، آخر 0 يوم", "الإيرادات، آخر يوم", "الإيرادات، آخر يومين",
                    "الإيرادات، آخر 3 أيام", "الإيرادات، آخر 11 يومًا", "الإيرادات، آخر 100 يوم"]
    english = Translator("en")
    assert english.ngettext("every {n} minute", "every {n} minutes", 1) == "every 1 minute"
    assert english.ngettext("every {n} minute", "every {n} minutes", 30) == "every 30 minutes"


def test_words_the_pages_translate_from_data_are_in_the_catalogs() -> None:
    wanted = {*statuses.ORDER_STATUSES, *statuses.SUBSCRIPTION_STATUSES, *REFILL_STATUSES,
              *KINDS, *FULFILLMENT_MODES, *PAYMENT_STATES, "active", "suspended", "order",
              "refill", *SERVICE_TYPES}
    for form_field in ORDER_FIELDS:
        wanted.add(form_field.label)
        if form_field.hint:
            wanted.add(form_field.hint)
    for doc in apidocs.api_examples("http://x/api/v2", []):
        wanted.add(doc.title)
        wanted.update(p.description for p in doc.parameters)
    assert wanted - pot_ids(catalogs.TEMPLATE) == set()


def test_a_catalog_compiles_on_first_load_and_again_when_its_po_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What an editable install (``./dev``) relies on: no ``.mo`` in git, none built."""
    shutil.copytree(catalogs.LOCALE_DIR, tmp_path / "locale")
    for mo in (tmp_path / "locale").rglob("*.mo"):
        mo.unlink()
    monkeypatch.setattr(catalogs, "LOCALE_DIR", tmp_path / "locale")
    monkeypatch.setattr(catalogs, "_loaded", {})
    assert Translator("ar")("Orders") == "الطلبات"
    mo = catalogs.mo_path("ar")
    assert mo.exists()
    po = catalogs.po_path("ar")
    po.write_text(po.read_text().replace('msgstr "الطلبات"', 'msgstr "طلباتي"'))
    stamp = mo.stat().st_mtime
    import os

    os.utime(po, (stamp + 10, stamp + 10))
    assert Translator("ar")("Orders") == "طلباتي"


@pytest.mark.slow
def test_a_built_wheel_ships_the_compiled_catalogs(tmp_path: Path) -> None:
    """The build hook (setup.py): a wheel built from a tree without any ``.mo``."""
    source = tmp_path / "src"
    source.mkdir()
    for name in ("pyproject.toml", "setup.py", "README.md", "LICENSE"):
        if (REPOSITORY / name).exists():
            shutil.copy(REPOSITORY / name, source / name)
    shutil.copytree(PACKAGE, source / "opensmm",
                    ignore=shutil.ignore_patterns("*.mo", "__pycache__"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w",
                    str(tmp_path / "dist"), str(source)], check=True, capture_output=True)
    [wheel] = (tmp_path / "dist").glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        data = archive.read("opensmm/i18n/locale/ar/LC_MESSAGES/messages.mo")
    assert gettext.GNUTranslations(io.BytesIO(data)).gettext("Orders") == "الطلبات"


# --- refusals --------------------------------------------------------------------------------
def test_a_refusal_is_english_for_the_api_and_translated_where_shown() -> None:
    arabic, english = Translator("ar"), Translator("en")
    low = DomainError(N_("Quantity less than minimal {min}"), min=50)
    assert str(low) == low.message == "Quantity less than minimal 50"
    assert arabic.error(low) == "الكمية أقل من الحد الأدنى 50"
    assert english.error(low) == "Quantity less than minimal 50"
    assert arabic.error(IncorrectLink()) == "الرابط غير صحيح"
    assert str(IncorrectLink()) == "Incorrect link"
    named = DomainError(N_("The user name {name!r} is taken"), name="bob")
    assert str(named) == "The user name 'bob' is taken"
    assert arabic.error(named) == "اسم المستخدم 'bob' مستخدم بالفعل"
    # A parameter that is itself a message is translated with it, English stays English.
    partial = DomainError(N_("{new_status} needs remains above zero (what was not delivered)"),
                          new_status=Term("Partial"))
    assert str(partial) == "Partial needs remains above zero (what was not delivered)"
    assert arabic.error(partial).startswith("الحالة «جزئي»")


def _refusal_literals() -> list[str]:
    """``raise SomeError("…")`` or ``SomeError(f"…")`` anywhere in the package: a refusal
    whose text Babel cannot extract or translate."""
    found: list[str] = []
    errors = {"DomainError"}
    trees = {path: ast.parse(path.read_text()) for path in PACKAGE.rglob("*.py")}
    classes = [node for tree in trees.values() for node in ast.walk(tree)
               if isinstance(node, ast.ClassDef)]
    grown = True
    while grown:  # the subclasses of DomainError, by name, to a fixed point
        before = len(errors)
        errors |= {c.name for c in classes
                   if any(isinstance(b, ast.Name) and b.id in errors for b in c.bases)}
        grown = len(errors) > before
    for path, tree in trees.items():
        for node in ast.walk(tree):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                    and node.func.id in errors and node.args
                    and isinstance(node.args[0], ast.Constant | ast.JoinedStr)):
                found.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    return found


def test_every_refusal_is_a_marked_template() -> None:
    assert _refusal_literals() == []


# --- formatting ------------------------------------------------------------------------------
def test_one_money_rule_in_every_language() -> None:
    def en(v: str) -> str:
        return formatting.money(Decimal(v), "USD", "en")

    assert [en("98.515"), en("98.52"), en("0.9"), en("0.00125"), en("1234.5"), en("-0.005")] == [
        "$98.515", "$98.52", "$0.90", "$0.00125", "$1,234.50", "-$0.005"]
    assert formatting.money(Decimal("0.90000"), "EUR", "en") == "€0.90"
    # Right to left: CLDR's pattern (a right-to-left mark first), one isolated left-to-right
    # unit, and the locale's own minus (a left-to-right mark, then the hyphen).
    lri, pdi, rlm, lrm, nbsp = "\u2066", "\u2069", "\u200f", "\u200e", "\xa0"
    assert formatting.money(Decimal("0.9"), "USD", "ar") == f"{lri}{rlm}0.90{nbsp}US${pdi}"
    assert formatting.money(Decimal("-0.005"), "USD", "ar") == (
        f"{lri}{rlm}{lrm}-0.005{nbsp}US${pdi}")
    moment = datetime(2026, 1, 2, 3, 4)
    assert formatting.when(moment, "en") == "1/2/26, 3:04\u202fAM"
    assert formatting.when(moment, "ar") == "2\u200f/1\u200f/2026، 3:04 ص"


@pytest.mark.browser
def test_a_negative_amount_reads_right_in_an_arabic_sentence() -> None:
    """Chromium lays the amount out: the minus left of the figure, ``US$`` whole (today's
    ``$0.005-`` and CLDR's bare pattern, which shows ``$US 0.005-``, both fail this)."""
    from playwright.sync_api import sync_playwright

    from tests.web.test_browser import CHROMIUM, CHROMIUM_ARGS

    amount = formatting.money(Decimal("-0.005"), "USD", "ar")
    page_html = (f'<html dir="rtl" lang="ar"><body style="font-size:40px">'
                 f'<p id="x">خُصم {amount} من رصيدك</p></body></html>')
    positions = """() => { const node = document.getElementById('x').firstChild; const out = [];
      for (let i = 0; i < node.length; i++) { const r = document.createRange();
        r.setStart(node, i); r.setEnd(node, i + 1);
        if (/[-0-9.US$]/.test(node.data[i])) out.push(Math.round(r.getBoundingClientRect().left));
      } return out; }"""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.set_content(page_html)
            lefts = page.evaluate(positions)
        finally:
            browser.close()
    # "-", "0", ".", "0", "0", "5", "U", "S", "$" in their logical order, left to right.
    assert len(lefts) == 9
    assert lefts == sorted(lefts)


# --- the language ----------------------------------------------------------------------------
def test_the_browser_language_by_preference() -> None:
    assert from_accept_language("ar-SA,ar;q=0.9,en;q=0.8") == "ar"
    assert from_accept_language("fr-FR,en;q=0.5") == "en"
    assert from_accept_language("en;q=0.3,ar;q=0.9") == "ar"
    assert from_accept_language("") == "en"
    assert from_accept_language("fr", default="ar") == "ar"
    assert from_accept_language("pt-BR,pt;q=0.9") == "pt"
    assert from_accept_language("pt-PT") == "pt"  # the one Portuguese we ship
    assert from_accept_language("in-ID") == "id"  # Indonesian's old tag
    assert from_accept_language("tru,ru;q=0.2") == "ru"  # a primary tag, not its first letters
    assert from_accept_language("ru;q=0.5,tr", enabled=["en", "ru"]) == "ru"
    assert LANGUAGES["ar"].direction == "rtl"


def _language_of(panel: Panel, name: str) -> str:
    with panel.db.read() as session:
        user = session.scalar(select(User).where(User.name == name))
        assert user is not None
        return user.language


def test_arabic_pages_are_right_to_left(panel: Panel, visitor: WebClient) -> None:
    assert '<html lang="en" dir="ltr">' in visitor.get("/login").text
    switched = visitor.get("/lang/ar", params={"next": "/login"})
    assert switched.headers["location"] == "/login"
    page = visitor.get("/login").text
    assert '<html lang="ar" dir="rtl">' in page
    assert "تسجيل الدخول" in page
    assert visitor.get("/lang/en", params={"next": "https://evil.example"}).headers[
        "location"] == "/"
    browser = WebClient(panel.url, **{"Accept-Language": "ar,en;q=0.5"})
    try:
        assert '<html lang="ar" dir="rtl">' in browser.get("/services").text
    finally:
        browser.close()


def test_the_account_language_wins_after_log_in(panel: Panel) -> None:
    # An account made in Arabic (sign-up on an Arabic page) opens in Arabic from an
    # English browser; one made on the command line (no language) follows the browser.
    arabic_browser = WebClient(panel.url, **{"Accept-Language": "ar"})
    english_browser = WebClient(panel.url, **{"Accept-Language": "en-US,en;q=0.9"})
    try:
        name = "ar" + re.sub(r"\W", "", str(id(arabic_browser)))[-8:]
        signed = arabic_browser.post("/signup", {"name": name, "email": f"{name}@x.test",
                                                 "password": "a long passphrase",
                                                 "password2": "a long passphrase"})
        assert signed.status_code == 303, signed.text[:300]
        assert _language_of(panel, name) == "ar"
        english_browser.login(Person(0, name, "a long passphrase"))
        assert '<html lang="ar" dir="rtl">' in english_browser.get("/dashboard").text

        made_by_cli = make_person(panel)
        assert _language_of(panel, made_by_cli.name) == ""
        other = WebClient(panel.url, **{"Accept-Language": "ar"})
        try:
            other.login(made_by_cli)
            assert '<html lang="ar" dir="rtl">' in other.get("/dashboard").text
            # Picking a language while logged in stores it on the account.
            other.get("/lang/en", params={"next": "/dashboard"})
            assert _language_of(panel, made_by_cli.name) == "en"
            assert '<html lang="en" dir="ltr">' in other.get("/dashboard").text
        finally:
            other.close()
    finally:
        arabic_browser.close()
        english_browser.close()


def test_a_refusal_is_shown_in_arabic(panel: Panel, visitor: WebClient) -> None:
    visitor.login(make_person(panel, balance="1"))
    visitor.get("/lang/ar")
    service = panel.service(rate="1", min_quantity=50)
    answer = visitor.post("/order/new", {"service": service, "link": "https://x.test/ar",
                                         "quantity": "5"})
    assert answer.status_code == 400
    assert "الكمية أقل من الحد الأدنى 50" in answer.text
    quote = visitor.post("/order/quote", {"service": service, "link": "https://x.test/ar",
                                          "quantity": "5000"}).json()
    assert quote["note"] == "الرصيد غير كافٍ"


# --- no English on Arabic pages --------------------------------------------------------------
# Tokens that are the same in every language.
ALLOWED = {"API", "URL", "USD", "US", "JSON", "HMAC", "SHA", "curl", "PHP", "Python", "HTTP",
           "HTTPS", "IP",
           "GET", "POST", "opensmm", "ID", "CSV", "SQLite", "PostgreSQL", "NUL", "v",
           "English",  # the language switch names English in English
           "SMM", "PDF", "PNG", "JPEG", "WebP"}
# Words of stored events still written in English: none since they are codes + parameters
# (opensmm.events); a word on this list is allowed on the pages below, and printed.
STORED_EVENTS: set[str] = set()
# Pages that show stored events (a flash shown on a user's page shows its ledger too).
# The pages every language is read on (here in Arabic, in tests/web/test_languages.py in
# every language); ``{...}`` are ids of the data the tests make.
CUSTOMER_PAGES = ("/dashboard", "/order/new", "/order/mass", "/orders", "/refills",
                  "/services", "/funds", "/account/keys", "/api", "/account/password")
STAFF_PAGES = ("/admin", "/admin/orders", "/admin/orders/{order}", "/admin/refills",
               "/admin/users", "/admin/users/{customer}", "/admin/services",
               "/admin/services/new", "/admin/services/{service}", "/admin/categories",
               "/admin/providers", "/admin/providers/{provider}", "/admin/ledger",
               "/admin/audit")
PAYMENT_PAGES = ("/admin/payments", "/admin/payments/{payment}", "/admin/payment-methods",
                 "/admin/payment-methods/{bank}", "/admin/payment-methods/{card}",
                 "/admin/payment-methods/new?gateway=paypal")
ANONYMOUS_PAGES = ("/", "/login", "/signup", "/services", "/api", "/no-such-page",
                   "/password/forgot")
# The switch names each language in its own language: data, not English.
LANGUAGE_NAMES = [language.name for language in LANGUAGES.values()]
EVENT_PAGES = ("staff flash", "/funds", "/admin/ledger", "/admin/audit", "/admin/orders/",
               "/admin/users/", "/dashboard", "/admin")


def visible_text(page: str) -> str:
    page = re.sub(r"(?is)<(script|style|pre|code|textarea)\b.*?</\1>", " ", page)
    # Text marked as another language (the switch names each language in its own, with
    # lang="..."): data in that language, not English left on this page.
    page = re.sub(r'(?is)<(?!html\b)(\w+)\b[^>]*\slang="[^"]*"[^>]*>.*?</\1>', " ", page)
    labels = " ".join(re.findall(r'(?:aria-label|title|placeholder)="([^"]*)"', page))
    page = re.sub(r"(?s)<[^>]+>", " ", page)
    return html.unescape(page + " " + labels)


def latin_words(text: str, data: list[str]) -> set[str]:
    for value in sorted(data, key=len, reverse=True):
        text = text.replace(value, " ")
    text = re.sub(r"https?://\S*", " ", text)  # links and example addresses are data
    return {w for w in re.findall(r"[A-Za-z][A-Za-z'’]*", text) if w not in ALLOWED}


@pytest.fixture(scope="module")
def sqlite_panel(database_servers: dict) -> Iterator[Panel]:
    with running_panel(database_servers, "sqlite") as panel:
        yield panel


def test_no_english_on_arabic_pages(sqlite_panel: Panel) -> None:
    panel = sqlite_panel
    boss, customer = make_person(panel, staff=True), make_person(panel, balance="100")
    service = panel.service(name="Insta Followers HQ", category="Insta Growth",
                            rate="0.98515", refill=True, cancel=True, min_quantity=10)
    plain = panel.service(name="Tube Views Basic", category="Tube", rate="1.5")
    links = ["https://example.test/p/one", "https://example.test/p/two",
             "https://example.test/p/three"]
    data = [boss.name, customer.name, f"{customer.name}@example.test",
            f"{boss.name}@example.test", "Insta Followers HQ", "Insta Growth",
            "Tube Views Basic", "Tube", *links, "example.test", "YOUR_API_KEY", "bonus fix",
            "bad line", "my script", "bigpanel",
            "test",  # the name the test fixtures act under (tests.support.panel)
            *LANGUAGE_NAMES]
    shop = WebClient(panel.url, **{"Accept-Language": "ar"})
    staff = WebClient(panel.url, **{"Accept-Language": "ar"})
    try:
        shop.login(customer)
        staff.login(boss)
        ids = order_through_the_form(panel, shop, customer, service, links)
        panel.set_order(ids[0], status="Completed")
        panel.set_order(ids[1], status="Partial", remains=157)
        shown: dict[str, str] = {}
        flashes = [
            shop.post(f"/orders/{ids[0]}/refill"),
            shop.post(f"/orders/{ids[2]}/cancel"),
            shop.post(f"/orders/{ids[0]}/refill"),  # refused: already in progress
            shop.post(f"/orders/{ids[1]}/cancel"),  # refused: already finished
        ]
        for n, response in enumerate(flashes):
            shown[f"flash {n}"] = shop.flash(response)
        refused = shop.post("/order/new", {"service": plain, "link": links[0],
                                           "quantity": "5"})
        assert refused.status_code == 400
        shown["refused order"] = refused.text
        shown["mass order"] = shop.post("/order/mass", {
            "orders": f"{service} | {links[0]} | 5\n999999 | {links[0]} | 100\nbad line\n"
                      f"{plain} | {links[1]} | 100"}).text
        with panel.write() as session:
            from opensmm.accounts.service import create_key
            from opensmm.providers.service import add_provider, probe

            owner = session.get(User, customer.id)
            assert owner is not None
            data.append(create_key(session, owner, label="my script").prefix)
            provider_id = add_provider(session, "bigpanel", "http://127.0.0.1:9/api/v2", "k").id
        try:  # what the upstream client says is data, like a link: only the sentence is ours
            probe("http://127.0.0.1:9/api/v2", "k")
        except DomainError as exc:
            data.append(str(exc.params["exc"]))
        unreachable = staff.post(f"/admin/providers/{provider_id}/balance")
        assert unreachable.status_code == 400
        shown["provider refusal"] = unreachable.text
        assert "تعذرت قراءة رصيد المزوّد" in unreachable.text
        adjusted = staff.deposit(customer.id, "-0.005", "bonus fix")
        shown["staff flash"] = staff.flash(adjusted)
        shown["staff refusal"] = staff.flash(staff.deposit(customer.id, "abc", "x"))
        # Adding funds: a manual method with Arabic instructions, a payment with a proof,
        # approved by staff; a Stripe method (its form names its settings as keys).
        with panel.write() as session:
            from opensmm.audit.actor import Actor
            from opensmm.payments import methods as payment_methods
            from opensmm.payments.gateways import GATEWAYS
            from opensmm.payments.keys import panel_secret

            bank = payment_methods.add_method(
                session, Actor.staff(boss.id, boss.name), name="bank-ar", gateway="manual",
                panel_secret=panel_secret(panel.db), title="Bank Misr",
                limits=payment_methods.Limits(fee_percent=Decimal(2), bonus_percent=Decimal(5)),
                instructions={"ar": "حوّل المبلغ إلى حسابنا"})
            card = payment_methods.add_method(
                session, Actor.staff(boss.id, boss.name), name="card-ar", gateway="stripe",
                panel_secret=panel_secret(panel.db), title="Visa",
                settings={"secret_key": "sk_test_abcdef123456", "webhook_secret": "whsec_x1"})
            bank_id, card_id = bank.id, card.id
        data += ["bank-ar", "card-ar", "Bank Misr", "Visa", "WIRE-77", "stripe", "Stripe",
                 "PayPal", "NOWPayments", "approve", "manual",
                 # the gateways' setting names, as the CLI takes them (identifiers)
                 *{key for cls in GATEWAYS.values() for key in cls.known_settings}]
        sent = shop.http.post("/funds/add", data={
            "method": "bank-ar", "amount": "10", "reference": "WIRE-77", "csrf": shop.token()},
            files={"proof": ("r.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 32, "image/png")})
        assert sent.status_code == 303, sent.text[:300]
        shown["payment sent"] = shop.flash(sent)
        shown["bad amount"] = shop.http.post("/funds/add", data={
            "method": "bank-ar", "amount": "abc", "reference": "WIRE-77",
            "csrf": shop.token()}, files={"proof": ("", b"", "image/png")}).text
        with panel.db.read() as session:
            from opensmm.payments.models import Payment

            payment_id = session.scalar(select(Payment.id).where(
                Payment.user_id == customer.id))
        shown["staff approve"] = staff.flash(staff.post(f"/admin/payments/{payment_id}/approve",
                                                        {"amount": ""}))
        for pattern in PAYMENT_PAGES:
            path = pattern.format(payment=payment_id, bank=bank_id, card=card_id)
            page = staff.get(path)
            assert page.status_code == 200, path
            shown[path] = page.text
        for path in CUSTOMER_PAGES:
            page = shop.get(path)
            assert page.status_code == 200, path
            shown[path] = page.text
        for pattern in STAFF_PAGES:
            path = pattern.format(order=ids[1], customer=customer.id, service=service,
                                  provider=provider_id)
            page = staff.get(path)
            assert page.status_code == 200, path
            shown[path] = page.text
        anonymous = WebClient(panel.url, **{"Accept-Language": "ar"})
        try:
            for path in ANONYMOUS_PAGES:
                shown["anonymous " + path] = anonymous.get(path).text
            shown["signup refusal"] = anonymous.post("/signup", {
                "name": "x y", "email": "a@b.test", "password": "p", "password2": "q"}).text
            shown["forgot answer"] = anonymous.post("/password/forgot",
                                                    {"login": customer.name}).text
            from opensmm.mail.models import MailOutbox

            with panel.db.read() as session:  # the mail is in the customer's language: data
                mail = session.scalars(select(MailOutbox).order_by(MailOutbox.id.desc())).first()
                assert mail is not None
                data.append(mail.subject)
            for path in ("/admin/emails", f"/admin/emails/{mail.id}"):
                page = staff.get(path)
                assert page.status_code == 200, path
                shown[path] = page.text
        finally:
            anonymous.close()
    finally:
        shop.close()
        staff.close()
    with panel.db.read() as session:  # audit codes and targets are identifiers, like ids
        for action, target in session.execute(select(AuditEntry.action, AuditEntry.target)):
            data.extend((action, target))
    assert all('<html lang="ar" dir="rtl">' in page for page in shown.values())
    # The staff's -0.005 on the customer's Funds page, as CLDR writes it right to left.
    assert f">{formatting.money(Decimal('-0.005'), 'USD', 'ar')}<" in shown["/funds"]
    assert ">$" not in shown["/funds"]
    english: dict[str, set[str]] = {}
    left: dict[str, set[str]] = {}
    for where, page in shown.items():
        words = latin_words(visible_text(page), data)
        if where.startswith(EVENT_PAGES):
            left[where] = words & STORED_EVENTS
            words -= STORED_EVENTS
        if words:
            english[where] = words
    assert not english, repr({k: sorted(v) for k, v in english.items()})
    # What the stored events still show in English (see STORED_EVENTS), for the record.
    print({k: sorted(v) for k, v in left.items() if v})
