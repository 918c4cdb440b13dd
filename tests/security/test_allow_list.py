"""Per-key IP allow-lists, and which address counts as the client's."""

from __future__ import annotations

import pytest

from opensmm.errors import DomainError
from opensmm.security.network import (
    client_ip,
    ip_allowed,
    normalize_allow_list,
    parse_trusted_proxies,
)
from tests.security.support import panel_with
from tests.support.databases import KINDS


def test_allow_lists_are_normalized_and_bad_entries_refused() -> None:
    assert normalize_allow_list(" 203.0.113.7, 198.51.100.9/24 ;2001:db8::1") == (
        "203.0.113.7/32,198.51.100.0/24,2001:db8::1/128"
    )
    assert normalize_allow_list("::ffff:203.0.113.7") == "203.0.113.7/32"
    assert normalize_allow_list("1.2.3.4,1.2.3.4") == "1.2.3.4/32"
    assert normalize_allow_list("  ") is None
    for bad in ("1.2.3", "example.com", "10.0.0.0/33", "1.2.3.4/abc"):
        with pytest.raises(DomainError, match="Not an IP address or network"):
            normalize_allow_list(bad)
    with pytest.raises(DomainError, match="At most 50"):
        normalize_allow_list(",".join(f"10.0.0.{n}" for n in range(51)))


def test_an_address_matches_its_networks_only() -> None:
    stored = "203.0.113.7/32,198.51.100.0/24,2001:db8::/32"
    assert ip_allowed(stored, "203.0.113.7")
    assert ip_allowed(stored, "198.51.100.200")
    assert ip_allowed(stored, "2001:db8::42")
    assert not ip_allowed(stored, "203.0.113.8")
    assert not ip_allowed(stored, "127.0.0.1")
    assert not ip_allowed(stored, "unknown")
    assert not ip_allowed("garbage", "127.0.0.1")


def test_forwarded_for_is_believed_only_from_a_trusted_proxy() -> None:
    trusted = parse_trusted_proxies("127.0.0.1, 10.0.0.2")
    headers = [(b"x-forwarded-for", b"198.51.100.1, 203.0.113.7, 10.0.0.2")]
    assert client_ip({"client": ("127.0.0.1", 5000), "headers": headers}, trusted) == (
        "203.0.113.7"  # the nearest hop that is not one of our proxies
    )
    assert client_ip({"client": ("192.0.2.1", 5000), "headers": headers}, trusted) == "192.0.2.1"
    assert client_ip({"client": ("::ffff:192.0.2.1", 1), "headers": []}, trusted) == "192.0.2.1"
    assert client_ip({"client": None, "headers": []}, trusted) == "unknown"


@pytest.mark.parametrize("kind", KINDS)
def test_a_key_restricted_to_other_addresses_is_refused_and_changes_nothing(
    kind: str, database_servers: dict
) -> None:
    with panel_with(kind, database_servers) as panel:
        customer = panel.customer(balance="3")
        service = panel.service(rate="1")
        key_id = _key_id(panel, customer.key)
        panel.cli("key", "allow-ips", str(key_id), "203.0.113.7, 198.51.100.0/24")
        refused = {"error": "This API key cannot be used from your IP address"}
        assert panel.api(customer.key, "balance") == refused
        assert (
            panel.api(customer.key, "add", service=service, link="https://x.test/p", quantity=100)
            == refused
        )
        assert panel.balance(customer) == 3
        # Allowing the loopback network lets the same key in at once (no cache).
        panel.cli("key", "allow-ips", str(key_id), "203.0.113.7,127.0.0.0/8")
        assert panel.api(customer.key, "balance") == {"balance": "3.00", "currency": "USD"}
        result = panel.cli("key", "allow-ips", str(key_id), "")
        assert "any address" in result.stdout
        assert panel.api(customer.key, "balance") == {"balance": "3.00", "currency": "USD"}
        bad = panel.cli("key", "allow-ips", str(key_id), "not-an-ip", check=False)
        assert bad.returncode == 1
        assert "Not an IP address or network: 'not-an-ip'" in bad.stderr
        missing = panel.cli("key", "allow-ips", "999999", "127.0.0.1", check=False)
        assert missing.returncode == 1 and "API key not found" in missing.stderr


@pytest.mark.parametrize("kind", KINDS)
def test_behind_a_trusted_proxy_the_forwarded_address_is_checked(
    kind: str, database_servers: dict
) -> None:
    with panel_with(kind, database_servers, OPENSMM_TRUSTED_PROXIES="127.0.0.1") as panel:
        customer = panel.customer()
        panel.cli("key", "allow-ips", str(_key_id(panel, customer.key)), "203.0.113.7")
        params = {"key": customer.key, "action": "balance"}
        forwarded = panel.http.get(
            panel.api_url, params=params, headers={"X-Forwarded-For": "203.0.113.7"}
        )
        assert forwarded.json() == {"balance": "0.00", "currency": "USD"}
        other = panel.http.get(
            panel.api_url, params=params, headers={"X-Forwarded-For": "203.0.113.8"}
        )
        assert other.json() == {"error": "This API key cannot be used from your IP address"}
    # Without a trusted proxy, anyone could send the header: it is ignored.
    with panel_with(kind, database_servers) as panel:
        customer = panel.customer()
        panel.cli("key", "allow-ips", str(_key_id(panel, customer.key)), "203.0.113.7")
        spoofed = panel.http.get(
            panel.api_url,
            params={"key": customer.key, "action": "balance"},
            headers={"X-Forwarded-For": "203.0.113.7"},
        )
        assert spoofed.json() == {"error": "This API key cannot be used from your IP address"}


def _key_id(panel, key: str) -> int:  # type: ignore[no-untyped-def]
    from sqlalchemy import select

    from opensmm.accounts.keys import hash_key
    from opensmm.accounts.models import ApiKey

    with panel.db.read() as session:
        return int(session.scalar(select(ApiKey.id).where(ApiKey.key_hash == hash_key(key))))
