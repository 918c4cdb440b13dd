"""``opensmm provider …`` and ``service add --mode`` as a user runs them, against a fake
upstream on 127.0.0.1."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from opensmm.catalog.models import Service
from opensmm.db import Database
from opensmm.providers.pricing import price_with_markup
from tests.fakepanel import FakePanel, Text
from tests.fulfillment.conftest import KEY
from tests.support.panel import run_cli

UPSTREAM: list[dict[str, Any]] = [
    {"service": 1, "name": "IG Followers", "type": "Default", "category": "Instagram",
     "rate": "0.90", "min": "50", "max": "10000", "refill": True, "cancel": True},
    {"service": 2, "name": "IG Likes", "type": "Default", "category": "Instagram",
     "rate": "0.33333", "min": 10, "max": 5000, "refill": False, "cancel": False,
     "dripfeed": True},
    {"service": 3, "name": "TT Views", "type": "Default", "category": "TikTok",
     "rate": "0.0123456", "min": "100", "max": "1000000"},
    {"service": 4, "name": "Weird", "type": "Telepathy", "category": "Instagram",
     "rate": "1", "min": "1", "max": "10"},
]


def cli_json(url: str, *args: str) -> Any:
    return json.loads(run_cli(url, *args, "--json").stdout)


def services(db: Database) -> dict[int, Service]:
    with db.read() as session:
        from sqlalchemy import select

        return {s.provider_service_id or 0: s for s in session.scalars(select(Service))}


def test_the_markup_is_rounded_up_never_below_cost_plus_markup() -> None:
    assert price_with_markup(Decimal("0.90"), Decimal("25")) == Decimal("1.125")
    assert price_with_markup(Decimal("0.33333"), Decimal("10")) == Decimal("0.36667")  # .366663
    assert price_with_markup(Decimal("0.0123456"), Decimal("0")) == Decimal("0.01235")
    assert price_with_markup(Decimal("0.00001"), Decimal("0.5")) == Decimal("0.00002")
    for rate in ("0.1", "0.33333", "1.23457", "0.0000099"):
        for markup in ("0", "7.5", "33.33333", "100"):
            price = price_with_markup(Decimal(rate), Decimal(markup))
            assert price >= Decimal(rate) * (100 + Decimal(markup)) / 100
            assert price - Decimal("0.00001") < Decimal(rate) * (100 + Decimal(markup)) / 100


def test_add_list_balance_import_and_sync(
    database_url: str, db: Database, fake: FakePanel
) -> None:
    fake.on("balance", {"balance": "42.5", "currency": "USD"})
    fake.on("services", UPSTREAM)
    added = cli_json(database_url, "provider", "add", "up", fake.url, KEY)
    assert (added["name"], added["balance"], added["key"]) == ("up", "42.50", "upst…")
    assert added["idempotent"] is False  # no X-Opensmm-Idempotency header: never resent
    told = run_cli(database_url, "provider", "webhook", "up").stdout
    assert told.splitlines()[-1].endswith(f"/providers/webhook/{added['id']}")
    refused = run_cli(database_url, "provider", "webhook", "up", "--secret", "two words",
                      check=False)
    assert refused.returncode != 0 and "webhook secret" in refused.stderr + refused.stdout
    listed = cli_json(database_url, "provider", "list")["providers"]
    assert [(p["name"], p["url"]) for p in listed] == [("up", fake.url)]
    assert KEY not in run_cli(database_url, "provider", "list").stdout

    fake.on("balance", {"balance": "40.12345", "currency": "USD"})
    assert run_cli(database_url, "provider", "balance", "up").stdout.strip() == "up: 40.12345 USD"

    report = cli_json(
        database_url, "provider", "import", "up", "--markup", "10", "--category", "instagram"
    )
    assert sorted(c["provider_service"] for c in report["created"]) == [1, 2]
    assert [s["provider_service"] for s in report["skipped"]] == [4]  # unknown type
    assert "Telepathy" in report["skipped"][0]["reason"]
    imported = services(db)
    assert imported[1].rate == Decimal("0.99") and imported[2].rate == Decimal("0.36667")
    assert (imported[1].min_quantity, imported[1].max_quantity) == (50, 10000)
    assert imported[2].dripfeed and not imported[2].cancel
    assert all(s.fulfillment == "provider" for s in imported.values())

    again = cli_json(database_url, "provider", "import", "up", "--markup", "10")
    assert [c["provider_service"] for c in again["created"]] == [3]  # the rest: already there
    assert services(db)[3].rate == Decimal("0.01359")  # 0.01358016 rounded up

    # A fixed-price service on the same provider, added by hand.
    run_cli(database_url, "service", "add", "--name", "Hand-made", "--category", "X",
            "--rate", "1.00", "--min", "100", "--max", "500", "--mode", "provider",
            "--provider", "up", "--provider-service", "3")

    changed = [dict(item) for item in UPSTREAM[:3]]
    changed[0]["rate"] = "1.00"  # cost up: imported, so repriced
    changed[0]["max"] = "20000"
    changed[2]["rate"] = "1.50"  # cost above the hand-made service's 1.00: disabled
    del changed[1]  # removed upstream: disabled
    fake.on("services", changed)
    result = cli_json(database_url, "provider", "sync", "up")["providers"]["up"]
    assert [c["what"] for c in result["repriced"]] == ["rate 0.99 -> 1.10",
                                                       "rate 0.01359 -> 1.65"]
    disabled = {c["name"]: c["what"] for c in result["disabled"]}
    assert disabled == {
        "IG Likes": "removed by the provider",
        "Hand-made": "the provider's rate 1.50 is above ours (1.00)",
    }
    after = services(db)
    assert after[1].rate == Decimal("1.1") and after[1].max_quantity == 20000
    assert not after[2].enabled
    with db.read() as session:
        from sqlalchemy import select

        hand = session.scalar(select(Service).where(Service.name == "Hand-made"))
        assert hand is not None and not hand.enabled and hand.rate == Decimal("1")

    human = run_cli(database_url, "provider", "sync").stdout
    assert "0 disabled" in human  # already disabled: reported once


def test_provider_refusals_are_clear_and_change_nothing(
    database_url: str, db: Database, fake: FakePanel
) -> None:
    fake.on("balance", Text("<html>maintenance</html>"))
    result = run_cli(database_url, "provider", "add", "up", fake.url, KEY, check=False)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "balance could not be read" in result.stderr
    assert "--no-check" not in result.stdout
    bad_url = run_cli(database_url, "provider", "add", "up", "ftp://x", KEY, "--no-check",
                      check=False)
    assert bad_url.returncode == 1 and "Incorrect provider" in bad_url.stderr
    run_cli(database_url, "provider", "add", "up", fake.url, KEY, "--no-check")
    twice = run_cli(database_url, "provider", "add", "up", fake.url, KEY, "--no-check",
                    check=False)
    assert twice.returncode == 1 and "already exists" in twice.stderr
    assert run_cli(database_url, "provider", "balance", "nope", check=False).returncode == 1
    negative = run_cli(database_url, "provider", "import", "up", "--markup", "-5", check=False)
    assert negative.returncode == 1 and "must not be negative" in negative.stderr
    no_provider = run_cli(database_url, "service", "add", "--name", "S", "--category", "C",
                          "--rate", "1", "--min", "1", "--max", "2", "--mode", "provider",
                          check=False)
    assert no_provider.returncode == 1 and "needs a provider" in no_provider.stderr
    with db.read() as session:
        from sqlalchemy import func, select

        assert session.scalar(select(func.count()).select_from(Service)) == 0


@pytest.mark.parametrize("mode", ["simulator", "manual"])
def test_service_add_takes_a_mode(database_url: str, db: Database, mode: str) -> None:
    created = cli_json(database_url, "service", "add", "--name", "S", "--category", "C",
                       "--rate", "1", "--min", "1", "--max", "2", "--mode", mode)
    listed = cli_json(database_url, "service", "list")["services"]
    assert [(s["id"], s["fulfillment"]) for s in listed] == [(created["id"], mode)]
