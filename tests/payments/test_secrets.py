"""Credentials encrypted at rest, shown masked, never in a message."""

from __future__ import annotations

import logging

import pytest
from hypothesis import given
from hypothesis import strategies as st

from opensmm.payments import secrets
from opensmm.payments.gateways import GATEWAYS, gateway_for, secret_settings
from opensmm.payments.gateways.base import GatewayConfigError

PANEL_SECRET = "a-panel-secret-of-at-least-32-characters!!"


@given(value=st.text(max_size=300))
def test_round_trip(value: str) -> None:
    stored = secrets.encrypt(value, PANEL_SECRET)
    assert stored.startswith("v1:")
    assert secrets.decrypt(stored, PANEL_SECRET) == value
    if len(value) >= 4:
        assert value not in stored


def test_encryption_is_randomized_and_bound_to_the_panel_secret() -> None:
    one = secrets.encrypt("sk_live_abcdefghijklmnop", PANEL_SECRET)
    two = secrets.encrypt("sk_live_abcdefghijklmnop", PANEL_SECRET)
    assert one != two
    with pytest.raises(secrets.SecretError) as refused:
        secrets.decrypt(one, "another-panel-secret-also-32-characters-long")
    assert "sk_live" not in str(refused.value)


@pytest.mark.parametrize("stored", ["", "plain", "v1:", "v1:garbage", "v2:abc", None])
def test_bad_stored_values_are_refused(stored: object) -> None:
    with pytest.raises(secrets.SecretError):
        secrets.decrypt(stored, PANEL_SECRET)  # type: ignore[arg-type]


def test_tampered_token_is_refused() -> None:
    stored = secrets.encrypt("whsec_1234567890", PANEL_SECRET)
    tampered = stored[:-6] + ("A" if stored[-6] != "A" else "B") + stored[-5:]
    with pytest.raises(secrets.SecretError):
        secrets.decrypt(tampered, PANEL_SECRET)


def test_short_panel_secret_is_refused() -> None:
    with pytest.raises(secrets.SecretError):
        secrets.encrypt("x", "short")


def test_masked() -> None:
    assert secrets.masked(None) == "not set"
    assert secrets.masked("") == "not set"
    assert secrets.masked("short") == "set"
    assert secrets.masked("sk_live_51Habcdefghijkl9876") == "set, ends in …9876"
    assert "sk_live" not in secrets.masked("sk_live_51Habcdefghijkl9876")


def test_settings_encrypt_only_the_credentials() -> None:
    settings = {
        "secret_key": "sk_test_abcdefghijklmnop",
        "webhook_secret": "whsec_abcdefghijklmnop",
        "api_base": "http://127.0.0.1:9",
    }
    keys = secret_settings("stripe")
    stored = secrets.encrypt_settings(settings, keys, PANEL_SECRET)
    assert stored["api_base"] == settings["api_base"]
    assert stored["secret_key"].startswith("v1:") and stored["webhook_secret"].startswith("v1:")
    assert secrets.decrypt_settings(stored, keys, PANEL_SECRET) == settings


def test_every_gateway_names_its_credentials() -> None:
    assert secret_settings("stripe") == {"secret_key", "webhook_secret"}
    assert secret_settings("paypal") == {"client_secret"}
    assert secret_settings("nowpayments") == {"api_key", "ipn_secret", "password"}
    assert secret_settings("manual") == frozenset()
    assert set(GATEWAYS) == {"stripe", "paypal", "nowpayments", "manual"}
    with pytest.raises(GatewayConfigError):
        gateway_for("bitcoin-by-mail", {})


@pytest.mark.parametrize("name", ["stripe", "paypal", "nowpayments"])
def test_missing_settings_name_the_setting_not_a_value(name: str) -> None:
    with pytest.raises(GatewayConfigError) as refused:
        gateway_for(name, {"client_id": "visible-id", "api_key": "SECRET-VALUE-123456"})
    assert "SECRET-VALUE" not in str(refused.value)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"api_base": "ftp://x"}, "api_base"),
        ({"timeout": "soon"}, "timeout"),
        ({"timeout": "0"}, "timeout"),
        ({"timeout": "1000"}, "timeout"),
    ],
)
def test_bad_options_are_refused(settings: dict[str, str], message: str) -> None:
    base = {"api_key": "k", "ipn_secret": "s"}
    with pytest.raises(GatewayConfigError, match=message):
        gateway_for("nowpayments", {**base, **settings})
    with pytest.raises(GatewayConfigError, match="no sandbox"):
        gateway_for("stripe", {"secret_key": "a", "webhook_secret": "b", "sandbox": "1"})


def test_no_credential_in_logs_reprs_or_errors(
    caplog: pytest.LogCaptureFixture, fake_stripe, fake_paypal, fake_nowpayments
) -> None:
    """Every gateway's flows, failing and succeeding, with logging at DEBUG."""
    from tests.payments import test_nowpayments, test_paypal, test_stripe
    from tests.payments.helpers import new_request

    caplog.set_level(logging.DEBUG)
    credentials = [
        fake_stripe.secret_key,
        fake_stripe.webhook_secret,
        fake_paypal.client_secret,
        fake_nowpayments.api_key,
        fake_nowpayments.ipn_secret,
        fake_nowpayments.password,
    ]
    texts: list[str] = []
    gateways = [
        test_stripe.gateway(fake_stripe),
        test_paypal.gateway(fake_paypal),
        test_nowpayments.gateway(fake_nowpayments),
    ]
    for gw in gateways:
        texts.append(repr(gw))
        created = gw.create_payment(new_request())
        texts.append(repr(created))
        texts.append(repr(gw.fetch_payment(created.reference)))
        for body, headers in [(b"{}", {}), (b'{"id": 1}', {"Stripe-Signature": "t=1,v1=00"})]:
            try:
                gw.verify_callback(body, headers)
            except Exception as exc:
                texts.append(f"{exc!r} {exc}")
    for fake in (fake_stripe, fake_paypal, fake_nowpayments):
        fake.fault = "html"
    try:
        for gw in gateways:
            try:
                gw.create_payment(new_request())
            except Exception as exc:
                texts.append(f"{exc!r} {exc}")
    finally:
        for fake in (fake_stripe, fake_paypal, fake_nowpayments):
            fake.fault = None
    texts.extend(record.getMessage() for record in caplog.records)
    everything = "\n".join(texts)
    for credential in credentials:
        assert credential not in everything
        assert credential[-10:] not in everything
