"""Affiliates on SQLite and PostgreSQL: referrals, commissions credited once with the
deposit (replays, reordered and partial callbacks), taken back on refund or dispute never
below zero, and transfers to the panel balance that move money once."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from sqlalchemy import select, update

from opensmm.accounts import service as accounts
from opensmm.affiliates import service as affiliates
from opensmm.affiliates.models import AffiliateCommission, AffiliateEntry
from opensmm.audit.models import AuditEntry
from opensmm.db import Database
from opensmm.errors import DomainError
from opensmm.panel_settings import service as panel_settings
from opensmm.payments import methods
from opensmm.payments import service as payments
from opensmm.payments.gateways.base import PaymentState as S
from opensmm.payments.models import PaymentMethod
from tests.growth.helpers import (
    ACTOR,
    SECRET,
    approve,
    balance,
    consistent,
    customer,
    manual_method,
    payment,
    report,
    start,
)


def set_panel_percent(db: Database, value: str) -> None:
    with db.write() as session:
        panel_settings.set_value(session, "affiliate_percent", value, ACTOR)


def referred_pair(db: Database) -> tuple[int, int]:
    """A referrer and a customer who signed up through their link."""
    referrer = customer(db)
    with db.write() as session:
        code = affiliates.ensure(session, referrer).code
        assert affiliates.count_visit(session, code)
    referred = customer(db)
    with db.write() as session:
        assert affiliates.record_referral(session, referred, code) == referrer
    return referrer, referred


def aff_balance(db: Database, user_id: int) -> Decimal:
    with db.read() as session:
        return affiliates.stats(session, user_id).balance


def commission(db: Database, payment_id: int) -> AffiliateCommission:
    with db.read() as session:
        row = session.get(AffiliateCommission, payment_id)
        assert row is not None
        session.expunge(row)
        return row


def entry_keys(db: Database, user_id: int) -> list[str]:
    with db.read() as session:
        return list(session.scalars(select(AffiliateEntry.key).where(
            AffiliateEntry.user_id == user_id).order_by(AffiliateEntry.id)))


def test_a_paid_deposit_earns_the_referrer_once(db: Database) -> None:
    set_panel_percent(db, "10")
    referrer, referred = referred_pair(db)
    method = manual_method(db, fee="3")
    started = start(db, referred, method, "33.33")
    assert aff_balance(db, referrer) == 0  # nothing before it is paid
    approve(db, started.payment_id)
    for n in range(3):
        report(db, started.payment_id, S.PAID, "33.33", f"replay-{n}")
    # 10% of the deposit's credit: 33.33 - fee 0.9999 = 32.3301 -> 3.23301
    assert aff_balance(db, referrer) == Decimal("3.23301")
    assert entry_keys(db, referrer) == [f"affiliate:payment:{started.payment_id}"]
    with db.read() as session:
        stats = affiliates.stats(session, referrer)
        assert (stats.visits, stats.signups, stats.paid_deposits, stats.earned,
                stats.deposits_total) == (1, 1, 1, Decimal("3.23301"), Decimal("32.3301"))
        [row] = affiliates.referrals(session, referrer)
        assert (row.deposits, row.earned) == (1, Decimal("3.23301"))
    assert balance(db, referrer) == 0  # the panel balance is another thing
    consistent(db)


def test_staff_percent_overrides_the_panel_and_is_audited(db: Database) -> None:
    set_panel_percent(db, "5")
    referrer, referred = referred_pair(db)
    with db.write() as session:
        user = accounts.get_user_by_id(session, referrer)
        affiliates.set_percent(session, ACTOR, user, "12.5")
    method = manual_method(db)
    first = start(db, referred, method, "80")
    approve(db, first.payment_id)
    assert aff_balance(db, referrer) == Decimal(10)
    with db.write() as session:
        user = accounts.get_user_by_id(session, referrer)
        affiliates.set_percent(session, ACTOR, user, "0")
        for bad in ("-1", "51", "abc", "1e9", "NaN"):
            with pytest.raises(DomainError):
                affiliates.set_percent(session, ACTOR, user, bad)
    second = start(db, referred, method, "80")
    approve(db, second.payment_id)
    assert aff_balance(db, referrer) == Decimal(10)  # 0% for this one
    with db.read() as session:
        params = session.scalars(select(AuditEntry.params).where(
            AuditEntry.action == "affiliate.percent").order_by(AuditEntry.id)).all()
    assert [(p["before"], p["after"]) for p in params] == [("-", "12.5%"), ("12.5%", "0%")]
    consistent(db)


def test_off_by_default_and_no_referrer(db: Database) -> None:
    referrer, referred = referred_pair(db)
    method = manual_method(db)
    started = start(db, referred, method, "50")
    approve(db, started.payment_id)
    assert aff_balance(db, referrer) == 0
    set_panel_percent(db, "10")
    alone = customer(db)
    own = start(db, alone, method, "50")
    approve(db, own.payment_id)
    with db.read() as session:
        assert session.scalar(select(AffiliateCommission.payment_id)) is None
    consistent(db)


def test_refund_and_dispute_take_the_commission_back(db: Database) -> None:
    set_panel_percent(db, "10")
    referrer, referred = referred_pair(db)
    method = manual_method(db)
    first = start(db, referred, method, "100")
    approve(db, first.payment_id)
    report(db, first.payment_id, S.REFUNDED, "40")
    assert aff_balance(db, referrer) == Decimal(6)
    report(db, first.payment_id, S.DISPUTED)
    assert aff_balance(db, referrer) == 0
    second = start(db, referred, method, "100")
    approve(db, second.payment_id)
    with db.write() as session:  # the referrer moves 7 of 10 to their panel balance
        affiliates.transfer(session, referrer, "7", affiliates.new_key())
    report(db, second.payment_id, S.DISPUTED)
    row = commission(db, second.payment_id)
    assert (row.amount, row.reversed, row.shortfall) == (Decimal(10), Decimal(3), Decimal(7))
    assert aff_balance(db, referrer) == 0 and balance(db, referrer) == Decimal(7)
    with db.read() as session:
        assert affiliates.stats(session, referrer).shortfall == Decimal(7)
    report(db, second.payment_id, S.DISPUTED, None, "dispute-again")
    assert commission(db, second.payment_id).reversed == Decimal(3)
    consistent(db)


def test_reordered_and_partial_callbacks(db: Database) -> None:
    set_panel_percent(db, "10")
    referrer, referred = referred_pair(db)
    manual = manual_method(db)
    early = start(db, referred, manual, "30")
    report(db, early.payment_id, S.REFUNDED, "30")  # the refund before the payment
    report(db, early.payment_id, S.PAID, "30")
    assert commission(db, early.payment_id).reversed == Decimal(3)
    assert aff_balance(db, referrer) == 0
    with db.write() as session:  # a gateway that reports partial payments
        methods.add_method(session, ACTOR, name="card", gateway="stripe", panel_secret=SECRET,
                           settings={"secret_key": "sk_test_x", "webhook_secret": "whsec_x"})
    with db.write() as session:
        method = session.scalar(select(PaymentMethod).where(PaymentMethod.name == "card"))
        assert method is not None
        row = payments._create_row(session, user_id=referred, method=method,
                                   amount=Decimal(100), currency="USD", reference=None,
                                   proof=None)
        pid = row.id
    report(db, pid, S.PARTIALLY_PAID, "40")
    assert aff_balance(db, referrer) == Decimal(4)
    report(db, pid, S.PAID, "100")
    report(db, pid, S.PARTIALLY_PAID, "40")  # late and stale: nothing
    assert aff_balance(db, referrer) == Decimal(10)
    assert entry_keys(db, referrer)[-2:] == [f"affiliate:payment:{pid}",
                                             f"affiliate:payment:{pid}:10.00000"]
    assert payment(db, pid).state == "paid"
    consistent(db)


def test_transfer_moves_money_once(db: Database) -> None:
    set_panel_percent(db, "50")
    referrer, referred = referred_pair(db)
    started = start(db, referred, manual_method(db), "20")
    approve(db, started.payment_id)
    key = affiliates.new_key()
    for _ in range(2):  # the form submitted twice
        with db.write() as session:
            affiliates.transfer(session, referrer, "4", key)
    assert (aff_balance(db, referrer), balance(db, referrer)) == (Decimal(6), Decimal(4))
    with db.write() as session:
        panel_settings.set_value(session, "affiliate_min_transfer", "5", ACTOR)
    for amount, pattern in (("4.99", "smallest"), ("6.01", "Not enough"), ("abc", "amount"),
                            ("-1", "amount"), ("0", "amount"), ("1e99", "amount")):
        with db.write() as session, pytest.raises(DomainError, match=pattern):
            affiliates.transfer(session, referrer, amount, affiliates.new_key())
    for key in ("", "short", "x" * 65, "bad key!", "\x00" * 10):
        with db.write() as session, pytest.raises(DomainError):
            affiliates.transfer(session, referrer, "5", key)
    with db.write() as session:
        affiliates.transfer(session, referrer, "6", affiliates.new_key())
    assert (aff_balance(db, referrer), balance(db, referrer)) == (Decimal(0), Decimal(10))
    consistent(db)


def test_parallel_transfers_never_overdraw(db: Database) -> None:
    set_panel_percent(db, "50")
    referrer, referred = referred_pair(db)
    started = start(db, referred, manual_method(db), "20")
    approve(db, started.payment_id)
    barrier = threading.Barrier(4)
    outcomes: list[bool] = []

    def attempt() -> None:
        barrier.wait(timeout=60)
        try:
            with db.write() as session:
                affiliates.transfer(session, referrer, "7", affiliates.new_key())
            outcomes.append(True)
        except DomainError:
            outcomes.append(False)

    threads = [threading.Thread(target=attempt) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert sorted(outcomes) == [False, False, False, True]
    assert (aff_balance(db, referrer), balance(db, referrer)) == (Decimal(3), Decimal(7))
    consistent(db)


def test_parallel_callbacks_pay_the_commission_once(db: Database) -> None:
    set_panel_percent(db, "10")
    referrer, referred = referred_pair(db)
    started = start(db, referred, manual_method(db), "60")
    barrier = threading.Barrier(5)
    errors: list[BaseException] = []

    def deliver() -> None:
        barrier.wait(timeout=60)
        try:
            report(db, started.payment_id, S.PAID, "60", "the-same-event")
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=deliver) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    assert aff_balance(db, referrer) == Decimal(6) and balance(db, referred) == Decimal(60)
    consistent(db)


def test_referrals_are_recorded_once_and_never_to_oneself(db: Database) -> None:
    referrer, referred = referred_pair(db)
    other, newcomer, lonely = customer(db), customer(db), customer(db)
    with db.write() as session:
        other_code = affiliates.ensure(session, other).code
        assert affiliates.record_referral(session, referred, other_code) == other
        assert affiliates.referrer_of(session, referred) == referrer  # the first one stays
        assert affiliates.record_referral(session, newcomer, "") is None
        for hostile in (None, "x", "nope-nope-nope", "' OR 1=1 --", "\x00abcdefg", "a" * 999):
            assert affiliates.record_referral(session, newcomer, hostile) is None
            assert not affiliates.count_visit(session, hostile or "")
        code = affiliates.ensure(session, lonely).code
        assert affiliates.record_referral(session, lonely, code) is None
        assert affiliates.ensure(session, lonely).code == code
    with db.read() as session:
        assert affiliates.referrer_of(session, newcomer) is None
        assert affiliates.referrer_of(session, lonely) is None


def test_affiliate_entries_are_append_only(db: Database) -> None:
    set_panel_percent(db, "10")
    _, referred = referred_pair(db)
    started = start(db, referred, manual_method(db), "10")
    approve(db, started.payment_id)
    with pytest.raises(Exception, match="append-only"), db.write() as session:
        session.execute(update(AffiliateEntry).values(amount=Decimal(1000)))
    consistent(db)


def test_ledger_check_covers_affiliate_balances(db: Database, database_url: str) -> None:
    from opensmm.affiliates.models import Affiliate
    from tests.support.panel import run_cli

    set_panel_percent(db, "10")
    referrer, referred = referred_pair(db)
    started = start(db, referred, manual_method(db), "30")
    approve(db, started.payment_id)
    assert "Ledger OK" in run_cli(database_url, "ledger", "check").stdout
    with db.write() as session:
        session.execute(update(Affiliate).where(Affiliate.user_id == referrer)
                        .values(balance=Decimal(100)))
    broken = run_cli(database_url, "ledger", "check", check=False)
    assert broken.returncode == 1
    assert f"MISMATCH affiliate balance of user id {referrer}" in broken.stdout
