"""Hostile values in every field of real requests, over HTTP, on both databases.

Each request starts *valid* (an order of one service type, or a status, refill or cancel
of ids), has one field replaced by a hostile value (SQL, HTML, RTL text, emoji, NUL, lone
surrogates, huge or negative or fractional or exponent numbers, 70 KB strings) and is sent
the way one kind of client sends it (form, query string, JSON, multipart). A sweep sends
every listed value in every field; hypothesis then generates more. In half the generated
examples the key is a funded account's real key, so that validation, not only the key
check, is exercised.

For every request: HTTP 200, ``Content-Type: application/json`` exactly, JSON, no
traceback or internal detail, nothing in the server log. A refused request carries the
field's own message and wrote nothing (balances, ledger, orders, refills, events and the
victim's orders are as before). Free-text fields (link, comments, usernames, hashtags)
may be accepted as they are: then the order stores exactly what was sent, trimmed, and is
charged exactly once.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import httpx
import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import event as hypothesis_event
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context
from sqlalchemy import select

from opensmm.orders.models import Order
from tests.hostile.strategies import (
    SPECIAL,
    TRANSPORTS,
    as_whole_number,
    has_surrogate,
    hostile_text,
    hostile_value,
    in_bounds,
    request_for,
)
from tests.hostile.target import (
    Snapshot,
    Target,
    check_answer,
    quiet_log,
    refusal,
    wrote_nothing,
)

SETTINGS = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
FREE_TEXT = {"link", "comments", "usernames", "hashtags", "username"}
ACTIONS = {"add", "status", "refill", "refill_status", "cancel", "balance", "services"}
DELAYS = {
    0,
    5,
    10,
    15,
    20,
    30,
    40,
    50,
    60,
    90,
    120,
    150,
    180,
    210,
    240,
    270,
    300,
    360,
    420,
    480,
    540,
    600,
}
FIELDS = {
    "default": ["key", "action", "service", "link", "quantity", "runs", "interval"],
    "comments": ["service", "link", "comments", "quantity"],
    "mentions": ["link", "quantity", "usernames", "hashtags"],
    "subscription": ["username", "min", "max", "posts", "delay", "expiry"],
}
MESSAGES = {
    "key": {"Invalid API key"},
    "action": {"Incorrect request"},
    "service": {"Incorrect service ID"},
    "link": {"Incorrect link"},
    "runs": {"Incorrect runs: a whole number from 1 to 1000"},
    "interval": {"Incorrect interval: whole minutes from 1 to 43200"},
    "posts": {
        "Incorrect posts",
        "Incorrect posts: a whole number from 0 to 10000",
    },
    "min": {
        "Incorrect min",
        "Quantity less than minimal 10",
        "Incorrect min: it must not be more than max",
    },
    "max": {
        "Incorrect max",
        "Quantity less than minimal 10",
        "Quantity more than maximal 1000",
        "Incorrect min: it must not be more than max",
    },
}


def _valid_order(target: Target, kind: str) -> dict[str, Any]:
    base = {"key": target.attacker.key, "action": "add", "link": "https://ok.test/p"}
    if kind == "default":
        return {**base, "service": target.default, "quantity": "100", "runs": "2", "interval": "5"}
    if kind == "comments":
        return {**base, "service": target.comments, "comments": "one\ntwo"}
    if kind == "mentions":
        return {
            **base,
            "service": target.mentions,
            "quantity": "20",
            "usernames": "a\nb",
            "hashtags": "#x",
        }
    return {
        "key": target.attacker.key,
        "action": "add",
        "service": target.subscription,
        "username": "someone",
        "min": "10",
        "max": "20",
        "posts": "3",
        "delay": "30",
        "expiry": "01/01/2099",
    }


def _sent_text(transport: str, value: Any) -> str | None:
    """The text the server's field holds (None: absent), as each transport delivers it."""
    if value is None:
        return None if transport == "json" else ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and transport == "json":
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value)


def _still_valid(kind: str, field: str, text: str | None) -> bool:
    """Whether a generated value happens to be a valid one for the field."""
    if field in ("key", "action"):
        return text in ACTIONS or text == _valid_order.__name__  # a key is never generated
    if field == "service":
        stripped = (text or "").strip()
        return stripped.isascii() and stripped.isdigit()
    if field == "quantity":
        # Custom Comments: an empty quantity, 0 or the line count (2) means "count the lines".
        if kind == "comments":
            return text in (None, "") or as_whole_number(text) in (0, 2)
        return in_bounds(text, 10, 10000 if kind == "default" else 1000)
    bounds = {
        "runs": (1, 1000),
        "interval": (1, 43200),
        "min": (10, 20),
        "max": (10, 1000),
        "posts": (0, 10000),
    }
    if field == "posts" and text in (None, ""):  # no posts: new posts until expiry or cancel
        return True
    if field in bounds:
        return in_bounds(text, *bounds[field])
    if field == "delay":
        return as_whole_number(text) in DELAYS
    if field == "expiry":  # a future d/m/Y date is valid; empty means none
        return text in (None, "") or bool(text and text.strip()[:1].isdigit())
    return False


def _json_refused(request: dict[str, Any]) -> bool:
    if request.get("headers", {}).get("content-type") != "application/json":
        return False
    try:
        orjson.loads(request["content"])
    except orjson.JSONDecodeError:
        return True
    return False


def send(target: Target, request: dict[str, Any]) -> httpx.Response:
    request = dict(request)
    method = request.pop("method")
    query = request.pop("url_query", None)
    url = target.url if query is None else f"{target.url}?{query}"
    return target.http.request(method, url, **request)


def event(name: str) -> None:
    """Hypothesis's outcome statistics (``--hypothesis-show-statistics``), when in a test."""
    if currently_in_test_context():
        hypothesis_event(name)


@dataclass
class Accepted:
    order_id: int
    field: str
    text: str
    transport: str


def judge(
    kind: str,
    field: str,
    transport: str,
    value: Any,
    request: dict[str, Any],
    answer: Any,
    *,
    authentic: bool = True,
) -> Accepted | None:
    """Check one answer against what the field allows; an accepted free-text order is
    returned for the caller to verify. Anything else must be the field's refusal."""
    text = _sent_text(transport, value)
    if _json_refused(request):
        assert refusal(answer) == "Incorrect request", answer
        event("refused: JSON that does not parse")
        return None
    if not authentic or field == "key":
        assert refusal(answer) == "Invalid API key", answer
        event("refused: key")
        return None
    if field in FREE_TEXT and isinstance(answer, dict) and "order" in answer:
        event(f"accepted: {field}")
        return Accepted(answer["order"], field, text or "", transport)
    message = refusal(answer)
    event(f"refused: {field}")
    expected = MESSAGES.get(field)
    if field == "quantity":
        if kind == "comments":
            assert message in {
                "Incorrect quantity",
                "Quantity must equal the number of lines (2)",
            }, message
        else:
            high = 10000 if kind == "default" else 1000
            assert message in {
                "Incorrect quantity",
                "Quantity less than minimal 10",
                f"Quantity more than maximal {high}",
            }, message
    elif field == "delay":
        assert message.startswith("Incorrect delay"), message
    elif field == "expiry":
        assert message.startswith("Incorrect expiry"), message
    elif field in FREE_TEXT - {"link"}:
        assert message.endswith(
            ("required for this service", "too long", "not allowed to contain NUL characters")
        ) or message.startswith("Quantity "), message
    elif expected is not None:
        assert message in expected, message
    return None


RATES = {"default": "0.90", "comments": "5", "mentions": "2", "subscription": "1"}


def verify_accepted(target: Target, accepted: Accepted) -> Decimal:
    """The order an accepted free-text value made: stored as sent, charged exactly.
    Returns the charge."""
    with target.panel.db.read() as session:
        order = session.scalar(select(Order).where(Order.id == accepted.order_id))
    assert order is not None and order.user_id == target.attacker.id, accepted
    stored = order.link if accepted.field == "link" else order.fields[accepted.field]
    if has_surrogate(accepted.text) and accepted.transport != "json":
        # Raw surrogate bytes are not UTF-8: the server decodes them as U+FFFD.
        assert not has_surrogate(stored), stored
    else:
        assert stored == accepted.text.strip(), (stored, accepted)
    units = order.units
    if accepted.field == "comments":
        lines = [line for line in stored.replace("\r\n", "\n").split("\n") if line.strip()]
        assert units == len(lines), (units, stored)
    kind = {
        target.default: "default",
        target.comments: "comments",
        target.mentions: "mentions",
        target.subscription: "subscription",
    }[order.service_id]
    expected = (Decimal(RATES[kind]) * units / 1000).quantize(Decimal("0.00001"), ROUND_HALF_UP)
    if kind == "subscription":  # charged as it runs: each post, nothing when accepted
        expected = Decimal(0)
    assert order.charge == expected, (order.charge, expected, accepted)
    return expected


def wrote_only(
    target: Target, before: Snapshot, orders: int, charged: Decimal, entries: int | None = None
) -> None:
    """``orders`` new orders, ``entries`` ledger entries (one per charged order: all of
    them unless said), ``charged`` taken from the attacker."""
    after = target.snapshot()
    assert after.orders == before.orders + orders, (before, after)
    entries = orders if entries is None else entries
    assert after.ledger_entries == before.ledger_entries + entries, (before, after)
    assert after.attacker_balance == before.attacker_balance - charged, (before, after)
    assert (after.refills, after.prober_balance, after.victim_orders) == (
        before.refills,
        before.prober_balance,
        before.victim_orders,
    )
    assert target.panel.ledger_mismatches() == []


def test_every_listed_value_in_every_field(target: Target) -> None:
    """Deterministic sweep: each special value in each field, transports in turn."""
    before = target.snapshot()
    cases = [
        (kind, field, transport, value)
        for kind, fields in FIELDS.items()
        for field in fields
        for index, value in enumerate(SPECIAL)
        if not _still_valid(
            kind, field, _sent_text(transport := TRANSPORTS[(index + len(field)) % 4], value)
        )
    ]

    def one(case: tuple[str, str, str, Any]) -> Accepted | None:
        kind, field, transport, value = case
        request = request_for(transport, {**_valid_order(target, kind), field: value})
        answer = check_answer(send(target, request))
        return judge(kind, field, transport, value, request, answer)

    # A few at a time: the requests are independent, and the server has two cores.
    with ThreadPoolExecutor(max_workers=4) as pool:
        accepted = [found for found in pool.map(one, cases) if found is not None]
    sent = len(cases)
    charges = [verify_accepted(target, a) for a in accepted]
    wrote_only(target, before, len(accepted), sum(charges, Decimal(0)),
               entries=sum(1 for charge in charges if charge))
    wrote_nothing(target, target.snapshot(), f"sweep of {sent} requests")
    print(f"[{target.panel.kind}] sweep: {sent} requests, {len(accepted)} free-text accepted")
    assert sent > 1000


@SETTINGS
@given(data=st.data())
def test_a_generated_hostile_field_in_an_order(target: Target, data: st.DataObject) -> None:
    kind = data.draw(st.sampled_from(sorted(FIELDS)), label="service kind")
    field = data.draw(st.sampled_from(FIELDS[kind]), label="field")
    transport = data.draw(st.sampled_from(TRANSPORTS), label="transport")
    value = data.draw(hostile_value, label="value")
    if _still_valid(kind, field, _sent_text(transport, value)):
        value = "\u202e<script>alert(1)</script>"  # certainly not a valid number or name
    params = {**_valid_order(target, kind), field: value}
    authentic = data.draw(st.booleans(), label="real key")
    if not authentic:
        params["key"] = data.draw(bad_keys, label="bad key")
    request = request_for(transport, params)
    before = target.snapshot()
    answer = check_answer(send(target, request))
    found = judge(kind, field, transport, value, request, answer, authentic=authentic)
    if found is None:
        wrote_nothing(target, before, (kind, field, transport, value))
    else:
        charge = verify_accepted(target, found)
        wrote_only(target, before, 1, charge, entries=1 if charge else 0)
        quiet_log(target, (kind, field, transport, value))


bad_keys = st.one_of(
    hostile_text,
    st.text(
        alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
        min_size=32,
        max_size=128,
    ),
    st.none(),
)
id_values = st.one_of(
    hostile_value,
    st.lists(hostile_value, max_size=5),
    st.builds(lambda ids: ",".join(map(str, ids)), st.lists(st.integers(-5, 40), max_size=8)),
    st.builds(lambda n: ",".join(str(i) for i in range(1, n)), st.integers(100, 300)),
)
RESULT_FIELD = {"refill": "refill", "refill_status": "status", "cancel": "cancel"}
ID_REFUSALS = {
    "Incorrect order ID",
    "Refill not found",
    "Incorrect request",
    "Too many ids: at most 100 per request",
}


@SETTINGS
@given(data=st.data())
def test_hostile_ids_never_reach_another_customers_orders(
    target: Target, data: st.DataObject
) -> None:
    """status / refill / refill_status / cancel with hostile ids, the victim's real ids
    mixed in: a customer who has no orders gets refusals only and changes nothing."""
    action = data.draw(st.sampled_from(["status", "refill", "refill_status", "cancel"]))
    name = data.draw(st.sampled_from(["order", "orders", "refill", "refills"]))
    value = data.draw(
        st.one_of(id_values, st.sampled_from(target.ids()), st.just(target.ids())), label="ids"
    )
    transport = data.draw(st.sampled_from(TRANSPORTS))
    authentic = data.draw(st.booleans())
    key = target.prober.key if authentic else data.draw(bad_keys)
    request = request_for(transport, {"key": key, "action": action, name: value})
    before = target.snapshot()
    answer = check_answer(send(target, request))
    if _json_refused(request):
        assert refusal(answer) == "Incorrect request"
    elif not authentic:
        # A bad key is named first, even when the ids are refused too (spec §6).
        assert refusal(answer) == "Invalid API key"
    else:
        _only_refusals(action, answer)
    wrote_nothing(target, before, (action, name, value, transport))


def _only_refusals(action: str, answer: Any) -> None:
    """Every per-id item is a refusal; nothing of the victim's orders shows."""
    if isinstance(answer, dict) and "error" in answer:
        assert answer["error"] in ID_REFUSALS, answer
        event(f"{action}: {answer['error']}")
        return
    items = answer.values() if isinstance(answer, dict) else answer
    for item in items:
        if action == "status":
            assert item == {"error": "Incorrect order ID"}, item
            continue
        result = item[RESULT_FIELD[action]]
        assert isinstance(result, dict) and set(result) == {"error"}, item
        assert result["error"] in {"Incorrect order ID", "Refill not found"}, item
    event(f"{action}: per-id refusals")
