"""English and Arabic: every string on the pages has its Arabic translation, Arabic pages
are laid out right to left, and refusals from the domain are translated too."""

from __future__ import annotations

import re
import string
from pathlib import Path

from opensmm.catalog.service import FULFILLMENT_MODES
from opensmm.ledger.queries import KINDS
from opensmm.orders import statuses
from opensmm.refills.statuses import REFILL_STATUSES
from opensmm.web import apidocs
from opensmm.web.i18n import LANGUAGES, Translator, from_accept_language, language
from opensmm.web.i18n.ar import MESSAGES as ARABIC
from opensmm.web.orders import ORDER_FIELDS
from tests.support.panel import Panel
from tests.web.support import WebClient, make_person

PACKAGE = Path(__file__).resolve().parents[2] / "opensmm"
TEMPLATE_CALL = re.compile(r"""_\(\s*(['"])((?:(?!\1).)+)\1""")
LABEL_PAIR = re.compile(r"""\('(?:/[^']*|[a-z_]+)', '([A-Z][^']*)'\)""")
PYTHON_CALL = re.compile(r"""(?:ctx\.t|\bt)\(\s*(['"])((?:(?!\1).)+)\1""")


def strings_on_pages() -> set[str]:
    """What the templates and the page code pass through the translator."""
    found: set[str] = set()
    for path in (PACKAGE / "web" / "templates").rglob("*.html"):
        text = path.read_text()
        found.update(m.group(2) for m in TEMPLATE_CALL.finditer(text))
        found.update(m.group(1) for m in LABEL_PAIR.finditer(text))  # navigation labels
    for folder in ("web", "admin"):
        for path in (PACKAGE / folder).rglob("*.py"):
            found.update(m.group(2) for m in PYTHON_CALL.finditer(path.read_text()))
    return found


def strings_from_data() -> set[str]:
    """Strings the templates translate from data: statuses, kinds, labels, API titles."""
    found = {*statuses.ORDER_STATUSES, *statuses.SUBSCRIPTION_STATUSES, *REFILL_STATUSES,
             *KINDS, *FULFILLMENT_MODES, "active", "suspended", "order", "refill"}
    for form_field in ORDER_FIELDS:
        found.add(form_field.label)
        if form_field.hint:
            found.add(form_field.hint)
    for doc in apidocs.api_examples("http://x/api/v2", []):
        found.add(doc.title)
        found.update(p.description for p in doc.parameters)
    found.update(apidocs.ADD_DESCRIPTIONS.values())
    found.add("The service's own field")
    return found


def test_every_string_on_the_pages_has_an_arabic_translation() -> None:
    wanted = strings_on_pages() | strings_from_data()
    assert len(wanted) > 250
    missing = sorted(text for text in wanted if text not in ARABIC)
    assert missing == []


def test_translations_keep_their_placeholders() -> None:
    for english, arabic in ARABIC.items():
        names = {n for _, n, _, _ in string.Formatter().parse(english) if n}
        assert names == {n for _, n, _, _ in string.Formatter().parse(arabic) if n}, english


def test_refusals_from_the_domain_are_translated() -> None:
    arabic = Translator(language("ar"))
    assert arabic.message("Not enough funds on balance") == "الرصيد غير كافٍ"
    assert arabic.message("Quantity less than minimal 50") == "الكمية أقل من الحد الأدنى 50"
    assert arabic.message("Something nobody translated") == "Something nobody translated"
    english = Translator(language("en"))
    assert english.message("Quantity less than minimal 50") == "Quantity less than minimal 50"
    assert english("Page {n} of {pages}", n=2, pages=3) == "Page 2 of 3"


def test_the_language_comes_from_the_browser_when_not_chosen() -> None:
    assert from_accept_language("ar-SA,ar;q=0.9,en;q=0.8") == "ar"
    assert from_accept_language("fr-FR,en;q=0.5") == "en"
    assert from_accept_language("") == "en"
    assert LANGUAGES["ar"].direction == "rtl"


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


def test_a_refusal_is_shown_in_arabic(panel: Panel, visitor: WebClient) -> None:
    visitor.login(make_person(panel, balance="1"))
    visitor.get("/lang/ar")
    service = panel.service(rate="1", min_quantity=50)
    answer = visitor.post("/order/new", {"service": service, "link": "https://x.test/ar",
                                         "quantity": "5"})
    assert answer.status_code == 400
    assert "الكمية أقل من الحد الأدنى 50" in answer.text
