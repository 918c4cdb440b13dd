"""Ledger entries and order history are stored as a code plus parameters and shown in the
reader's language: every kind of row in English and Arabic with its numbers, parameters
shown as given (escaped, never interpreted as a template), rows from before codes as they
were stored."""

from __future__ import annotations

import getpass
import json
import string
from decimal import Decimal

import pytest
from sqlalchemy import select

from opensmm.accounts.models import User
from opensmm.affiliates import events as affiliate_events
from opensmm.events import (
    MAX_PARAM,
    Actor,
    Message,
    actor_templates,
    describe,
    event_types,
    params,
)
from opensmm.i18n.catalogs import po_path, read_catalog
from opensmm.ledger import events as ledger_events
from opensmm.ledger import service as ledger
from opensmm.ledger.models import LedgerEntry
from opensmm.orders import events as order_events
from opensmm.orders import service as orders
from opensmm.orders.models import OrderEvent
from opensmm.payments import events as payment_events
from opensmm.web.i18n import Translator, language
from tests.support.panel import Panel
from tests.web.support import WebClient, make_person

ARABIC = {
    message.id: message.string
    for message in read_catalog(po_path("ar"), locale="ar")
    if message.id and isinstance(message.id, str) and message.string
}
EN = Translator(language("en"))  # no currency: amounts as bare figures
AR_USD = Translator(language("ar"), "USD").money  # as the pages show amounts
AR = Translator(language("ar"))
HOSTILE = "<script>alert(1)</script> {0} {memo} {__class__} %s }{"


def _names(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_every_event_template_has_an_arabic_translation() -> None:
    templates = [kind.template for kind in event_types() if kind.template]
    templates += [order_events.STATUS_CHANGED, order_events.REMAINS_CHANGED,
                  order_events.REFUNDED, order_events.START_COUNT, "; ", *actor_templates()]
    assert len(templates) > 30
    missing = [text for text in templates if text not in ARABIC]
    assert missing == []
    for text in templates:
        assert _names(text) == _names(ARABIC[text]), text


def test_codes_are_unique_and_namespaced() -> None:
    codes = [kind.code for kind in event_types()]
    assert len(codes) == len(set(codes))
    assert all(code.split(".")[0] in {"ledger", "order", "refill", "payment", "affiliate"}
               for code in codes)


def _both(code: str, stored: dict[str, object], memo: str = "") -> tuple[str, str]:
    message = describe(code, {**stored, "memo": memo}, memo)
    return message.render(EN), message.render(AR)


LEDGER_ROWS = [
    (ledger_events.ORDER_CHARGE, params(order=12, service="Instagram Followers"), "",
     "Order 12: Instagram Followers", "الطلب 12: Instagram Followers"),
    (ledger_events.ORDER_REFUND_PARTIAL, params(order=12, reason="partial"), "",
     "Order 12: partial refund", "الطلب 12: استرداد جزئي"),
    (ledger_events.ORDER_REFUND_CANCEL, params(order=7, reason="cancel"), "",
     "Order 7: cancel refund", "الطلب 7: استرداد الإلغاء"),
    (ledger_events.ORDER_REFUND, params(order=7, reason="odd"), "",
     "Order 7: odd refund", "الطلب 7: استرداد (odd)"),
    (ledger_events.FUNDS_ADDED, params(actor=Actor.of("cli")), "",
     "Funds added (by command line)", "إضافة رصيد (بواسطة سطر الأوامر)"),
    (ledger_events.FUNDS_REMOVED, params(actor=Actor.of("staff:boss")), "",
     "Funds removed (by staff boss)", "سحب رصيد (بواسطة الموظف boss)"),
    (ledger_events.FUNDS_WITH_MEMO, params(actor=Actor.of("demo")), "Bank transfer 42",
     "Bank transfer 42 (by demo)", "Bank transfer 42 (بواسطة العرض التجريبي)"),
    (payment_events.PAYMENT_CREDIT, params(payment=5, method="Card"), "",
     "Payment #5 via Card", "الدفعة رقم 5 عبر Card"),
    (payment_events.PAYMENT_FEE, params(payment=5, method="Card"), "",
     "Payment #5: fee of Card", "الدفعة رقم 5: رسوم Card"),
    (payment_events.PAYMENT_BONUS, params(payment=5), "",
     "Payment #5: deposit bonus", "الدفعة رقم 5: مكافأة الإيداع"),
    (payment_events.PAYMENT_REFUNDED, params(payment=5, method="Card"), "",
     "Payment #5: refunded by Card", "الدفعة رقم 5: استردّتها Card"),
    (payment_events.PAYMENT_DISPUTED, params(payment=5, method="Card"), "",
     "Payment #5: disputed at Card", "الدفعة رقم 5: اعتراض لدى Card"),
    (payment_events.PAYMENT_COUPON, params(payment=5, method="Card", coupon="WELCOME"), "",
     "Payment #5: coupon WELCOME", "الدفعة رقم 5: القسيمة WELCOME"),
    (affiliate_events.AFFILIATE_TRANSFER, params(), "",
     "Moved from your affiliate balance", "نُقل من رصيد عمولاتك"),
]


@pytest.mark.parametrize(("kind", "stored", "memo", "english", "arabic"), LEDGER_ROWS,
                         ids=[row[0].code for row in LEDGER_ROWS])
def test_each_ledger_entry_reads_in_english_and_arabic(
    kind: ledger_events.EventType, stored: dict[str, object], memo: str, english: str,
    arabic: str,
) -> None:
    assert _both(kind.code, stored, memo) == (english, arabic)


E = order_events
HISTORY_ROWS = [
    (E.PLACED, params(charge=Decimal("0.90000"), units=1000),
     f"Placed for {EN.money('0.9')} (1000 units)", f"أُنشئ بمبلغ {AR.money('0.9')} (1000 وحدة)"),
    (E.CHANGED, params(status=["Pending", "Partial"], remains=[1000, 250],
                       refunded=Decimal("0.22500"), start_count=50),
     f"status Pending → Partial; remains 1000 → 250; refunded {EN.money('0.225')}; "
     "start count 50",
     f"الحالة قيد الانتظار ← جزئي؛ المتبقي 1000 ← 250؛ أُعيد {AR.money('0.225')}؛ "
     "العدد عند البدء 50"),
    (E.CANCEL_REQUESTED, {}, "Cancel requested; forwarded to the provider",
     "طُلب الإلغاء؛ أُحيل إلى المزوّد"),
    (E.REFILL_REQUESTED, params(refill=3), "Refill 3 requested", "طُلبت إعادة التعبئة 3"),
    (E.AUTO_REFILL_REQUESTED, params(refill=3), "Refill 3 requested by auto-refill",
     "طُلبت إعادة التعبئة 3 بإعادة التعبئة التلقائية"),
    (E.REFILL_STATUS, params(refill=3, old="Pending", new="Completed"),
     "Refill 3: Pending → Completed", "إعادة التعبئة 3: قيد الانتظار ← مكتمل"),
    (E.HELD, params(reason="timeout"), "Held: timeout", "معلّق: timeout"),
    (E.RESENDING, params(reason="timeout", attempt=2),
     "In doubt (timeout); resending with the same idempotency key (try 2)",
     "غير مؤكد (timeout)؛ يُعاد إرساله بمفتاح عدم التكرار نفسه (المحاولة 2)"),
    (E.ALERT, params(message="unknown status"), "Alert: unknown status",
     "تنبيه: unknown status"),
    (E.SENT, params(by=Actor.of("provider:big"), upstream=9001),
     "Sent to provider big: upstream order 9001", "أُرسل إلى المزوّد big: رقمه لدى المزوّد 9001"),
    (E.ROUTED, params(old=1, new=2, provider=4, service=77, reason="no funds"),
     "Moved from route 1 to route 2 (provider 4, service 77): no funds",
     "نُقل من المسار 1 إلى المسار 2 (المزوّد 4، الخدمة 77): no funds"),
    (E.CANCEL_FORWARDED, params(by=Actor.of("simulator")),
     "Cancel forwarded to simulator: accepted", "أُحيل الإلغاء إلى محاكاة: مقبول"),
    (E.CANCEL_REFUSED, params(by=Actor.of("provider:big"), reason="too late"),
     "provider big refused the cancel: too late", "رفض المزوّد big الإلغاء: too late"),
    (E.RESOLVED_EXISTS, params(upstream=77), "Resolved: exists upstream as order 77",
     "تمت التسوية: موجود لدى المزوّد بالرقم 77"),
    (E.RESOLVED_CANCELED, {}, "Resolved: never created upstream; canceled as asked",
     "تمت التسوية: لم يُنشأ لدى المزوّد؛ أُلغي كما طُلب"),
    (E.RESOLVED_RESEND, {}, "Resolved: never created upstream; to be sent again",
     "تمت التسوية: لم يُنشأ لدى المزوّد؛ سيُرسل مرة أخرى"),
    (E.REFILL_SENT, params(refill=3, by=Actor.of("provider:big"), upstream=5),
     "Refill 3 sent to provider big: upstream refill 5",
     "أُرسلت إعادة التعبئة 3 إلى المزوّد big: رقمها لدى المزوّد 5"),
    (E.REFILL_HELD, params(refill=3, reason="timeout"), "Refill 3 held: timeout",
     "إعادة التعبئة 3 معلّقة: timeout"),
    (E.REFILL_ALERT, params(refill=3, message="odd"), "Refill 3 alert: odd",
     "تنبيه إعادة التعبئة 3: odd"),
    (E.REFILL_RESOLVED_EXISTS, params(refill=3, upstream=5),
     "Refill 3 resolved: exists upstream as refill 5",
     "تمت تسوية إعادة التعبئة 3: موجودة لدى المزوّد بالرقم 5"),
    (E.REFILL_RESOLVED_RESEND, params(refill=3),
     "Refill 3 resolved: never opened upstream; to be sent again",
     "تمت تسوية إعادة التعبئة 3: لم تُفتح لدى المزوّد؛ ستُرسل مرة أخرى"),
    (E.POST_ORDERED, params(number=2, order=41), "Post 2: order 41",
     "المنشور 2: الطلب 41"),
    (E.POST_UNPAID, params(number=3), "Post 3: not enough funds; the subscription is paused",
     "المنشور 3: الرصيد غير كافٍ؛ أُوقف الاشتراك مؤقتًا"),
    (E.POST_OF, params(number=2, subscription=40, charge=Decimal("0.21600"), units=108),
     f"Post 2 of subscription 40: placed for {EN.money('0.216')} (108 units)",
     f"المنشور 2 من الاشتراك 40: طُلب بمبلغ {AR.money('0.216')} (108 وحدة)"),
]


@pytest.mark.parametrize(("kind", "stored", "english", "arabic"), HISTORY_ROWS,
                         ids=[row[0].code for row in HISTORY_ROWS])
def test_each_history_row_reads_in_english_and_arabic(
    kind: order_events.EventType, stored: dict[str, object], english: str, arabic: str
) -> None:
    message = describe(kind.code, stored, "")
    assert (message.render(EN), message.render(AR)) == (english, arabic)


def test_every_code_is_covered_above() -> None:
    covered = {row[0].code for row in LEDGER_ROWS} | {row[0].code for row in HISTORY_ROWS}
    assert covered == {kind.code for kind in event_types()}


@pytest.mark.parametrize(("actor", "english", "arabic"), [
    ("staff:boss", "staff boss", "الموظف boss"),
    ("user:alice", "customer alice", "العميل alice"),
    ("customer", "the customer", "العميل"),
    ("cli", "command line", "سطر الأوامر"),
    ("cli:root", "command line (root)", "سطر الأوامر (root)"),
    ("worker", "worker", "المعالج الآلي"),
    ("provider:big", "provider big", "المزوّد big"),
    ("simulator", "simulator", "محاكاة"),
    ("a script", "a script", "a script"),
    ("staff:{0}<b>", "staff {0}<b>", "الموظف {0}<b>"),
])
def test_actors_read_as_a_translated_phrase(actor: str, english: str, arabic: str) -> None:
    who = Actor.of(actor)
    assert (who.message().render(EN), who.message().render(AR)) == (english, arabic)


def test_hostile_parameters_are_shown_as_given_and_never_as_a_template() -> None:
    huge = "x" * 100_000
    stored = params(message=HOSTILE + huge)
    assert len(stored["message"]) == MAX_PARAM  # clipped when stored
    for t in (EN, AR):
        shown = describe(E.ALERT.code, stored, "").render(t)
        assert HOSTILE in shown and shown.endswith("…")
        assert len(shown) < MAX_PARAM + 20
    # A memo, a service name and an actor's name with braces stay what they were.
    assert _both(ledger_events.FUNDS_WITH_MEMO.code,
                 params(actor=Actor.of("staff:{memo}")), HOSTILE) == (
        f"{HOSTILE} (by staff {{memo}})", f"{HOSTILE} (بواسطة الموظف {{memo}})")
    assert _both(ledger_events.ORDER_CHARGE.code, params(order=1, service=HOSTILE))[1] == (
        f"الطلب 1: {HOSTILE}")


def test_a_row_that_does_not_fit_its_template_still_shows() -> None:
    missing = describe(E.REFILL_SENT.code, {"refill": 3}, "")
    assert missing.render(EN) == "Refill 3 sent to {by}: upstream refill {upstream}"
    assert missing.render(AR).startswith("أُرسلت إعادة التعبئة 3")
    odd = describe(E.CHANGED.code, {"status": "not a pair", "remains": {"x": 1}}, "")
    assert odd.render(EN) == ""
    assert describe(E.HELD.code, ["not", "a", "mapping"], "").render(AR) == "معلّق: {reason}"  # type: ignore[arg-type]
    nested = describe(E.HELD.code, {"reason": {"kind": "staff", "name": "<b>"}}, "")
    assert nested.render(EN) == "Held: staff <b>"


def test_rows_from_before_codes_show_their_text_as_stored() -> None:
    for code in (None, "", "ledger.from_a_newer_version"):
        old = describe(code, {"order": 5}, "Order 5: cancel refund")
        # Never looked up in a catalog: a memo that happens to be a catalog word stays.
        assert old.render(AR) == old.render(EN) == "Order 5: cancel refund"
    assert describe(None, None, "Funds").render(AR) == "Funds"
    assert Message.as_is("{0} {x}").render(AR) == "{0} {x}"


# --- on the pages, from rows the services write -----------------------------------------


def _arabic(visitor: WebClient, path: str) -> str:
    visitor.get("/lang/ar")
    try:
        return visitor.get(path).text
    finally:
        visitor.get("/lang/en")


def test_funds_page_and_staff_pages_show_each_row_in_the_visitors_language(
    panel: Panel, visitor: WebClient, other_visitor: WebClient
) -> None:
    customer = make_person(panel)
    staff = make_person(panel, staff=True)
    service = panel.service(rate="1", name="Likes <b>{0}</b>", cancel=True)
    with panel.write() as session:
        user = session.get(User, customer.id)
        assert user is not None
        ledger.add_funds(session, user.id, Decimal("10"), memo="", actor="cli")
        ledger.add_funds(session, user.id, Decimal("5"), memo=HOSTILE, actor=f"staff:{staff.name}")
        ledger.add_funds(session, user.id, Decimal("-1"), memo="", actor=f"staff:{staff.name}")
        first = orders.place_order(session, user, {
            "service": service, "link": "https://x.test/ev1", "quantity": "1000"}).id
        second = orders.place_order(session, user, {
            "service": service, "link": "https://x.test/ev2", "quantity": "1000"}).id
    with panel.write() as session:
        orders.apply_update(session, first, orders.OrderUpdate(
            status="Partial", remains=250, start_count=50), f"staff:{staff.name}")
        user = session.get(User, customer.id)
        assert user is not None
        orders.cancel_by_customer(session, user, second)
        order = orders.lock_order(session, first)
        orders.record(session, order, "worker", E.ALERT, message=HOSTILE + "y" * 5000)
        # Rows as an older version wrote them: English text, no code, the actor as a string.
        session.add(OrderEvent(order_id=first, actor="staff:old", message="status A → B"))
        session.add(LedgerEntry(user_id=user.id, amount=Decimal(0), balance_after=user.balance,
                                kind="deposit", key=f"old:{user.id}", memo="Order 1: charge"))
    assert panel.ledger_mismatches() == []
    with panel.db.read() as session:
        assert session.get(User, customer.id).balance == Decimal("13.25")  # type: ignore[union-attr]

    visitor.login(customer)
    english = visitor.get("/funds").text
    for text in (f"Order {first}: Likes &lt;b&gt;{{0}}&lt;/b&gt;",
                 f"Order {first}: partial refund", f"Order {second}: cancel refund",
                 "Funds added (by command line)", f"Funds removed (by staff {staff.name})",
                 "&lt;script&gt;alert(1)&lt;/script&gt; {0} {memo} {__class__} %s }{ (by staff",
                 "Order 1: charge"):
        assert text in english, text
    assert "<script>alert" not in english
    arabic = _arabic(visitor, "/funds")
    for text in (f"الطلب {first}: Likes &lt;b&gt;{{0}}&lt;/b&gt;",
                 f"الطلب {first}: استرداد جزئي", f"الطلب {second}: استرداد الإلغاء",
                 "إضافة رصيد (بواسطة سطر الأوامر)", f"سحب رصيد (بواسطة الموظف {staff.name})",
                 "{__class__} %s }{ (بواسطة الموظف", "Order 1: charge"):
        assert text in arabic, text
    for english_words in ("refund", "(by ", "Funds added", "Funds removed"):
        assert english_words not in arabic, english_words

    other_visitor.login(staff)
    history = other_visitor.get(f"/admin/orders/{first}").text
    for text in ("the customer", "Placed for $1.00 (1000 units)", f"staff {staff.name}",
                 "status Pending → Partial; remains 1000 → 250; refunded $0.25; start count 50",
                 "Alert: &lt;script&gt;alert(1)&lt;/script&gt; {0} {memo}", "staff:old",
                 "status A → B"):
        assert text in history, text
    assert "y" * (MAX_PARAM - len(HOSTILE)) not in history  # clipped
    arabic_history = _arabic(other_visitor, f"/admin/orders/{first}")
    for text in (f"أُنشئ بمبلغ {AR_USD('1')} (1000 وحدة)", f"الموظف {staff.name}",
                 f"الحالة قيد الانتظار ← جزئي؛ المتبقي 1000 ← 250؛ أُعيد {AR_USD('0.25')}؛ "
                 "العدد عند البدء 50",
                 "تنبيه: &lt;script&gt;", "المعالج الآلي", "staff:old", "status A → B"):
        assert text in arabic_history, text
    canceled = _arabic(other_visitor, f"/admin/orders/{second}")
    assert f"العميل {customer.name}" in canceled
    assert f"الحالة قيد الانتظار ← ملغى؛ أُعيد {AR_USD('1')}" in canceled
    for path in ("/admin/ledger", f"/admin/users/{customer.id}"):
        staff_arabic = _arabic(other_visitor, path)
        assert f"الطلب {second}: استرداد الإلغاء" in staff_arabic, path
        assert "إضافة رصيد (بواسطة سطر الأوامر)" in staff_arabic, path


def test_the_services_store_codes_and_typed_memos_only(panel: Panel) -> None:
    customer = panel.customer(balance="3")
    with panel.write() as session:
        entries = session.scalars(
            select(LedgerEntry).where(LedgerEntry.user_id == customer.id)).all()
    assert [(e.code, e.params, e.memo) for e in entries] == [
        ("ledger.funds_memo", {"actor": {"kind": "other", "name": "test"}}, "test")]


def test_the_command_line_shows_an_orders_history(panel: Panel) -> None:
    customer = panel.customer(balance="5")
    service = panel.service(rate="1")
    order_id = panel.api(customer.key, "add", service=service, link="https://x.test/cli",
                         quantity=1000)["order"]
    panel.cli("order", "set", str(order_id), "--status", "Partial", "--remains", "400")
    lines = panel.cli("order", "history", str(order_id)).stdout.splitlines()
    assert [line.split("  ", 1)[1] for line in lines] == [
        "the customer: Placed for $1.00 (1000 units)",
        f"command line ({getpass.getuser()}): status Pending → Partial; remains 1000 → 400; "
        "refunded $0.40",
    ]
    answer = json.loads(panel.cli("order", "history", str(order_id), "--json").stdout)
    assert [(e["actor_kind"], e["code"]) for e in answer["events"]] == [
        ("customer", "order.placed"), ("cli", "order.changed")]
    assert answer["events"][1]["params"] == {
        "status": ["Pending", "Partial"], "remains": [1000, 400], "refunded": "0.40000"}
    with panel.write() as session:
        entries = session.scalars(select(LedgerEntry).where(
            LedgerEntry.order_id == order_id).order_by(LedgerEntry.id)).all()
    assert [e.description.english for e in entries] == [
        f"Order {order_id}: Followers", f"Order {order_id}: partial refund"]
