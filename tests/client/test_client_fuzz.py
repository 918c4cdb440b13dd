"""Whatever JSON a panel sends, the parsers answer with a result, a ``ShapeError`` (which
becomes ``BadResponse``) or an ``ApiError``: never another exception."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from opensmm.client import ApiError, BadResponse, ClientError, protocol
from opensmm.client import parse as p

IDS = [1, 2, 10]

PARSERS: dict[str, Callable[[object], object]] = {
    "services": p.parse_services,
    "add": p.parse_add,
    "status": lambda x: p.parse_order_status(x, 1),
    "subscription": lambda x: p.parse_subscription_status(x, 1),
    "status_many": lambda x: p.parse_order_statuses(x, IDS),
    "status_one": lambda x: p.parse_order_statuses(x, [1]),
    "subscription_many": lambda x: p.parse_subscription_statuses(x, IDS),
    "refill": p.parse_refill,
    "refill_many": lambda x: p.parse_refills(x, IDS),
    "refill_status": p.parse_refill_status,
    "refill_status_many": lambda x: p.parse_refill_statuses(x, IDS),
    "cancel": lambda x: p.parse_cancels(x, IDS),
    "balance": p.parse_balance,
}

FIELDS = [
    "error", "message", "order", "orders", "status", "refill", "cancel", "charge", "remains",
    "start_count", "currency", "balance", "service", "name", "rate", "min", "max", "1", "2",
    "10", "refill_status", "posts", "expiry", "desc", "type", "category",
]  # fmt: skip

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.decimals(allow_nan=False, allow_infinity=False, places=5),
    st.sampled_from(["", "1", "0", "0.90", "1,234", "In progress", "Completed", "x", "-1"]),
    st.text(max_size=8),
)
json_values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=3), children, max_size=5),
    ),
    max_leaves=20,
)


def _check(parser: Callable[[object], object], payload: object) -> None:
    with contextlib.suppress(p.ShapeError, ApiError):
        parser(payload)


@pytest.mark.parametrize("name", sorted(PARSERS))
@settings(max_examples=150, database=None, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(payload=json_values)
def test_parsers_never_crash(name: str, payload: Any) -> None:
    _check(PARSERS[name], payload)


@settings(max_examples=200, database=None, deadline=None)
@given(body=st.binary(max_size=64) | json_values.map(lambda v: json.dumps(v, default=str).encode()))
def test_read_response_raises_only_client_errors(body: bytes) -> None:
    call = protocol.status_many(IDS).calls[0]
    response = httpx.Response(200, content=body)
    with contextlib.suppress(ClientError):
        protocol.read_response(call, response, secret="k")


def test_decimal_json_round_trip() -> None:
    assert p.loads('{"a": 0.1}') == {"a": Decimal("0.1")}
    with pytest.raises(BadResponse):
        protocol.read_response(protocol.balance(), httpx.Response(200, content=b"[1"), secret="k")
