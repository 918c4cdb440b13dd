"""Display currencies on SQLite and PostgreSQL, through the services: rates typed in and
validated, the customer's choice, the conversion, the audit; rates fetched from a real HTTP
server on 127.0.0.1 in both documented shapes, and bad answers that change nothing; the
``opensmm currency`` commands."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from threading import Thread

import pytest
from sqlalchemy import select

from opensmm.accounts import service as accounts
from opensmm.audit.actor import Actor
from opensmm.audit.models import AuditEntry
from opensmm.currencies import fetch
from opensmm.currencies import service as currencies
from opensmm.currencies.models import SOURCE_FETCHED, DisplayCurrency
from opensmm.db import Database, utcnow
from opensmm.errors import DomainError
from opensmm.fulfillment.config import Tally
from opensmm.fulfillment.worker import RATES_EVERY, Worker
from opensmm.panel_settings import service as panel_settings
from opensmm.panel_settings.registry import SettingRefused
from tests.api.test_cli import in_process_runner, refused

ACTOR = Actor.cli()


def table(db: Database) -> dict[str, tuple[str, str]]:
    with db.read() as session:
        return {row.code: (row.rate, row.source) for row in currencies.listing(session)}


def audited(db: Database) -> list[tuple[str, dict[str, object]]]:
    with db.read() as session:
        rows = session.scalars(select(AuditEntry).where(AuditEntry.action.startswith("currency."))
                               .order_by(AuditEntry.id))
        return [(row.action, dict(row.params or {})) for row in rows]


def test_a_currency_code_must_be_iso_4217_and_not_the_panels_own(db: Database) -> None:
    for code in ["EURO", "eu", "XYZ", "€", "", " ", "E1R", "USD", "usd", "EUR\x00"]:
        with pytest.raises(DomainError), db.write() as session:
            currencies.add(session, code, "1", ACTOR, base="USD")
    assert table(db) == {}
    assert audited(db) == []


def test_rates_are_exact_positive_bounded_and_audited(db: Database) -> None:
    with db.write() as session:
        assert currencies.add(session, " eur ", "0.92", ACTOR, base="USD") == Decimal("0.92")
        currencies.add(session, "JPY", "151.5", ACTOR, base="USD")
    for bad in ["0", "-1", "abc", "NaN", "Infinity", "1e30", "1000000000", "0.12345678901",
                "", "0x10", "1,5"]:
        with pytest.raises(DomainError), db.write() as session:
            currencies.set_rate(session, "EUR", bad, ACTOR)
    for raw in ("GBP", "gbp"):  # not offered: "not found", nothing changes
        with pytest.raises(DomainError), db.write() as session:
            currencies.set_rate(session, raw, "0.8", ACTOR)
    with pytest.raises(DomainError, match="already"), db.write() as session:
        currencies.add(session, "EUR", "0.5", ACTOR, base="USD")
    assert table(db) == {"EUR": ("0.92", "typed"), "JPY": ("151.5", "typed")}
    with db.write() as session:
        assert currencies.set_rate(session, "eur", "0.9312345678", ACTOR) == Decimal(
            "0.9312345678")
        assert currencies.remove(session, "JPY", ACTOR) == "JPY"
    assert table(db) == {"EUR": ("0.9312345678", "typed")}
    assert audited(db) == [
        ("currency.set", {"code": "EUR", "before": "—", "after": "0.92"}),
        ("currency.set", {"code": "JPY", "before": "—", "after": "151.5"}),
        ("currency.set", {"code": "EUR", "before": "0.92", "after": "0.9312345678"}),
        ("currency.remove", {"code": "JPY"}),
    ]


def test_the_conversion_and_the_customers_choice(db: Database) -> None:
    assert currencies.convert(Decimal("10"), Decimal("0.92"), "EUR") == Decimal("9.20")
    assert currencies.convert(Decimal("0.00125"), Decimal("0.92"), "EUR") == Decimal("0.00")
    assert currencies.convert(Decimal("1.99"), Decimal("151.5"), "JPY") == Decimal("301")
    with db.write() as session:
        currencies.add(session, "EUR", "0.92", ACTOR, base="USD")
        user = accounts.create_user(session, "chooser")
        assert currencies.choose(session, user, "eur", base="USD") == "EUR"
        user_id = user.id
    for bad in ("GBP", "<b>", "E" * 500):
        with pytest.raises(DomainError), db.write() as session:
            currencies.choose(session, session.get(accounts.User, user_id), bad, base="USD")
    with db.write() as session:
        user = session.get(accounts.User, user_id)
        assert user.display_currency == "EUR"
        assert currencies.choose(session, user, "USD", base="USD") == ""  # the panel's own
        assert user.display_currency == ""


# --- fetched rates ------------------------------------------------------------------------
class RatesServer:
    """A real HTTP server on 127.0.0.1 answering whatever the test sets."""

    def __init__(self) -> None:
        self.status = 200
        self.body = b""
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(owner.status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(owner.body)))
                self.end_headers()
                self.wfile.write(owner.body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/latest?base=USD"
        Thread(target=self.server.serve_forever, daemon=True).start()

    def answer(self, data: object, status: int = 200) -> None:
        self.body = data if isinstance(data, bytes) else json.dumps(data).encode()
        self.status = status


@pytest.fixture(scope="module")
def rates_server() -> Iterator[RatesServer]:
    server = RatesServer()
    yield server
    server.server.shutdown()
    server.server.server_close()


def test_rates_fetched_in_both_shapes_and_bad_answers_change_nothing(
    db: Database, rates_server: RatesServer
) -> None:
    with db.write() as session:
        currencies.add(session, "EUR", "0.90", ACTOR, base="USD")
        currencies.add(session, "GBP", "0.80", ACTOR, base="USD")
    assert fetch.refresh(db, "USD") == {}  # no URL yet: nothing is fetched
    with db.write() as session:
        for bad_url in ("ftp://x.example/", "not a url", "http://", "http://a:99999/"):
            with pytest.raises(SettingRefused):
                panel_settings.set_value(session, "currency_rates_url", bad_url, ACTOR)
        panel_settings.set_value(session, "currency_rates_url", rates_server.url, ACTOR)

    # The documented shape; CHF (not offered) is not added, GBP (not answered) is kept.
    rates_server.answer(b'{"base": "USD", "rates": {"EUR": 0.9213, "CHF": 0.88, "USD": 1}}')
    assert fetch.refresh(db, "USD") == {"EUR": ("0.9", "0.9213")}
    assert table(db) == {"EUR": ("0.9213", SOURCE_FETCHED), "GBP": ("0.8", "typed")}
    # The open exchange-rate APIs' shape; a float's long tail rounded to ten places.
    rates_server.answer({"result": "success", "base_code": "USD",
                         "conversion_rates": {"EUR": 0.93, "GBP": 0.791234567891234}})
    assert fetch.refresh(db, "USD") == {"EUR": ("0.9213", "0.93"),
                                        "GBP": ("0.8", "0.7912345679")}
    good = table(db)
    entries = audited(db)

    bad_answers: list[tuple[object, int]] = [
        (b"<html>rate limited</html>", 200),
        (b"", 200),
        (b"[1, 2]", 200),
        ({"base": "USD", "rates": {"EUR": 0.5}}, 500),
        ({"result": "error", "error-type": "invalid-key"}, 200),
        ({"base": "EUR", "rates": {"GBP": 0.5}}, 200),
        ({"rates": {"EUR": 0.5}}, 200),
        ({"base": "USD", "rates": [0.5]}, 200),
        ({"base": "USD", "rates": {"EUR": 0.5, "GBP": -1}}, 200),
        ({"base": "USD", "rates": {"EUR": 0.5, "GBP": "NaN"}}, 200),
        ({"base": "USD", "rates": {"EUR": 0.5, "GBP": 0}}, 200),
        ({"base": "USD", "rates": {"EUR": 0.5, "GBP": 1e300}}, 200),
        ({"base": "USD", "rates": {"EUR": 0.5, "GBP": None}}, 200),
        (b'{"base": "USD", "rates": {"EUR": 0.5}, "pad": "' + b"x" * fetch.MAX_BYTES + b'"}',
         200),
        (b"[" * 100_000, 200),
    ]
    for body, status in bad_answers:
        rates_server.answer(body, status)
        with pytest.raises(fetch.RatesRefused):
            fetch.refresh(db, "USD")
        assert fetch.refresh_logged(db, "USD") == 0
    assert table(db) == good
    assert audited(db) == entries
    assert entries[-1][0] == "currency.fetch" and "GBP 0.8 → 0.7912345679" in str(entries[-1][1])

    # A server that is not there: refused, nothing changes.
    with db.write() as session:
        panel_settings.set_value(session, "currency_rates_url", "http://127.0.0.1:9/", ACTOR)
    with pytest.raises(fetch.RatesRefused):
        fetch.refresh(db, "USD")
    assert table(db) == good


def test_the_currency_commands(
    database_url: str, monkeypatch: pytest.MonkeyPatch, rates_server: RatesServer
) -> None:
    with in_process_runner(database_url, monkeypatch) as run:
        added = run("currency", "add", "eur", "0.92")
        assert added.exit_code == 0, added.output
        assert added.stdout.strip() == "EUR = 0.92"
        refused(run("currency", "add", "EURO", "1"), "ISO 4217")
        refused(run("currency", "add", "GBP", "0"), "positive number")
        refused(run("currency", "set", "GBP", "1"), "GBP is not a display currency")
        refused(run("currency", "remove", "GBP"), "GBP is not a display currency")
        assert run("currency", "set", "EUR", "0.95").stdout.strip() == "EUR = 0.95"
        listed = json.loads(run("currency", "list", "--json").stdout)
        assert [(row["code"], row["rate"], row["source"]) for row in listed] == [
            ("EUR", "0.95", "typed")]
        assert run("settings", "set", "currency_rates_url", rates_server.url).exit_code == 0
        rates_server.answer({"base": "USD", "rates": {"EUR": "x"}})
        refused(run("currency", "fetch"), "rates not updated: the rate of EUR is not valid")
        rates_server.answer({"base": "USD", "rates": {"EUR": 0.91}})
        fetched = run("currency", "fetch")
        assert fetched.exit_code == 0, fetched.output
        assert fetched.stdout.splitlines() == ["EUR 0.95 -> 0.91", "1 changed"]
        assert run("currency", "remove", "EUR").stdout.strip() == "EUR removed"
        assert run("currency", "list").stdout == ""
    with Database(database_url).read() as session:
        assert session.scalars(select(DisplayCurrency)).all() == []


def test_the_worker_fetches_once_an_hour(db: Database, rates_server: RatesServer) -> None:
    with db.write() as session:
        currencies.add(session, "EUR", "0.9", ACTOR, base="USD")
        panel_settings.set_value(session, "currency_rates_url", rates_server.url, ACTOR)
    worker = Worker(db)
    try:
        rates_server.answer({"base": "USD", "rates": {"EUR": 0.95}})
        now = utcnow()
        worker._rates(now, Tally())
        assert table(db) == {"EUR": ("0.95", SOURCE_FETCHED)}
        rates_server.answer({"base": "USD", "rates": {"EUR": 0.97}})
        worker._rates(now + RATES_EVERY / 2, Tally())  # not yet due
        assert table(db) == {"EUR": ("0.95", SOURCE_FETCHED)}
        rates_server.answer(b"oops", 502)
        worker._rates(now + RATES_EVERY, Tally())  # due, a bad answer: logged, unchanged
        assert table(db) == {"EUR": ("0.95", SOURCE_FETCHED)}
        rates_server.answer({"base": "USD", "rates": {"EUR": 0.97}})
        worker._rates(now + RATES_EVERY * 2, Tally())
        assert table(db) == {"EUR": ("0.97", SOURCE_FETCHED)}
    finally:
        worker.close()
