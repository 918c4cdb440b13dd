"""Manual payments: validation only, no gateway calls."""

from __future__ import annotations

from decimal import Decimal

import pytest

from opensmm.payments.gateways import Gateway, GatewayError, VerificationError, gateway_for
from opensmm.payments.gateways.manual import Manual
from tests.payments.helpers import new_request


def test_created_with_the_customers_amount_and_reference() -> None:
    gw = gateway_for("manual", {"instructions": "IBAN DE89 3704 0044 0532 0130 00"})
    created = gw.create_payment(new_request("50.00", customer_reference="  TRX  12345\t"))
    assert created.reference == "TRX 12345"
    assert created.redirect_url is None
    assert created.instructions == "IBAN DE89 3704 0044 0532 0130 00"
    assert created.raw == {"amount": "50.00", "currency": "USD", "reference": "TRX 12345"}
    assert not Manual.automatic


@pytest.mark.parametrize(
    "reference", [None, "", "  ", "ab", "x" * 101, "abc\x00def", "abc\u202edef", "ok\ud800"]
)
def test_bad_references_are_refused(reference: str | None) -> None:
    with pytest.raises(GatewayError):
        Manual({}).create_payment(new_request(customer_reference=reference))


@pytest.mark.parametrize("amount", ["0", "-5", "10.001", "1e12"])
def test_bad_amounts_are_refused(amount: str) -> None:
    with pytest.raises(GatewayError):
        Manual({}).create_payment(new_request(amount, customer_reference="REF-1"))


def test_arabic_reference_is_text() -> None:
    created = Manual({}).create_payment(new_request(customer_reference="حوالة ١٢٣٤٥"))
    assert created.reference == "حوالة ١٢٣٤٥"


def test_no_callbacks_and_nothing_to_poll() -> None:
    gw = Manual({})
    with pytest.raises(VerificationError):
        gw.verify_callback(b"{}", {})
    with pytest.raises(GatewayError):
        gw.fetch_payment("REF-1")
    with pytest.raises(GatewayError):
        gw.complete_payment("REF-1")


@pytest.mark.parametrize("name", ["stripe", "paypal", "nowpayments", "manual"])
def test_every_gateway_is_a_gateway(name: str) -> None:
    settings = {
        "secret_key": "a",
        "webhook_secret": "b",
        "client_id": "c",
        "client_secret": "d",
        "webhook_id": "e",
        "api_key": "f",
        "ipn_secret": "g",
    }
    assert isinstance(gateway_for(name, settings), Gateway)


def test_amount_type_is_decimal() -> None:
    with pytest.raises(GatewayError):
        Manual({}).create_payment(
            new_request(customer_reference="REF-1").__class__(
                payment_id="p",
                amount=10.5,  # type: ignore[arg-type]
                currency="USD",
                return_url="",
                cancel_url="",
                callback_url="",
                customer_reference="REF-1",
            )
        )
    assert Decimal("10.50") == Decimal("10.5")
