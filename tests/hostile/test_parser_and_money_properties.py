"""Properties of the request parser (``opensmm.api.params``) and of the money rules
(``opensmm.money``), checked directly on arbitrary input (no server).

The parser: any bytes either parse into well-formed parameters or are refused with a
``DomainError`` (never another exception, which would be an internal error); what a client
encodes comes back exactly. Money: parsing and formatting round-trip exactly, bad amounts
are refused with ``MoneyError`` only; charges (rounded half-up) and refunds (rounded down,
never more than the charge) agree with integer arithmetic in 0.00001 units and with cases
worked by hand.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
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
    SCALE,
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


# Charges and refunds are checked against integer arithmetic in minor units (0.00001), not
# against ``charge_for``'s own Decimal formula: a rate of r minor units per 1000 makes n units
# cost r*n/1000 minor units; half-up is floor(x + 1/2) = (2*r*n + 1000) // 2000, and a refund
# of ``remains`` of n, rounded down, is charge*remains // n.
rates_minor = st.integers(min_value=0, max_value=100_000 * 10**SCALE)  # 0 to 100000.00000


def _money(minor: int) -> Decimal:
    """Minor units as an amount, by its text (no Decimal arithmetic)."""
    sign, whole, part = "-" if minor < 0 else "", *divmod(abs(minor), 10**SCALE)
    return Decimal(f"{sign}{whole}.{part:0{SCALE}d}")


def _charge_minor(rate_minor: int, n: int) -> int:
    return (2 * rate_minor * n + 1000) // 2000


def _refund_minor(charge_minor: int, remains: int, n: int) -> int:
    return charge_minor * min(max(remains, 0), n) // n


# Worked by hand: rate × units / 1000, then rounded to 0.00001 (half up).
CHARGES = [
    # rate       units          rate × units / 1000                    charge
    ("0.90", 1000, "0.90 × 1000 / 1000 = 0.9", "0.90000"),
    ("0.90", 1, "0.90 × 1 / 1000 = 0.0009", "0.00090"),
    ("1.23456", 3, "3.70368 / 1000 = 0.00370368, 0.368 of a unit down", "0.00370"),
    ("0.00001", 500, "0.005 / 1000 = 0.000005: exactly half a unit, up", "0.00001"),
    ("0.00001", 499, "0.00499 / 1000 = 0.00000499: 0.499 of a unit, down", "0.00000"),
    ("0.00005", 100, "0.005 / 1000 = 0.000005: half a unit, up", "0.00001"),
    ("0.00003", 50, "0.0015 / 1000 = 0.0000015: 0.15 of a unit, down", "0.00000"),
    ("0.33333", 7, "2.33331 / 1000 = 0.00233331, down", "0.00233"),
    ("12.5", 333, "4162.5 / 1000 = 4.1625, exact", "4.16250"),
    ("2.71828", 1_999, "5433.84172 / 1000 = 5.43384172, down", "5.43384"),
    ("2.71829", 1_999, "5433.86171 / 1000 = 5.43386171, down", "5.43386"),
    ("0.99999", 1_001, "1000.98999 / 1000 = 1.00098999: 0.999 of a unit, up", "1.00099"),
    ("100000", 2_000_000_000, "2e14 / 1000 = 2e11", "200000000000.00000"),
    ("0", 1_000_000, "0", "0.00000"),
]
# Worked by hand: charge × remains / units, rounded down to 0.00001; none below 0, at most
# the charge.
REFUNDS = [
    # charge     remains  units   charge × remains / units               refund
    ("0.90", 157, 1000, "141.3 / 1000 = 0.1413", "0.14130"),
    ("1.00000", 1, 3, "1 / 3 = 0.333333…, down", "0.33333"),
    ("1.00000", 2, 3, "2 / 3 = 0.666666…, down (not 0.66667)", "0.66666"),
    ("0.00001", 1, 2, "0.00001 / 2 = 0.000005, down", "0.00000"),
    ("0.00099", 999, 1000, "0.98901 / 1000 = 0.00098901, down", "0.00098"),
    ("5.43384", 1_998, 1_999, "10856.81232 / 1999 = 5.43112172…, down", "5.43112"),
    ("1.00000", 0, 3, "nothing left: nothing back", "0.00000"),
    ("1.00000", -1, 3, "a negative remains is none", "0.00000"),
    ("1.00000", 3, 3, "all of it: the whole charge", "1.00000"),
    ("1.00000", 5, 3, "more than ordered: the whole charge, no more", "1.00000"),
]


@pytest.mark.parametrize(("rate", "n", "worked", "expected"), CHARGES)
def test_charges_worked_by_hand(rate: str, n: int, worked: str, expected: str) -> None:
    assert str(charge_for(Decimal(rate), n)) == expected, worked


@pytest.mark.parametrize(("charge", "remains", "n", "worked", "expected"), REFUNDS)
def test_refunds_worked_by_hand(
    charge: str, remains: int, n: int, worked: str, expected: str
) -> None:
    assert str(refund_share(Decimal(charge), remains, n)) == expected, worked


def test_the_hand_tables_agree_with_the_integer_formulas() -> None:
    """The integer formulas used below are themselves checked against the hand tables."""
    for rate, n, _, expected in CHARGES:
        assert _money(_charge_minor(int(Decimal(rate).scaleb(SCALE)), n)) == Decimal(expected)
    for charge, remains, n, _, expected in REFUNDS:
        minor = int(Decimal(charge).scaleb(SCALE))
        assert _money(_refund_minor(minor, remains, n)) == Decimal(expected)


@EXAMPLES
@given(rates_minor, units)
@example(1, 500)  # half a unit: up
@example(5, 100)
@example(1, 499)
@example(100_000 * 10**SCALE, 2_000_000_000)  # the largest charge: 2e11, exact
def test_a_charge_agrees_with_integer_arithmetic(rate_minor: int, n: int) -> None:
    charge = charge_for(_money(rate_minor), n)
    assert charge == _money(_charge_minor(rate_minor, n))
    assert format_money(charge) == format_money(_money(_charge_minor(rate_minor, n)))


@EXAMPLES
@given(rates_minor, units, st.data())
def test_refunds_agree_with_integer_arithmetic_and_never_exceed_the_charge(
    rate_minor: int, n: int, data: st.DataObject
) -> None:
    charge_minor = _charge_minor(rate_minor, n)
    charge = _money(charge_minor)
    remains = data.draw(st.integers(min_value=-5, max_value=n + 5), label="remains")
    share = refund_share(charge, remains, n)
    assert share == _money(_refund_minor(charge_minor, remains, n))
    assert 0 <= share <= charge
    if remains >= n:
        assert share == charge
    # The refund for what remains and the one for what was delivered, each rounded down,
    # never pay back more than the charge, and lose less than 0.00001 each.
    if 0 <= remains <= n:
        delivered = refund_share(charge, n - remains, n)
        assert charge - 2 * QUANTUM < share + delivered <= charge
    # Shares of the same charge are monotonic in the remains.
    other = data.draw(st.integers(min_value=0, max_value=n), label="other remains")
    if other <= max(remains, 0):
        assert refund_share(charge, other, n) <= share
