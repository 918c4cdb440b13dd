"""Hostile request *shapes*, over HTTP, on both databases: random bytes under random
content types, arbitrary JSON documents, deep nesting, top-level arrays, duplicate keys,
bodies over the 1 MiB limit, thousands of parameters, too many ids, NUL bytes, odd methods,
``Expect: 100-continue`` and chunked bodies, and orders too large for the database.

Same invariant for each: HTTP 200, ``Content-Type: application/json`` exactly, JSON, a
non-empty ``error`` when refused, no traceback, nothing in the server log, nothing written.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.hostile.strategies import SPECIAL, hostile_text, json_numbers
from tests.hostile.target import Target, check_answer, refusal, wrote_nothing

SETTINGS = settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
MIB = 1024 * 1024
TOO_LARGE = "Request too large: at most 1 MiB"
TOO_MANY_IDS = "Too many ids: at most 100 per request"


def _refused(target: Target, message: str | None = None, **request: Any) -> str:
    """Send, check the transport rules, expect a refusal and no write."""
    before = target.snapshot()
    answer = check_answer(target.send(**request))
    found = refusal(answer)
    if message is not None:
        assert found == message, (found, message)
    wrote_nothing(target, before, {k: str(v)[:200] for k, v in request.items()})
    return found


def _form(params: dict[str, Any]) -> dict[str, Any]:
    return {"data": {k: str(v) for k, v in params.items()}}


def _json(document: Any) -> dict[str, Any]:
    return {
        "content": json.dumps(document).encode(),
        "headers": {"content-type": "application/json"},
    }


# --- generated ------------------------------------------------------------------------

CONTENT_TYPES = [
    "application/x-www-form-urlencoded",
    "application/x-www-form-urlencoded; charset=utf-8",
    "application/json",
    "APPLICATION/JSON; charset=utf-16",
    "multipart/form-data",
    "multipart/form-data; boundary=xyz",
    "multipart/form-data; boundary=",
    "text/plain",
    "text/html",
    "application/octet-stream",
    "application/xml",
    "",
    "*/*",
    ";;;",
]


@SETTINGS
@given(
    body=st.one_of(
        st.binary(max_size=3000),
        st.builds(lambda t: t.encode("utf-8", "surrogatepass"), hostile_text),
        st.builds(lambda b: b"key=&action=add&" + b, st.binary(max_size=500)),
        st.builds(lambda b: b'{"action": "add", "x": ' + b, st.binary(max_size=200)),
    ),
    # Header bytes an HTTP parser accepts (RFC 9110 field-vchar, SP, obs-text); others get
    # the HTTP server's own 400 before any application sees the request.
    content_type=st.sampled_from(CONTENT_TYPES)
    | st.text(
        alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"),
        max_size=60,
    ).map(str.strip),
    authentic=st.booleans(),
    action=st.sampled_from(["add", "cancel", "refill", "status", "", "balance"]),
)
def test_random_bytes_under_random_content_types(
    target: Target, body: bytes, content_type: str, authentic: bool, action: str
) -> None:
    """Whatever the body, the key and action may come in the query string (clients merge
    them): with the real key, a write action is then refused by validation."""
    query = {"action": action, "key": target.prober.key if authentic else "bogus"}
    before = target.snapshot()
    answer = check_answer(
        target.send(
            params=query, content=body, headers={"content-type": content_type.encode("latin-1")}
        )
    )
    if isinstance(answer, dict) and set(answer) != {"error"}:
        # A read (balance, or a status whose body did not change the action) answered.
        assert set(answer) in ({"balance", "currency"},), answer
    wrote_nothing(target, before, (body[:200], content_type, action))


json_scalars = st.one_of(
    st.none(), st.booleans(), json_numbers, hostile_text, st.sampled_from(SPECIAL)
)
json_documents = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "key",
                    "action",
                    "service",
                    "link",
                    "quantity",
                    "orders",
                    "order",
                    "comments",
                    "runs",
                ]
            )
            | hostile_text,
            children,
            max_size=6,
        )
    ),
    max_leaves=20,
)


@SETTINGS
@given(
    document=json_documents,
    authentic=st.booleans(),
    action=st.sampled_from(["add", "cancel", "refill", "status", "refill_status"]),
)
def test_arbitrary_json_documents(
    target: Target, document: Any, authentic: bool, action: str
) -> None:
    if isinstance(document, dict):
        document = {**document, "action": action, "service": target.default}
        if authentic:
            document["key"] = target.prober.key
        # Never a valid order: a quantity below the minimum, whatever else is there.
        document["quantity"] = 9
    before = target.snapshot()
    body = json.dumps(document, ensure_ascii=True).encode()
    answer = check_answer(target.send(content=body, headers={"content-type": "application/json"}))
    if isinstance(answer, dict) and "error" in answer:
        assert answer["error"].strip()
    wrote_nothing(target, before, body[:300])


# --- explicit shapes ------------------------------------------------------------------


def _add(target: Target, **extra: Any) -> dict[str, Any]:
    """An order that would be valid but for ``quantity`` 9 (the minimum is 10)."""
    return {
        "key": target.attacker.key,
        "action": "add",
        "service": target.default,
        "link": "https://s.test/",
        "quantity": "9",
        **extra,
    }


def test_deeply_nested_json(target: Target) -> None:
    depth = 100_000
    _refused(
        target,
        "Incorrect request",
        content=b"[" * depth + b"]" * depth,
        headers={"content-type": "application/json"},
    )
    nested = b'{"key": "' + target.attacker.key.encode() + b'", "action": "add", "link": '
    _refused(
        target,
        "Incorrect request",
        content=nested + b"[" * depth + b"]" * depth + b"}",
        headers={"content-type": "application/json"},
    )
    _refused(
        target,
        "Incorrect request",
        content=nested + b'{"a":' * 300 + b"1" + b"}" * 301,
        headers={"content-type": "application/json"},
    )


@pytest.mark.parametrize(
    "document", [[1, 2], [{"key": "x", "action": "balance"}], "add", 42, None, True, []]
)
def test_json_that_is_not_an_object(target: Target, document: Any) -> None:
    _refused(target, "Incorrect request", **_json(document))


def test_duplicate_keys_the_last_one_counts(target: Target) -> None:
    key = target.attacker.key
    body = (
        f'{{"key": "nope", "action": "balance", "key": "{key}", "action": "add", '
        f'"service": {target.default}, "link": "https://d.test/", "quantity": "9"}}'
    ).encode()
    _refused(
        target,
        "Quantity less than minimal 10",
        content=body,
        headers={"content-type": "application/json"},
    )
    form = (
        f"key=nope&key={key}&action=balance&action=add&service={target.default}"
        "&link=https://d.test/&quantity=100000&quantity=9"
    ).encode()
    _refused(
        target,
        "Quantity less than minimal 10",
        content=form,
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    # The body wins over the query string for the same name.
    _refused(
        target, "Quantity less than minimal 10", params={"quantity": "100"}, **_form(_add(target))
    )


@pytest.mark.parametrize("kind", ["form", "json", "multipart", "raw"])
def test_a_2_mib_body_is_refused(target: Target, kind: str) -> None:
    big = "a" * (2 * MIB)
    params = _add(target, link="https://s.test/" + big)
    request: dict[str, Any] = {
        "form": _form(params),
        "json": _json(params),
        "multipart": {"files": {name: (None, str(v)) for name, v in params.items()}},
        "raw": {"content": big.encode(), "headers": {"content-type": "application/octet-stream"}},
    }[kind]
    _refused(target, TOO_LARGE, **request)


def test_a_body_at_the_limit_is_parsed(target: Target) -> None:
    pad = "a" * (MIB - 400)  # the whole body stays under 1 MiB
    _refused(target, "Incorrect link", **_form(_add(target, link="https://s.test/" + pad)))
    _refused(
        target,
        "Comments are too long",
        **_form(_add(target, service=target.comments, comments="x\n" * 40_000)),
    )


def _many(count: int) -> dict[str, str]:
    return {f"p{i}": str(i) for i in range(count)}


@pytest.mark.parametrize("count", [201, 5000])
def test_thousands_of_parameters(target: Target, count: int) -> None:
    params = {**_add(target), **_many(count)}
    _refused(target, "Incorrect request", **_form(params))
    _refused(target, "Incorrect request", **_json(params))
    _refused(
        target, "Incorrect request", files={name: (None, str(v)) for name, v in params.items()}
    )
    _refused(target, "Incorrect request", params=params)  # in the query string
    orders = "&".join(f"orders[{i}]={i}" for i in range(count))
    _refused(
        target,
        "Incorrect request",
        content=f"key={target.prober.key}&action=cancel&{orders}".encode(),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )


def test_two_hundred_parameters_are_still_read(target: Target) -> None:
    params = {**_add(target), **_many(200 - len(_add(target)))}
    _refused(target, "Quantity less than minimal 10", **_form(params))


@pytest.mark.parametrize(
    "action,name",
    [
        ("status", "orders"),
        ("refill", "orders"),
        ("refill_status", "refills"),
        ("cancel", "orders"),
    ],
)
def test_too_many_ids_and_empty_lists(target: Target, action: str, name: str) -> None:
    ids = ",".join(str(i) for i in range(1, 102))
    key = target.prober.key
    _refused(target, TOO_MANY_IDS, **_form({"key": key, "action": action, name: ids}))
    _refused(
        target, TOO_MANY_IDS, **_json({"key": key, "action": action, name: list(range(1, 102))})
    )
    _refused(target, "Incorrect request", **_form({"key": key, "action": action, name: " , ,"}))
    # Regression: a bad key is named first, whatever else is wrong (spec §6).
    for bad in (ids, "", ",,,"):
        _refused(target, "Invalid API key", **_form({"key": "x" * 40, "action": action, name: bad}))


def test_nul_bytes_anywhere(target: Target) -> None:
    key = target.attacker.key.encode()
    service = str(target.default).encode()
    for body in (
        b"key="
        + key
        + b"&action=add&service="
        + service
        + b"&link=https://n.test/%00&quantity=100",
        b"key="
        + key
        + b"&action=add&service="
        + service
        + b"&link=https://n.test/\x00&quantity=100",
        b"key=" + key + b"\x00&action=add",
        b"key=" + key + b"&action=add\x00&service=" + service,
        b"\x00" * 5000,
    ):
        _refused(
            target,
            None,
            content=body,
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
    _refused(target, "Incorrect link", **_json(_add(target, link="https://n.test/\x00")))
    # Regression: a NUL was refused as "too long".
    _refused(
        target,
        "Comments are not allowed to contain NUL characters",
        **_json(_add(target, service=target.comments, comments="a\x00b", quantity="0")),
    )


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE", "OPTIONS"])
def test_other_methods_are_answered_like_post(target: Target, method: str) -> None:
    _refused(target, "Quantity less than minimal 10", method=method, **_form(_add(target)))


def test_expect_100_continue_and_chunked_bodies(target: Target) -> None:
    body = "&".join(f"{k}={v}" for k, v in _add(target, pad="x" * 4000).items()).encode()
    host, port = target.panel.url.removeprefix("http://").split(":")
    before = target.snapshot()
    with socket.create_connection((host, int(port)), timeout=30) as conn:
        conn.sendall(
            b"POST /api/v2 HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\n"
            b"Content-Length: %d\r\nExpect: 100-continue\r\n\r\n" % len(body)
        )
        assert conn.recv(100).startswith(b"HTTP/1.1 100 Continue")
        conn.sendall(body)
        reply = _read_reply(conn)
    assert reply.startswith(b"HTTP/1.1 200 OK\r\n")
    head, _, payload = reply.partition(b"\r\n\r\n")
    assert b"\r\ncontent-type: application/json\r\n" in head.lower() + b"\r\n"
    assert json.loads(payload) == {"error": "Quantity less than minimal 10"}
    wrote_nothing(target, before, "expect 100-continue")

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(body), 333):
            yield body[start : start + 333]

    _refused(
        target,
        "Quantity less than minimal 10",
        content=chunks(),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )


def _read_reply(conn: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        data += conn.recv(4096)
    head = data.split(b"\r\n\r\n", 1)[0].lower()
    length = int(head.split(b"content-length: ", 1)[1].split(b"\r\n", 1)[0])
    while len(data.split(b"\r\n\r\n", 1)[1]) < length:
        data += conn.recv(4096)
    return data


def test_orders_too_large_for_the_database(target: Target) -> None:
    """Regression: quantity × runs beyond a 32-bit column, and a charge
    beyond the money column, were internal errors on PostgreSQL (and SQLite)."""
    key = target.attacker.key
    _refused(
        target,
        "The order is too large: quantity × runs must be at most 2000000000",
        **_form(
            {
                "key": key,
                "action": "add",
                "service": target.huge,
                "link": "https://h/",
                "quantity": "1000000000",
                "runs": "1000",
                "interval": "1",
            }
        ),
    )
    pricey = target.panel.service(rate="999999999", min_quantity=1, max_quantity=1_000_000_000)
    _refused(
        target,
        "Not enough funds on balance",
        **_form(
            {
                "key": key,
                "action": "add",
                "service": pricey,
                "link": "https://h/",
                "quantity": "1000000000",
            }
        ),
    )


@pytest.mark.parametrize(
    "value", ["2147483648", "99999999999", "9" * 30, "²", "١", "𝟏", "-1", "0", "1e3", " 7 x"]
)
def test_ids_beyond_the_columns_or_not_ascii(target: Target, value: str) -> None:
    """Regression: ids above 2**31-1 failed on PostgreSQL ("integer out of range"), and
    "²" (a digit to ``str.isdigit``, not to ``int``) failed everywhere."""
    key = target.prober.key
    _refused(target, "Incorrect service ID", **_form(_add(target, key=key, service=value)))
    _refused(
        target, "Incorrect order ID", **_form({"key": key, "action": "status", "order": value})
    )
    _refused(
        target, "Incorrect order ID", **_form({"key": key, "action": "refill", "order": value})
    )
    _refused(
        target,
        "Refill not found",
        **_form({"key": key, "action": "refill_status", "refill": value}),
    )
    before = target.snapshot()
    answer = check_answer(target.send(**_form({"key": key, "action": "cancel", "orders": value})))
    assert [item["cancel"] for item in answer] == [{"error": "Incorrect order ID"}]
    wrote_nothing(target, before, value)


@pytest.mark.parametrize("value", ["١٠٠", "𝟏𝟎𝟎", "١٠٠٠", "߁߀߀"])
def test_quantities_in_other_scripts_are_refused(target: Target, value: str) -> None:
    """Regression: Python's ``\\d`` matched Arabic-Indic and other digits, so ``"١٠٠"``
    placed (and charged) an order of 100."""
    _refused(target, "Incorrect quantity", **_form(_add(target, quantity=value)))
    _refused(
        target,
        "Incorrect runs: a whole number from 1 to 1000",
        **_form(_add(target, quantity="100", runs=value, interval="5")),
    )
