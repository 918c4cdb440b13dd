"""Who is on the other end: the client's address, and per-key IP allow-lists."""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from typing import Any

from opensmm.errors import DomainError
from opensmm.i18n import N_

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
MAX_ALLOW_LIST_ENTRIES = 50
UNKNOWN = "unknown"


@lru_cache(maxsize=4096)  # every API request asks, mostly for the same few peers
def _plain(address: str) -> str:
    """``::ffff:1.2.3.4`` is ``1.2.3.4``: one client, one bucket, one allow-list entry."""
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return address.strip()
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return str(ip)


def parse_trusted_proxies(text: str) -> frozenset[str]:
    return frozenset(_plain(part) for part in text.split(",") if part.strip())


def client_ip(scope: Any, trusted_proxies: frozenset[str]) -> str:
    """The peer's address; behind a trusted proxy, the nearest untrusted X-Forwarded-For hop.

    Only a proxy named in ``OPENSMM_TRUSTED_PROXIES`` is believed: anyone can send the header.
    """
    client = scope.get("client")
    peer = _plain(client[0]) if client else UNKNOWN
    if peer not in trusted_proxies:
        return peer
    for name, value in scope.get("headers", ()):
        if name == b"x-forwarded-for":
            hops = [_plain(hop) for hop in value.decode("latin-1").split(",") if hop.strip()]
            for hop in reversed(hops):
                if hop not in trusted_proxies:
                    return hop
    return peer


def is_https(scope: Any, trusted_proxies: frozenset[str]) -> bool:
    """HTTPS to us, or to a trusted reverse proxy that says so (``X-Forwarded-Proto``)."""
    if scope.get("scheme") in ("https", "wss"):
        return True
    client = scope.get("client")
    if not trusted_proxies or not client or _plain(client[0]) not in trusted_proxies:
        return False
    for name, value in scope.get("headers", ()):
        if name == b"x-forwarded-proto":
            return bool(value.decode("latin-1").split(",")[0].strip().lower() == "https")
    return False


def is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


class BadAllowList(DomainError):
    pass


def normalize_allow_list(text: str) -> str | None:
    """The canonical form of a list of addresses and networks (``1.2.3.4, 10.0.0.0/8``), or
    None for an empty list (the key works from anywhere). Refuses anything unparsable."""
    entries = [part.strip() for part in text.replace(";", ",").replace(" ", ",").split(",")]
    networks: list[str] = []
    for entry in entries:
        if not entry:
            continue
        try:
            network = ipaddress.ip_network(entry if "/" in entry else _plain(entry), strict=False)
        except ValueError:
            raise BadAllowList(
                N_('Not an IP address or network: {entry!r} (examples: 203.0.113.7, 198.51.100.0/24, 2001:db8::/32)'),  # noqa: E501
                entry=entry[:60],
            ) from None
        if str(network) not in networks:
            networks.append(str(network))
    if len(networks) > MAX_ALLOW_LIST_ENTRIES:
        raise BadAllowList(
            N_('At most {max} addresses or networks per key'),
            max=MAX_ALLOW_LIST_ENTRIES,
        )
    return ",".join(networks) or None


@lru_cache(maxsize=4096)
def _networks(stored: str) -> tuple[IPNetwork, ...]:
    result = []
    for part in stored.split(","):
        try:
            result.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            continue  # only normalize_allow_list writes this column; never trust it blindly
    return tuple(result)


@lru_cache(maxsize=65536)
def ip_allowed(stored: str, address: str) -> bool:
    """Whether ``address`` is in the stored allow-list (a list matches nothing unparsable)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in _networks(stored))
