"""Properties of the request parser (``opensmm.api.params``) and of the money rules
(``opensmm.money``), checked directly on arbitrary input (no server).

The parser: any bytes either parse into well-formed parameters or are refused with a
``DomainError`` (never another exception, which would be an internal error); what a client
encodes comes back exactly. Money: parsing and formatting round-trip exactly, bad amounts
are refused with ``MoneyError`` only, charges round half-up, and refunds, rounded down,
never exceed the charge, alone or added to the rest of a cancel.
"""

from __future__ import annotations

import json
import re
from decimal import ROUND_HALF_UP, Decimal
from urllib.parse import quote, urlencode

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from opensmm.api.params import (
    MAX_IDS,
    MAX_PARAMS,
    Malformed,
    TooManyIds,
    as_int_id,
    id_list,
    parse_json,
    parse_pairs,
    parse_query,
    text,
)
from opensmm.db.types import parse_id, parse_ids
from opensmm.errors import DomainError
from opensmm.money import (
    MAX_AMOUNT,
    QUANTUM,
    MoneyError,
    charge_for,
    format_minor,
    format_money,
    from_minor,
    parse_money,
    refund_share,
)

EXAMPLES = settings(max_examples=300, deadline=None, derandomize=True, database=None)
# Text a form can carry (no lone surrogates: they are not UTF-8).
form_text = st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=30)
plain_names = st.text(
    alphabet=st.characters(exclude_categories=("Cs",), exclude_characters="[]&=+%#"),
    min_size=1,
    max_size=12,
)


# --- the parser -----------------------------------------------------------------------


@EXAMPLES
@given(st.binary(max_size=2000))
@example(b"&" * 5000)
@example(b"a=1&" * 201)
@example(b"%ff%fe=%00%ed%a0%80")
def test_any_query_string_parses_or_is_refused_cleanly(raw: bytes) -> None:
    try:
        pairs = parse_query(raw)
    except DomainError as exc:
        assert isinstance(exc, Malformed) and exc.message == "Incorrect request"
        return
    assert len(pairs) <= MAX_PARAMS
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in pairs)
    assert not any("\udc80" <= c <= "\udcff" for k, v in pairs for c in k + v)


@EXAMPLES
@given(
    st.lists(st.tuples(plain_names, form_text), max_size=MAX_PARAMS), st.sampled_from(["+", "%20"])
)
def test_a_form_comes_back_exactly(pairs: list[tuple[str, str]], space: str) -> None:
    """Whatever a client encodes, with ``+`` or ``%20`` for spaces, is what is read."""
    encoded = urlencode(pairs, quote_via=quote) if space == "%20" else urlencode(pairs)
    assert parse_query(encoded.encode()) == pairs


@EXAMPLES
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["orders[]", "orders[0]", "orders[7]", "orders", "key", "refills[x]"]),
            form_text,
        ),
        max_size=30,
    )
)
def test_php_arrays_collect_in_order_and_plain_keys_keep_the_last(
    pairs: list[tuple[str, str]],
) -> None:
    params = parse_pairs(pairs)
    expected_orders: list[str] | str | None = None
    for name, value in pairs:
        if name.startswith("orders["):
            if isinstance(expected_orders, list):
                expected_orders.append(value)
            else:
                expected_orders = [value]
        elif name == "orders":
            expected_orders = value
    assert params.get("orders") == expected_orders
    keys = [value for name, value in pairs if name == "key"]
    assert params.get("key") == (keys[-1] if keys else None)
    refills = [value for name, value in pairs if name == "refills[x]"]
    assert params.get("refills") == (refills or None)
    for value in params.values():
        assert isinstance(value, str) or all(isinstance(v, str) for v in value)


json_scalar = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**64 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
)
json_value = st.recursive(
    json_scalar,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)


@EXAMPLES
@given(json_value)
def test_json_bodies_are_objects_of_scalars_and_lists_of_scalars(document: object) -> None:
    body = json.dumps(document).encode()
    try:
        pairs = parse_json(body)
    except DomainError as exc:
        assert exc.message == "Incorrect request"
        # Refused: not an object, or a value nested deeper than a list of scalars.
        assert not isinstance(document, dict) or any(
            isinstance(v, dict)
            or (isinstance(v, list) and any(isinstance(i, (list, dict)) for i in v))
            for v in document.values()
        )
        return
    assert isinstance(document, dict)
    expected = []
    for name, value in document.items():
        if isinstance(value, list):
            expected += [(f"{name}[]", _as_sent(item)) for item in value]
        else:
            expected.append((name, _as_sent(value)))
    assert pairs == expected


def _as_sent(value: object) -> str:
    """A JSON scalar as the form field a PHP panel would see (spec: values may be numbers)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value)


@EXAMPLES
@given(st.binary(max_size=500))
@example(b'{"a": "\\ud800"}')
@example(b"[" * 10_000)
@example(b'{"a": 1e999}')
def test_json_bytes_never_raise_anything_but_a_refusal(body: bytes) -> None:
    try:
        parse_json(body)
    except DomainError as exc:
        assert exc.message == "Incorrect request"


id_lists = st.one_of(
    st.none(),
    form_text,
    st.lists(form_text, max_size=5),
    st.builds(
        ",".join,
        st.lists(st.sampled_from(["1", " 2", "2 ", "", "x"]), max_size=150),
    ),
)


@EXAMPLES
@given(id_lists)
def test_id_lists_are_trimmed_unique_ordered_and_bounded(value: str | list[str] | None) -> None:
    parts = [] if value is None else value if isinstance(value, list) else [value]
    expected = list(
        dict.fromkeys(item.strip() for part in parts for item in part.split(",") if item.strip())
    )
    if len(expected) > MAX_IDS:
        with pytest.raises(TooManyIds):
            id_list(value)
    else:
        assert id_list(value) == expected


@EXAMPLES
@given(
    st.one_of(
        form_text,
        st.integers(-10, 2**64).map(str),
        st.sampled_from(
            [
                "²",
                "١٢",
                "𝟏",
                "2147483647",
                "2147483648",
                " 7 ",
                "07",
                "0",
                "-0",
                "+5",
                "5.0",
                "1e3",
                "9" * 19,
            ]
        ),
    )
)
def test_ids_are_ascii_digits_within_the_id_column(raw: str) -> None:
    found = as_int_id(raw)
    stripped = raw.strip()
    if re.fullmatch(r"[0-9]+", stripped) and 0 < int(stripped) <= 2**31 - 1:
        assert found == int(stripped)
    else:
        assert found is None


@EXAMPLES
@given(
    st.dictionaries(plain_names, form_text | st.lists(form_text, max_size=3), max_size=5),
    plain_names,
)
def test_a_single_value_is_the_last_of_a_list(params: dict, name: str) -> None:
    value = params.get(name)
    expected = (value[-1] if value else None) if isinstance(value, list) else value
    assert text(params, name) == expected


# --- money ----------------------------------------------------------------------------

amounts = st.decimals(
    min_value=-MAX_AMOUNT + QUANTUM,
    max_value=MAX_AMOUNT - QUANTUM,
    places=5,
    allow_nan=False,
    allow_infinity=False,
)
rates = st.decimals(min_value=0, max_value=Decimal(100_000), places=5)
units = st.integers(min_value=1, max_value=2_000_000_000)


@EXAMPLES
@given(amounts)
@example(Decimal("-0"))
@example(Decimal("0.00001"))
@example(Decimal("999999999999.99999"))
def test_format_and_parse_round_trip(amount: Decimal) -> None:
    shown = format_money(amount)
    assert re.fullmatch(r"-?[0-9]+\.[0-9]{2,5}", shown), shown
    assert shown != "-0.00"  # regression: a negative zero showed as "-0.00"
    assert parse_money(shown) == amount
    assert parse_money(str(amount)) == amount
    assert format_money(parse_money(shown)) == shown


@EXAMPLES
@given(st.lists(st.one_of(st.from_regex(r"\A[0-9]{1,12}\Z"), form_text), max_size=20))
@example(["0", "00", "2147483647", "2147483648", "0000000001", "²", "١٠", "+1", "-1", ""])
def test_many_ids_are_read_as_each_one_alone(raws: list[str]) -> None:
    stripped = [raw.strip() for raw in raws]  # as id_list gives them
    assert parse_ids(stripped) == [parse_id(raw) or 0 for raw in stripped]


@EXAMPLES
@given(st.integers(min_value=-(10**17) + 1, max_value=10**17 - 1))
@example(0)
@example(-1)
@example(-100_000)
@example(1_000_000)
def test_formatting_whole_units_agrees_with_formatting_decimals(minor: int) -> None:
    # The hot reads format the database's integers directly; they must show the same text.
    assert format_minor(minor) == format_money(from_minor(minor))


@EXAMPLES
@given(
    st.one_of(
        st.text(max_size=30),
        st.sampled_from(
            [
                "1e30",
                "-1e30",
                "1e999999",
                "NaN",
                "sNaN",
                "Infinity",
                "-inf",
                "0.000001",
                "1_0",
                "1,5",
                "١٢",
                "1000000000000",
                "0x10",
                "",
                " ",
                "1e-7",
            ]
        ),
        st.floats(),
        st.none(),
        st.booleans(),
        st.lists(st.integers(), max_size=2),
    )
)
def test_bad_amounts_are_refused_with_money_error_only(value: object) -> None:
    """Regression: "1e30" raised decimal.InvalidOperation (a traceback in the CLI)."""
    try:
        amount = parse_money(value)
    except MoneyError:
        return
    assert isinstance(value, (str, int)) and not isinstance(value, bool)
    assert abs(amount) < MAX_AMOUNT and amount == amount.quantize(QUANTUM)


@EXAMPLES
@given(rates, units)
def test_a_charge_is_rate_times_units_over_1000_rounded_half_up(rate: Decimal, n: int) -> None:
    charge = charge_for(rate, n)
    exact = rate * n / 1000
    assert charge == exact.quantize(QUANTUM, rounding=ROUND_HALF_UP)
    assert abs(charge - exact) <= QUANTUM / 2
    assert charge >= 0


@EXAMPLES
@given(rates, units, st.data())
def test_refunds_never_exceed_the_charge(rate: Decimal, n: int, data: st.DataObject) -> None:
    charge = charge_for(rate, n)
    remains = data.draw(st.integers(min_value=-5, max_value=n + 5), label="remains")
    share = refund_share(charge, remains, n)
    assert 0 <= share <= charge
    assert share == share.quantize(QUANTUM)
    if 0 < remains < n:
        exact = charge * remains / n
        assert exact - QUANTUM < share <= exact  # rounded down, never up
    if remains >= n:
        assert share == charge
    # A partial refund then the cancel of the rest pays back the charge, not a unit more.
    assert share + (charge - share) == charge
    # Shares of the same charge are monotonic in the remains.
    other = data.draw(st.integers(min_value=0, max_value=n), label="other remains")
    if other <= max(remains, 0):
        assert refund_share(charge, other, n) <= share
