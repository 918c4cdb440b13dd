"""Properties of the request parser (``opensmm.api.params``) over arbitrary input.

Whatever bytes arrive, parsing either gives parameters or refuses with a ``DomainError`` (whose
message the client sees): never another exception, which would be a 'please try again' answer
and a traceback in the log.
"""

from __future__ import annotations

import contextlib
import json

from hypothesis import example, given, settings
from hypothesis import strategies as st

from opensmm.api.params import (
    MAX_IDS,
    MAX_PARAMS,
    as_int_id,
    id_list,
    media_type,
    parse_json,
    parse_pairs,
    parse_query,
    text,
)
from opensmm.errors import DomainError

EXAMPLES = settings(max_examples=400, deadline=None)

names = st.sampled_from(
    [
        "key",
        "action",
        "order",
        "orders",
        "orders[]",
        "orders[0]",
        "refills[1]",
        "a[b][c]",
        "[]",
        "x[",
        "service",
        "link",
        "quantity",
    ]
) | st.text(max_size=12)
values = st.text(max_size=40) | st.sampled_from(["1,2,,3", " 7 ", "-1", "1e5", "0x10", "٣"])
json_scalars = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20)
)
json_values = (
    json_scalars
    | st.lists(json_scalars, max_size=5)
    | st.dictionaries(st.text(max_size=5), json_scalars, max_size=3)
)


def _well_formed(params: dict[str, object]) -> None:
    assert len(params) <= MAX_PARAMS
    for name, value in params.items():
        assert isinstance(name, str)
        if isinstance(value, list):
            assert all(isinstance(item, str) for item in value)
        else:
            assert isinstance(value, str)


@EXAMPLES
@given(st.binary(max_size=2000))
@example(b"&".join(b"a%d=1" % n for n in range(MAX_PARAMS + 50)))  # more fields than allowed
@example(b"orders[]=1&orders=2&orders[x]=3")
@example(b"%ff%fe=%00&key=%E2%82")
def test_query_strings_parse_or_are_refused(raw: bytes) -> None:
    try:
        params = parse_pairs(parse_query(raw))
    except DomainError:
        return
    _well_formed(params)


@EXAMPLES
@given(st.lists(st.tuples(names, values), max_size=250))
def test_pairs_merge_into_strings_and_lists(pairs: list[tuple[str, str]]) -> None:
    try:
        params = parse_pairs(pairs)
    except DomainError:
        assert len(pairs) > MAX_PARAMS
        return
    _well_formed(params)
    for name, _ in pairs:
        # Every name ends up either under itself or, for name[...], under its base.
        base = name.split("[", 1)[0] if name.endswith("]") and "[" in name else name
        assert name in params or base in params


@EXAMPLES
@given(st.dictionaries(names, json_values, max_size=30) | json_values)
@example({"quantity": 10**30, "orders": [-(2**64), 1.5e308]})
@example({"quantity": float("nan"), "link": float("inf")})
@example({"orders": [[1, 2], {"a": 1}]})
def test_json_bodies_parse_or_are_refused(document: object) -> None:
    # The standard library writes what orjson would refuse (NaN, huge integers): good input.
    body = json.dumps(document).encode()
    try:
        pairs = parse_json(body)
        params = parse_pairs(pairs)
    except DomainError:
        return
    assert isinstance(document, dict)
    _well_formed(params)


@EXAMPLES
@given(st.binary(max_size=300))
def test_raw_json_bytes_never_crash_the_parser(body: bytes) -> None:
    with contextlib.suppress(DomainError):
        parse_pairs(parse_json(body))


@EXAMPLES
@given(st.none() | values | st.lists(values, max_size=30))
def test_id_lists_are_trimmed_unique_and_bounded(value: str | list[str] | None) -> None:
    try:
        ids = id_list(value)
    except DomainError as exc:
        assert exc.message == f"Too many ids: at most {MAX_IDS} per request"
        return
    assert len(ids) <= MAX_IDS
    assert len(set(ids)) == len(ids)
    assert all(item and item == item.strip() and "," not in item for item in ids)


@EXAMPLES
@given(st.text(max_size=30) | st.integers().map(str))
def test_ids_are_positive_database_integers_or_none(raw: str) -> None:
    number = as_int_id(raw)
    if number is not None:
        assert 0 < number < 2**63
        assert str(number) == raw.strip().lstrip("0")


@EXAMPLES
@given(st.text(max_size=60))
def test_media_types_are_lowercase_without_parameters(header: str) -> None:
    kind = media_type(header)
    assert ";" not in kind and kind == kind.strip() and kind == kind.lower()


@EXAMPLES
@given(st.dictionaries(names, values | st.lists(values, max_size=3), max_size=10), names)
def test_a_single_value_is_the_last_of_a_list(params: dict, name: str) -> None:
    value = text(params, name)
    given_value = params.get(name)
    if isinstance(given_value, list):
        assert value == (given_value[-1] if given_value else None)
    else:
        assert value == given_value
