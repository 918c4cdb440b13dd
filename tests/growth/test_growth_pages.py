"""The coupon and affiliate pages over HTTP, against a running panel on SQLite and
PostgreSQL: the referral link and sign-up, the Affiliates page and its transfer, the staff
coupon and affiliate forms, hostile input everywhere (a clear refusal, never a 500), and
Arabic pages without English."""

from __future__ import annotations

import re
import uuid
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from opensmm.accounts.service import get_user_by_id
from opensmm.affiliates import service as affiliates
from opensmm.affiliates.models import Affiliate, Referral
from opensmm.audit.models import AuditEntry
from opensmm.coupons import service as coupons
from opensmm.coupons.models import Coupon
from opensmm.panel_settings import service as panel_settings
from tests.growth.helpers import ACTOR, approve, balance, consistent, manual_method, start
from tests.support.panel import Panel
from tests.web.support import WebClient, make_person
from tests.web.test_i18n import latin_words, visible_text

TRANSFER_KEY = re.compile(r'name="transfer_key" value="([^"]+)"')


def code_of(panel: Panel, user_id: int) -> str:
    with panel.write() as session:
        return affiliates.ensure(session, user_id).code


def sign_up(client: WebClient, name: str) -> None:
    answer = client.post("/signup", {"name": name, "email": f"{name}@example.test",
                                     "password": "correct horse battery",
                                     "password2": "correct horse battery"})
    assert answer.status_code == 303, answer.text[:500]


def test_a_sign_up_through_the_link_is_the_referrers(panel: Panel, visitor: WebClient,
                                                     other_visitor: WebClient) -> None:
    referrer = make_person(panel)
    code = code_of(panel, referrer.id)
    for _ in range(2):  # the same browser twice: one visit
        answer = visitor.get(f"/r/{code}")
        assert answer.status_code == 303 and answer.headers["location"] == "/signup"
    assert visitor.http.cookies.get("opensmm_ref") == code
    name = f"n{uuid.uuid4().hex[:9]}"
    sign_up(visitor, name)
    assert "opensmm_ref" not in visitor.http.cookies
    with panel.db.read() as session:
        new_id = session.scalar(select(Referral.user_id).where(
            Referral.referrer_id == referrer.id))
        assert new_id is not None
        assert session.scalar(select(Affiliate.visits).where(
            Affiliate.user_id == referrer.id)) == 1
    other_visitor.login(referrer)
    page = other_visitor.get("/affiliates")
    assert page.status_code == 200
    assert f"/r/{code}" in page.text
    assert re.search(r'id="aff-signups">1<', page.text)
    assert re.search(r'id="aff-visits">1<', page.text)
    assert name[:3] + "…" in page.text and name not in page.text
    # Logged in, the link counts no visit (there is nobody to refer).
    assert other_visitor.get(f"/r/{code}").headers["location"] == "/dashboard"
    with panel.db.read() as session:
        assert session.scalar(select(Affiliate.visits).where(
            Affiliate.user_id == referrer.id)) == 1


@pytest.mark.parametrize("path", ["/r/", "/r/x", "/r/%00%00%00%00%00%00", "/r/<script>alert(1)",
                                  "/r/" + "a" * 5000, "/r/nosuchcode1", "/r/..%2f..%2fetc",
                                  "/r/%E2%80%AEabcdef"])
def test_hostile_referral_links(panel: Panel, visitor: WebClient, path: str) -> None:
    answer = visitor.get(path)
    assert answer.status_code in (303, 404), answer.status_code
    assert "opensmm_ref" not in visitor.http.cookies


def test_a_made_up_referral_cookie_is_ignored_at_sign_up(panel: Panel) -> None:
    client = WebClient(panel.url)
    try:
        client.http.cookies.set("opensmm_ref", "' OR 1=1 --")
        sign_up(client, f"m{uuid.uuid4().hex[:9]}")
    finally:
        client.close()


def _transfer_key(client: WebClient) -> str:
    match = TRANSFER_KEY.search(client.get("/affiliates").text)
    assert match
    return match.group(1)


def test_affiliates_page_and_transfer(panel: Panel, visitor: WebClient) -> None:
    referrer = make_person(panel)
    code = code_of(panel, referrer.id)
    referred = make_person(panel)
    with panel.write() as session:
        affiliates.record_referral(session, referred.id, code)
        affiliates.set_percent(session, ACTOR, get_user_by_id(session, referrer.id), "10")
    started = start(panel.db, referred.id, manual_method(panel.db), "50")
    approve(panel.db, started.payment_id)
    visitor.login(referrer)
    page = visitor.get("/affiliates")
    assert re.search(r'id="aff-deposits">1<', page.text)
    for bad in ("", "abc", "-1", "0", "1e99", "5.000001", "6", "NaN", "<b>1</b>", "١٠",
                "x" * 10000):
        refused = visitor.post("/affiliates/transfer", {"amount": bad,
                                                        "transfer_key": _transfer_key(visitor)})
        assert refused.status_code == 400, (bad, refused.status_code)
        assert "flash-error" in refused.text
    for key in ("", "bad", "'; DROP TABLE affiliates; --"):
        refused = visitor.post("/affiliates/transfer", {"amount": "1", "transfer_key": key})
        assert refused.status_code == 400
    key = _transfer_key(visitor)
    moved = visitor.post("/affiliates/transfer", {"amount": "2", "transfer_key": key})
    assert moved.status_code == 303
    again = visitor.post("/affiliates/transfer", {"amount": "2", "transfer_key": key})
    assert "already submitted" in visitor.flash(again)
    assert balance(panel.db, referrer.id) == Decimal(2)
    with panel.db.read() as session:
        assert affiliates.stats(session, referrer.id).balance == Decimal(3)
    consistent(panel.db)


def test_staff_coupon_pages(panel: Panel, visitor: WebClient, other_visitor: WebClient) -> None:
    boss, customer = make_person(panel, staff=True), make_person(panel)
    visitor.login(boss)
    code = f"C{uuid.uuid4().hex[:8]}".upper()
    hostile = [
        {"code": "", "kind": "amount", "value": "5"},
        {"code": "<script>", "kind": "amount", "value": "5"},
        {"code": code, "kind": "bogus", "value": "5"},
        {"code": code, "kind": "amount", "value": "abc"},
        {"code": code, "kind": "amount", "value": "-5"},
        {"code": code, "kind": "percent", "value": "150"},
        {"code": code, "kind": "amount", "value": "5", "max_uses": "-1"},
        {"code": code, "kind": "amount", "value": "5", "max_uses": "1e5"},
        {"code": code, "kind": "amount", "value": "5", "max_uses": "99999999999999999999"},
        {"code": code, "kind": "amount", "value": "5", "per_customer": "0"},
        {"code": code, "kind": "amount", "value": "5", "expires": "31/12/2030"},
        {"code": code, "kind": "amount", "value": "5", "expires": "2001-01-01"},
        {"code": code, "kind": "amount", "value": "5", "expires": "9999-12-31"},
        {"code": code, "kind": "amount", "value": "5", "min_deposit": "lots"},
        {"code": code + "\x00", "kind": "amount", "value": "5"},
        {"code": "x" * 100000, "kind": "amount", "value": "5"},
    ]
    for form in hostile:
        answer = visitor.post("/admin/coupons", form)
        assert answer.status_code in (303, 400), (form, answer.status_code)
    with panel.db.read() as session:  # only the valid code, cleaned of its NUL
        made = session.scalars(select(Coupon.code)).all()
    assert set(made) <= {code}
    created = visitor.post("/admin/coupons", {
        "code": code.lower() + "x", "kind": "percent", "value": "10", "max_uses": "5",
        "per_customer": "1", "min_deposit": "10", "expires": "2070-01-31"})
    assert created.status_code == 303
    listing = visitor.get("/admin/coupons").text
    assert code + "X" in listing
    with panel.db.read() as session:
        coupon = session.scalar(select(Coupon).where(Coupon.code == code + "X"))
        assert coupon is not None and coupon.max_uses == 5
    detail = visitor.get(f"/admin/coupons/{coupon.id}")
    assert detail.status_code == 200
    assert visitor.get("/admin/coupons/999999").status_code == 404
    assert visitor.get("/admin/coupons/99999999999999").status_code == 404
    disabled = visitor.post(f"/admin/coupons/{coupon.id}/disable")
    assert disabled.status_code == 303
    twice = visitor.post(f"/admin/coupons/{coupon.id}/disable")
    assert "disabled already" in visitor.flash(twice)
    with panel.db.read() as session:
        actions = session.scalars(select(AuditEntry.action).where(
            AuditEntry.target == f"coupon:{coupon.id}")).all()
    assert sorted(actions) == ["coupon.create", "coupon.disable"]
    other_visitor.login(customer)
    assert other_visitor.get("/admin/coupons").status_code == 403
    assert other_visitor.post("/admin/coupons", {"code": "HACKED", "kind": "amount",
                                                 "value": "100"}).status_code == 403


def test_staff_affiliate_percent(panel: Panel, visitor: WebClient) -> None:
    boss, customer = make_person(panel, staff=True), make_person(panel)
    visitor.login(boss)
    for bad in ("abc", "-1", "51", "1e999", "NaN", "x" * 5000, "5%", "\x005x"):
        answer = visitor.post(f"/admin/users/{customer.id}/affiliate", {"percent": bad})
        assert answer.status_code == 303, (bad, answer.status_code)
        assert "flash-error" in visitor.flash(answer), bad
    ok = visitor.post(f"/admin/users/{customer.id}/affiliate", {"percent": "7.5"})
    assert "7.5" in visitor.flash(ok)
    page = visitor.get(f"/admin/users/{customer.id}")
    assert page.status_code == 200 and 'id="affiliate"' in page.text
    cleared = visitor.post(f"/admin/users/{customer.id}/affiliate", {"percent": ""})
    assert cleared.status_code == 303
    assert visitor.post("/admin/users/999999/affiliate", {"percent": "1"}).status_code in (
        303, 404)
    with panel.db.read() as session:
        rows = session.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "affiliate.percent",
            AuditEntry.target == f"user:{customer.id}"))
    assert rows == 2


def test_arabic_pages_have_no_english(panel: Panel) -> None:
    if panel.kind != "sqlite":
        return  # the words are the same on both databases
    boss, customer = make_person(panel, staff=True), make_person(panel)
    referred = make_person(panel)
    with panel.write() as session:
        code = affiliates.ensure(session, customer.id).code
        affiliates.record_referral(session, referred.id, code)
        panel_settings.set_value(session, "affiliate_percent", "10", ACTOR)
        panel_settings.set_value(session, "affiliate_min_transfer", "1", ACTOR)
        made = coupons.create(session, ACTOR, f"AR{uuid.uuid4().hex[:6]}".upper(),
                              percent=Decimal(5), max_uses=3, min_deposit=Decimal(5))
        coupon_code, coupon_id = made.code, made.id
    started = start(panel.db, referred.id, manual_method(panel.db), "20", coupon=coupon_code)
    approve(panel.db, started.payment_id)
    shop = WebClient(panel.url, **{"Accept-Language": "ar"})
    staff = WebClient(panel.url, **{"Accept-Language": "ar"})
    try:
        shop.login(customer)
        staff.login(boss)
        shown = {
            "/affiliates": shop.get("/affiliates").text,
            "transfer refused": shop.post("/affiliates/transfer", {
                "amount": "0.5", "transfer_key": _transfer_key(shop)}).text,
            "transfer flash": shop.flash(shop.post("/affiliates/transfer", {
                "amount": "1", "transfer_key": _transfer_key(shop)})),
            "/admin/coupons": staff.get("/admin/coupons").text,
            "/admin/coupons/id": staff.get(f"/admin/coupons/{coupon_id}").text,
            "/admin/users/id": staff.get(f"/admin/users/{customer.id}").text,
            "coupon refused": staff.post("/admin/coupons", {
                "code": coupon_code, "kind": "amount", "value": "5"}).text,
        }
    finally:
        shop.close()
        staff.close()
    data = [boss.name, customer.name, referred.name, coupon_code, code, referred.name[:3],
            f"{customer.name}@example.test", "test", "WELCOME10", "YYYY-MM-DD", "UTC"]
    with panel.db.read() as session:  # codes made by the module's other tests are listed too
        data.extend(session.scalars(select(Coupon.code)))
    english = {where: latin_words(visible_text(page), data) for where, page in shown.items()}
    assert all('<html lang="ar" dir="rtl">' in page for page in shown.values())
    assert not any(english.values()), {k: sorted(v) for k, v in english.items() if v}
