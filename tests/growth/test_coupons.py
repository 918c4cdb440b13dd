"""Coupons on deposits, on SQLite and PostgreSQL: exact values, limits (also under
concurrency), reservations released, replays and reordered callbacks that credit once, and
refunds or disputes that take the coupon back with the deposit."""

from __future__ import annotations

import json
import threading
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select, update

from opensmm.audit.models import AuditEntry
from opensmm.coupons import service as coupons
from opensmm.coupons.models import Coupon, CouponUse
from opensmm.db import Database, utcnow
from opensmm.errors import DomainError
from opensmm.payments.gateways.base import PaymentState as S
from tests.growth.helpers import (
    ACTOR,
    approve,
    balance,
    consistent,
    customer,
    keys,
    manual_method,
    payment,
    report,
    start,
)
from tests.support.panel import run_cli


def make(db: Database, code: str, **terms: object) -> None:
    with db.write() as session:
        coupons.create(session, ACTOR, code, **terms)  # type: ignore[arg-type]


def use_state(db: Database, payment_id: int) -> str:
    with db.read() as session:
        return str(session.scalar(select(CouponUse.state).where(
            CouponUse.payment_id == payment_id)))


def test_a_fixed_coupon_is_its_own_entry_once_paid(db: Database) -> None:
    method, user = manual_method(db), customer(db)
    make(db, "welcome5", amount=Decimal("5"))
    started = start(db, user, method, "100", coupon="  Welcome5 ")
    assert started.coupon == Decimal("5")
    assert balance(db, user) == 0 and use_state(db, started.payment_id) == "reserved"
    approve(db, started.payment_id)
    assert balance(db, user) == Decimal("105")
    pid = started.payment_id
    assert keys(db, user) == [f"payment:{pid}:credit", f"payment:{pid}:coupon"]
    assert use_state(db, pid) == "used"
    paid = payment(db, pid)
    assert (paid.coupon, paid.credited, paid.state) == (Decimal(5), Decimal(105), "paid")
    # The same "paid" reported again, under other event ids: nothing more.
    for n in range(3):
        report(db, pid, S.PAID, "100", f"again-{n}")
    assert balance(db, user) == Decimal("105")
    consistent(db)


def test_a_percent_coupon_is_exact_with_fee_and_bonus(db: Database) -> None:
    method, user = manual_method(db, fee="2.5", bonus="1"), customer(db)
    make(db, "SEVEN", percent=Decimal("7.5"))
    with db.read() as session:
        quote = coupons.check(session, user, "seven", "33.33")
    assert quote.value == Decimal("2.49975") and quote.percent == Decimal("7.5")
    started = start(db, user, method, "33.33", coupon="SEVEN")
    approve(db, started.payment_id)
    # 33.33 - fee 0.83325 (half-up) + bonus 0.3333 (down) + coupon 2.49975 (down)
    assert balance(db, user) == Decimal("33.33") - Decimal("0.83325") + Decimal(
        "0.33330") + Decimal("2.49975")
    consistent(db)


def test_refund_and_dispute_take_the_coupon_back(db: Database) -> None:
    method, user = manual_method(db), customer(db)
    make(db, "TEN", amount=Decimal("10"), max_uses=5)
    first = start(db, user, method, "50", coupon="TEN")
    approve(db, first.payment_id)
    report(db, first.payment_id, S.REFUNDED, "25")  # half: half of 60 back
    assert balance(db, user) == Decimal("30")
    report(db, first.payment_id, S.REFUNDED, "50", "refund-all")
    assert balance(db, user) == 0
    second = start(db, user, method, "50", coupon="TEN")
    approve(db, second.payment_id)
    with db.write() as session:  # the customer spends 40 of 60
        from opensmm.ledger.service import add_funds
        add_funds(session, user, Decimal("-40"), memo="spent", actor="test")
    report(db, second.payment_id, S.DISPUTED)
    disputed = payment(db, second.payment_id)
    assert balance(db, user) == 0
    assert (disputed.reversed, disputed.shortfall, disputed.needs_review) == (
        Decimal(20), Decimal(40), True)
    assert use_state(db, second.payment_id) == "used"
    consistent(db)


def test_callbacks_out_of_order_credit_the_coupon_once(db: Database) -> None:
    method, user = manual_method(db), customer(db)
    make(db, "ORDER", amount=Decimal("3"))
    started = start(db, user, method, "20", coupon="ORDER")
    pid = started.payment_id
    report(db, pid, S.REFUNDED, "20")  # the refund arrives before the payment
    assert balance(db, user) == 0 and payment(db, pid).state == "refunded"
    report(db, pid, S.PAID, "20")
    report(db, pid, S.PAID, "20")  # a duplicate of the same event
    settled = payment(db, pid)
    assert (settled.state, settled.paid, settled.coupon, settled.reversed) == (
        "refunded", Decimal(20), Decimal(3), Decimal(23))
    assert balance(db, user) == 0
    assert keys(db, user) == [f"payment:{pid}:credit", f"payment:{pid}:coupon",
                              f"payment:{pid}:reversal"]
    consistent(db)


def test_an_ended_payment_releases_its_coupon(db: Database) -> None:
    method, user, other = manual_method(db), customer(db), customer(db)
    make(db, "ONCE", amount=Decimal("5"), max_uses=1)
    first = start(db, user, method, "10", coupon="ONCE")
    with pytest.raises(DomainError, match="used up"):
        start(db, other, method, "10", coupon="ONCE")
    with db.write() as session:
        from opensmm.payments import service as payments
        payments.reject(session, ACTOR, first.payment_id, "no such transfer")
    assert use_state(db, first.payment_id) == "released"
    assert payment(db, first.payment_id).coupon_value == 0
    second = start(db, other, method, "10", coupon="ONCE")
    report(db, second.payment_id, S.EXPIRED)
    assert use_state(db, second.payment_id) == "released"
    # Money that arrives after the expiry is credited, without the released coupon.
    report(db, second.payment_id, S.PAID, "10")
    assert balance(db, other) == Decimal(10)
    assert payment(db, second.payment_id).coupon == 0
    consistent(db)


def test_manual_payment_approved_for_less_gets_no_coupon(db: Database) -> None:
    method, user = manual_method(db), customer(db)
    make(db, "FULL", amount=Decimal("5"))
    started = start(db, user, method, "100", coupon="FULL")
    approve(db, started.payment_id, "60")
    assert balance(db, user) == Decimal(60)
    assert use_state(db, started.payment_id) == "released"
    consistent(db)


def test_limits(db: Database) -> None:
    method, alice, bob = manual_method(db), customer(db), customer(db)
    make(db, "PERONE", amount=Decimal("1"), per_customer=1, max_uses=3, min_deposit=Decimal(20))
    with db.read() as session:
        with pytest.raises(DomainError, match=r"at least 20\.00"):
            coupons.check(session, alice, "PERONE", "19.99")
        assert coupons.check(session, alice, "perone", "20").value == Decimal(1)
    start(db, alice, method, "20", coupon="PERONE")
    with pytest.raises(DomainError, match="as often as it allows"):
        start(db, alice, method, "20", coupon="PERONE")
    start(db, bob, method, "25", coupon="PERONE")
    make(db, "OLD", percent=Decimal(5), expires=date.today() + timedelta(days=1))
    with db.write() as session:
        session.execute(update(Coupon).where(Coupon.code == "OLD")
                        .values(expires_at=utcnow() - timedelta(seconds=1)))
    with pytest.raises(DomainError, match="expired"):
        start(db, alice, method, "20", coupon="OLD")
    make(db, "GONE", amount=Decimal(2))
    with db.write() as session:
        coupons.disable(session, ACTOR, "gone")
    with pytest.raises(DomainError, match="no longer valid"):
        start(db, alice, method, "20", coupon="GONE")
    with pytest.raises(DomainError, match="does not exist"):
        start(db, alice, method, "20", coupon="NOPE")
    # A refused coupon writes nothing: not even the payment.
    with db.read() as session:
        assert [r.reserved for r in coupons.list_coupons(session)
                if r.coupon.code == "PERONE"] == [2]
    consistent(db)


@pytest.mark.parametrize("code", ["", "a", "ab", "x" * 33, "bad code!", "'; drop table--",
                                  "\x00abc", "كوبون", "<script>"])
def test_hostile_codes_are_refused(db: Database, code: str) -> None:
    user = customer(db)
    with db.read() as session, pytest.raises(DomainError):
        coupons.check(session, user, code, "10")


@pytest.mark.parametrize("amount", ["", "abc", "-5", "0", "1e30", "NaN", "1.000001"])
def test_hostile_amounts_in_check(db: Database, amount: str) -> None:
    user = customer(db)
    make(db, "AMT", amount=Decimal(1))
    with db.read() as session, pytest.raises(DomainError):
        coupons.check(session, user, "AMT", amount)


@pytest.mark.parametrize("terms", [
    {},
    {"amount": Decimal(1), "percent": Decimal(1)},
    {"amount": Decimal(0)},
    {"amount": Decimal(-1)},
    {"percent": Decimal(101)},
    {"percent": Decimal("0.000001")},
    {"amount": Decimal(1), "max_uses": 0},
    {"amount": Decimal(1), "per_customer": -1},
    {"amount": Decimal(1), "expires": date(2020, 1, 1)},
    {"amount": Decimal(1), "min_deposit": Decimal(-1)},
])
def test_bad_coupons_are_refused(db: Database, terms: dict[str, object]) -> None:
    with pytest.raises(DomainError):
        make(db, "BADTERMS", **terms)
    with db.read() as session:
        assert coupons.list_coupons(session) == []


def test_two_parallel_payments_for_the_last_use(db: Database) -> None:
    method = manual_method(db)
    people = [customer(db) for _ in range(4)]
    make(db, "LAST", amount=Decimal("7"), max_uses=1)
    barrier = threading.Barrier(len(people))
    outcomes: list[str] = []

    def attempt(user_id: int) -> None:
        barrier.wait(timeout=60)
        try:
            start(db, user_id, method, "10", coupon="LAST")
            outcomes.append("ok")
        except DomainError as exc:
            outcomes.append(exc.message)

    threads = [threading.Thread(target=attempt, args=(p,)) for p in people]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert sorted(outcomes) == ["The coupon LAST has been used up"] * 3 + ["ok"]
    with db.read() as session:
        assert session.scalar(select(CouponUse.id).where(CouponUse.state == "reserved")) \
            is not None
        assert [r.reserved for r in coupons.list_coupons(session)] == [1]


def test_same_customer_in_parallel_respects_per_customer(db: Database) -> None:
    method, user = manual_method(db), customer(db)
    make(db, "MINE", amount=Decimal("1"), per_customer=1)
    barrier = threading.Barrier(3)
    outcomes: list[bool] = []

    def attempt() -> None:
        barrier.wait(timeout=60)
        try:
            start(db, user, method, "10", coupon="MINE")
            outcomes.append(True)
        except DomainError:
            outcomes.append(False)

    threads = [threading.Thread(target=attempt) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert sorted(outcomes) == [False, False, True]


def test_cli(database_url: str) -> None:
    run_cli(database_url, "coupon", "add", "spring", "--percent", "10", "--max-uses", "50",
            "--per-customer", "1", "--expires", (date.today() + timedelta(days=30)).isoformat(),
            "--min-deposit", "20")
    run_cli(database_url, "coupon", "add", "FLAT", "--amount", "2.50")
    listed = json.loads(run_cli(database_url, "coupon", "list", "--json").stdout)
    assert [c["code"] for c in listed["coupons"]] == ["FLAT", "SPRING"]
    spring = listed["coupons"][1]
    assert (spring["percent"], spring["max_uses"], spring["per_customer"], spring["enabled"],
            spring["min_deposit"]) == ("10", 50, 1, True, "20")
    run_cli(database_url, "coupon", "disable", "spring")
    listed = json.loads(run_cli(database_url, "coupon", "list", "--json").stdout)
    assert listed["coupons"][1]["enabled"] is False
    text = run_cli(database_url, "coupon", "list").stdout
    assert "SPRING" in text and "FLAT" in text
    for bad in (["add", "X"], ["add", "BOTH", "--amount", "1", "--percent", "1"],
                ["add", "ZERO", "--amount", "0"], ["add", "DATE", "--amount", "1",
                                                   "--expires", "31/12/2030"],
                ["add", "FLAT", "--amount", "1"], ["disable", "NOPE"],
                ["add", "MONEY", "--amount", "abc"]):
        failed = run_cli(database_url, "coupon", *bad, check=False)
        assert failed.returncode != 0, bad
        assert "Traceback" not in failed.stderr, failed.stderr
        assert failed.stderr.startswith("error:") or "Usage" in failed.stderr, failed.stderr
    db = Database(database_url)
    try:
        with db.read() as session:
            actions = session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
    finally:
        db.dispose()
    assert actions == ["coupon.create", "coupon.create", "coupon.disable"]


def test_a_payment_the_gateway_never_answered_releases_its_coupon(db: Database) -> None:
    from opensmm.payments import methods, polling
    from opensmm.payments import service as payments
    from opensmm.payments.models import Payment, PaymentMethod
    from tests.growth.helpers import SECRET

    user = customer(db)
    make(db, "LOST", amount=Decimal("2"), max_uses=1)
    with db.write() as session:
        methods.add_method(session, ACTOR, name="card", gateway="stripe", panel_secret=SECRET,
                           settings={"secret_key": "sk_test_x", "webhook_secret": "whsec_x"})
    with db.write() as session:
        method = session.scalar(select(PaymentMethod).where(PaymentMethod.name == "card"))
        assert method is not None
        row = payments._create_row(session, user_id=user, method=method, amount=Decimal(10),
                                   currency="USD", reference=None, proof=None)
        coupons.reserve(session, row, "LOST")
        row.created_at = utcnow() - timedelta(days=2)
        row.next_poll_at = utcnow() - timedelta(minutes=1)
        pid = row.id
    assert polling.claim_due(db, utcnow()) == []
    with db.read() as session:
        found = session.get(Payment, pid)
        assert found is not None and found.state == "expired" and found.coupon_value == 0
    assert use_state(db, pid) == "released"
    with db.read() as session:  # the use is free again
        assert coupons.check(session, customer(db), "LOST", "10").value == Decimal(2)


def test_a_payment_the_gateway_refuses_to_start_releases_its_coupon(db: Database) -> None:
    from opensmm.payments import methods
    from tests.growth.helpers import SECRET
    from tests.support.panel import free_port

    user = customer(db)
    make(db, "DOWN", amount=Decimal("2"), max_uses=1)
    with db.write() as session:  # a gateway that cannot be reached: nothing listens there
        methods.add_method(session, ACTOR, name="card", gateway="stripe", panel_secret=SECRET,
                           settings={"secret_key": "sk_test_x", "webhook_secret": "whsec_x",
                                     "api_base": f"http://127.0.0.1:{free_port()}"})
    with pytest.raises(DomainError, match="could not be started"):
        start(db, user, "card", "10", coupon="DOWN")
    with db.read() as session:
        [use] = session.scalars(select(CouponUse)).all()
        assert use.state == "released"
        assert coupons.check(session, user, "DOWN", "10").value == Decimal(2)


def test_a_gateway_that_closes_an_underpaid_payment_releases_its_coupon(db: Database) -> None:
    from opensmm.payments import methods
    from opensmm.payments import service as payments
    from opensmm.payments.models import PaymentMethod
    from tests.growth.helpers import SECRET

    user = customer(db)
    make(db, "UNDER", amount=Decimal("2"))
    with db.write() as session:
        methods.add_method(session, ACTOR, name="coins", gateway="stripe", panel_secret=SECRET,
                           settings={"secret_key": "sk_test_x", "webhook_secret": "whsec_x"})
    with db.write() as session:
        method = session.scalar(select(PaymentMethod).where(PaymentMethod.name == "coins"))
        assert method is not None
        row = payments._create_row(session, user_id=user, method=method, amount=Decimal(10),
                                   currency="USD", reference=None, proof=None)
        coupons.reserve(session, row, "UNDER")
        pid = row.id
    report(db, pid, S.PARTIALLY_PAID, "6")
    assert use_state(db, pid) == "reserved"
    report(db, pid, S.EXPIRED)
    assert payment(db, pid).state == "partially_paid"
    assert use_state(db, pid) == "released" and payment(db, pid).coupon_value == 0
    assert balance(db, user) == Decimal(6)
    consistent(db)
