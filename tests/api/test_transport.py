"""Spec §1: every way real clients send a request, as raw requests on the wire."""

from __future__ import annotations

import gzip
import json
import re
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import pytest

from tests.api.helpers import (
    JSON_TYPE,
    LINK,
    answer,
    connect,
    form,
    get,
    http_request,
    multipart,
    nothing_written,
    order_row,
    place,
    post,
    post_json,
    raw_request,
    read_response,
)
from tests.support.panel import Customer, Panel

MSIE = "Mozilla/4.0 (compatible; MSIE 5.01; Windows NT 5.0)"


@pytest.fixture
def customer(panel: Panel) -> Customer:
    return panel.customer(balance="100")


@pytest.fixture
def comments_service(panel: Panel) -> int:
    return panel.service(type="Custom Comments", rate="1", min_quantity=1, max_quantity=100)


def test_get_query_string(panel: Panel, customer: Customer) -> None:
    assert get(panel, f"key={customer.key}&action=balance") == {
        "balance": "100.00",
        "currency": "USD",
    }
    service = panel.service()
    placed = get(
        panel, f"key={customer.key}&action=add&service={service}&link={quote(LINK)}&quantity=100"
    )
    assert (
        get(panel, f"key={customer.key}&action=status&order={placed['order']}")["remains"] == "100"
    )


@pytest.mark.parametrize("space", ["+", "%20"])
def test_form_urlencoded_spaces(
    panel: Panel, customer: Customer, comments_service: int, space: str
) -> None:
    body = (
        f"key={customer.key}&action=add&service={comments_service}&link={quote(LINK, safe='')}"
        f"&comments=great{space}post%0Anice{space}one%21%0A%D9%85%D8%B1%D8%AD%D8%A8%D8%A7"
    )
    placed = form(panel, body)
    order = order_row(panel, placed["order"])
    assert order.fields["comments"] == "great post\nnice one!\nمرحبا"
    assert order.link == LINK
    assert order.units == 3


def test_form_with_charset_in_the_content_type(panel: Panel, customer: Customer) -> None:
    body = f"key={customer.key}&action=balance"
    assert post(panel, body, "application/x-www-form-urlencoded; charset=UTF-8")["balance"] == (
        "100.00"
    )


def test_multipart(panel: Panel, customer: Customer, comments_service: int) -> None:
    body, content_type = multipart(
        [
            ("key", customer.key),
            ("action", "add"),
            ("service", str(comments_service)),
            ("link", LINK),
            ("comments", "first one\r\nsecond one\r\nمرحبا"),
        ]
    )
    placed = post(panel, body, content_type)
    order = order_row(panel, placed["order"])
    assert order.fields["comments"].splitlines() == ["first one", "second one", "مرحبا"]
    assert order.units == 3


def test_multipart_php_arrays(panel: Panel, customer: Customer) -> None:
    service = panel.service()
    orders = [place(panel, customer, service, quantity=10) for _ in range(2)]
    body, content_type = multipart(
        [("key", customer.key), ("action", "status")] + [("orders[]", str(o)) for o in orders]
    )
    assert list(post(panel, body, content_type)) == [str(o) for o in orders]


def test_json_with_numeric_values(panel: Panel, customer: Customer) -> None:
    service = panel.service(rate="0.5", dripfeed=True)
    placed = post_json(
        panel,
        {
            "key": customer.key,
            "action": "add",
            "service": service,
            "link": LINK,
            "quantity": 100,
            "runs": 2,
            "interval": 30.0,
        },
    )
    order = order_row(panel, placed["order"])
    assert (order.quantity, order.runs, order.interval, order.units) == (100, 2, 30, 200)
    assert order.charge == Decimal("0.1")
    status = post_json(panel, {"key": customer.key, "action": "status", "order": placed["order"]})
    assert status["remains"] == "200"
    many = post_json(panel, {"key": customer.key, "action": "status", "orders": [placed["order"]]})
    assert list(many) == [str(placed["order"])]


def test_json_without_a_content_type(panel: Panel, customer: Customer) -> None:
    body = json.dumps({"key": customer.key, "action": "balance"})
    assert post(panel, body, None)["balance"] == "100.00"


def test_query_and_body_are_merged_and_the_body_wins(panel: Panel, customer: Customer) -> None:
    url = f"{panel.api_url}?key={customer.key}&action=services"
    assert form(panel, "action=balance", url=url)["balance"] == "100.00"
    assert post_json(panel, {"action": "balance"}, url=url)["balance"] == "100.00"
    body, content_type = multipart([("action", "balance")])
    assert post(panel, body, content_type, url=url)["balance"] == "100.00"


@pytest.mark.parametrize(
    "encode",
    [
        lambda ids: "&".join(f"orders%5B{i}%5D={o}" for i, o in enumerate(ids)),
        lambda ids: "&".join(f"orders[{i}]={o}" for i, o in enumerate(ids)),
        lambda ids: "&".join(f"orders[]={o}" for o in ids),
        lambda ids: "&".join(f"orders%5B%5D={o}" for o in ids),
        lambda ids: "orders=" + "%2C".join(str(o) for o in ids),
    ],
    ids=["indexed-escaped", "indexed", "empty-brackets", "empty-brackets-escaped", "comma"],
)
def test_php_array_keys_for_orders(panel: Panel, customer: Customer, encode: Any) -> None:
    service = panel.service(cancel=True)
    ids = [place(panel, customer, service, quantity=10) for _ in range(3)]
    base = f"key={customer.key}&"
    assert list(form(panel, base + "action=status&" + encode(ids))) == [str(i) for i in ids]
    assert list(get(panel, base + "action=status&" + encode(ids))) == [str(i) for i in ids]
    cancelled = form(panel, base + "action=cancel&" + encode(ids[:2]))
    assert cancelled == [{"order": ids[0], "cancel": 1}, {"order": ids[1], "cancel": 1}]


def test_php_array_keys_for_refills(panel: Panel, customer: Customer) -> None:
    service = panel.service(refill=True)
    orders = [place(panel, customer, service, quantity=10) for _ in range(2)]
    for order in orders:
        panel.set_order(order, status="Completed")
    body = f"key={customer.key}&action=refill&orders[0]={orders[0]}&orders[1]={orders[1]}"
    refills = [item["refill"] for item in form(panel, body)]
    statuses = form(
        panel,
        f"key={customer.key}&action=refill_status&refills[0]={refills[0]}&refills[1]={refills[1]}",
    )
    assert statuses == [{"refill": r, "status": "Pending"} for r in refills]


@pytest.mark.parametrize("path", ["/api/v2", "/api/v2/"])
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_both_paths_answer_without_redirect(
    panel: Panel, customer: Customer, path: str, method: str
) -> None:
    params = {"key": customer.key, "action": "balance"}
    if method == "GET":
        response = panel.http.get(panel.url + path, params=params, follow_redirects=False)
    else:
        response = panel.http.post(panel.url + path, data=params, follow_redirects=False)
    assert answer(response)["balance"] == "100.00"
    assert "location" not in response.headers


def test_errors_are_http_200_json_exactly(panel: Panel) -> None:
    for response in (
        panel.http.post(panel.api_url, data={"key": "nope", "action": "balance"}),
        panel.http.get(panel.api_url),
        panel.http.post(
            panel.api_url + "/", content=b"{not json", headers={"Content-Type": JSON_TYPE}
        ),
    ):
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/json"
        assert set(response.json()) == {"error"}


def test_parameter_order_and_unknown_parameters_do_not_matter(
    panel: Panel, customer: Customer
) -> None:
    service = panel.service()
    order = place(panel, customer, service, quantity=50)
    expected = panel.api(customer.key, "status", order=order)
    for body in (
        f"order={order}&action=status&key={customer.key}",
        f"action=status&foo=bar&key={customer.key}&order={order}&currency=EUR&_=123&api_token=x",
        f"key={customer.key}&order={order}&action=status&orders_hint=&action2=balance",
    ):
        assert form(panel, body) == expected


def test_id_lists_are_split_trimmed_deduplicated_in_order(panel: Panel, customer: Customer) -> None:
    service = panel.service()
    a, b = (place(panel, customer, service, quantity=10) for _ in range(2))
    messy = f" {b} ,,{a}, {b},{a} ,, "
    assert list(form(panel, f"key={customer.key}&action=status&orders={quote(messy)}")) == [
        str(b),
        str(a),
    ]
    # the same rules across PHP array items
    body = f"key={customer.key}&action=status&orders[]={b},{a}&orders[]=%20{a}&orders[]="
    assert list(form(panel, body)) == [str(b), str(a)]


def test_at_most_100_ids(panel: Panel, customer: Customer) -> None:
    service = panel.service()
    order = place(panel, customer, service, quantity=10)
    hundred = [str(order)] + [str(900_000_000 + i) for i in range(99)]
    answer_100 = form(panel, f"key={customer.key}&action=status&orders={','.join(hundred)}")
    assert len(answer_100) == 100
    # duplicates do not count toward the limit
    assert (
        len(form(panel, f"key={customer.key}&action=status&orders={','.join(hundred * 2)}")) == 100
    )
    too_many = ",".join([*hundred, "900000100"])
    with nothing_written(panel, customer):
        for action, name in (
            ("status", "orders"),
            ("refill", "orders"),
            ("cancel", "orders"),
            ("cancel", "order"),
            ("refill_status", "refills"),
        ):
            refused = form(panel, f"key={customer.key}&action={action}&{name}={too_many}")
            assert refused == {"error": "Too many ids: at most 100 per request"}


def test_api_keys_are_url_safe(panel: Panel) -> None:
    keys = [panel.customer().key for _ in range(5)]
    for key in keys:
        assert re.fullmatch(r"[A-Za-z0-9]{32,128}", key)
        # pasted unescaped into a query string, it still works
        assert get(panel, f"key={key}&action=balance")["currency"] == "USD"


@pytest.mark.parametrize(
    "agent", [MSIE, "", "curl/8.5.0", "python-requests/2.31", "Go-http-client/1.1"]
)
def test_any_user_agent(panel: Panel, customer: Customer, agent: str) -> None:
    response = panel.http.post(
        panel.api_url,
        data={"key": customer.key, "action": "balance"},
        headers={"User-Agent": agent},
    )
    assert answer(response)["balance"] == "100.00"


def test_php_example_request_on_the_wire(panel: Panel, customer: Customer) -> None:
    """What the PHP ``class Api`` example sends: curl, MSIE agent, a form body, no Accept."""
    body = f"key={customer.key}&action=balance".encode()
    request = http_request(
        panel,
        "POST",
        "/api/v2",
        [
            ("User-Agent", MSIE),
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Content-Length", str(len(body))),
        ],
        body,
    )
    response = raw_request(panel, request)
    assert response.json() == {"balance": "100.00", "currency": "USD"}
    assert "content-encoding" not in response.headers


def _big_catalog(panel: Panel) -> None:
    for i in range(12):
        panel.service(name=f"Bulk service {i}", description="A long description. " * 10)


def test_gzip_only_when_accept_encoding_asks(panel: Panel, customer: Customer) -> None:
    _big_catalog(panel)
    body = f"key={customer.key}&action=services".encode()
    base = [
        ("Content-Type", "application/x-www-form-urlencoded"),
        ("Content-Length", str(len(body))),
    ]
    plain = raw_request(panel, http_request(panel, "POST", "/api/v2", base, body))
    assert "content-encoding" not in plain.headers
    listed = plain.json()
    assert len(plain.body) > 1024
    identity = raw_request(
        panel,
        http_request(panel, "POST", "/api/v2", [*base, ("Accept-Encoding", "identity")], body),
    )
    assert "content-encoding" not in identity.headers
    assert identity.json() == listed
    for refuses in ("gzip;q=0", "identity, gzip;q=0", "deflate"):
        plain_again = raw_request(
            panel,
            http_request(panel, "POST", "/api/v2", [*base, ("Accept-Encoding", refuses)], body),
        )
        assert "content-encoding" not in plain_again.headers, refuses
        assert plain_again.json() == listed
    zipped = raw_request(
        panel,
        http_request(panel, "POST", "/api/v2", [*base, ("Accept-Encoding", "gzip, deflate")], body),
    )
    assert zipped.headers["content-encoding"] == "gzip"
    assert zipped.headers["content-type"] == JSON_TYPE
    assert json.loads(gzip.decompress(zipped.body)) == listed


def test_expect_100_continue_for_a_body_over_1_kib(panel: Panel, customer: Customer) -> None:
    service = panel.service(type="Custom Comments", rate="1", min_quantity=1, max_quantity=1000)
    comments = "\n".join(f"comment number {i} is a fine comment" for i in range(60))
    body = (
        f"key={customer.key}&action=add&service={service}&link={quote(LINK, safe='')}"
        f"&comments={quote(comments)}"
    ).encode()
    assert len(body) > 1024
    head = http_request(
        panel,
        "POST",
        "/api/v2",
        [
            ("User-Agent", MSIE),
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Content-Length", str(len(body))),
            ("Expect", "100-continue"),
        ],
    )
    with connect(panel) as sock:
        sock.sendall(head)
        # like libcurl: wait for the go-ahead before sending the body
        buffer = bytearray()
        while b"\r\n\r\n" not in buffer:
            chunk = sock.recv(4096)
            assert chunk, "the server closed the connection instead of answering 100 Continue"
            buffer.extend(chunk)
        assert bytes(buffer).startswith(b"HTTP/1.1 100 ")
        buffer[:] = bytes(buffer).partition(b"\r\n\r\n")[2]
        sock.sendall(body)
        response = read_response(sock, buffer)
    placed = response.json()
    assert order_row(panel, placed["order"]).units == 60


def test_chunked_request_body(panel: Panel, customer: Customer) -> None:
    body = f"key={customer.key}&action=balance".encode()
    chunked = (
        b"".join(
            [f"{len(part):x}\r\n".encode() + part + b"\r\n" for part in (body[:10], body[10:])]
        )
        + b"0\r\n\r\n"
    )
    request = http_request(
        panel,
        "POST",
        "/api/v2",
        [("Content-Type", "application/x-www-form-urlencoded"), ("Transfer-Encoding", "chunked")],
        chunked,
    )
    assert raw_request(panel, request).json()["balance"] == "100.00"


def test_http_1_0_request(panel: Panel, customer: Customer) -> None:
    body = f"key={customer.key}&action=balance".encode()
    request = http_request(
        panel,
        "POST",
        "/api/v2",
        [("Content-Type", "application/x-www-form-urlencoded"), ("Content-Length", str(len(body)))],
        body,
        version="HTTP/1.0",
    )
    assert raw_request(panel, request).json()["balance"] == "100.00"


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE", "OPTIONS"])
def test_other_methods_are_read_like_post(panel: Panel, customer: Customer, method: str) -> None:
    """Spec §1 merges the query and the body whatever the method: a PUT with a form body is
    answered as the same POST (HTTP 200, JSON), never refused for its method nor a 500."""
    response = panel.http.request(
        method,
        panel.api_url,
        content=f"key={customer.key}&action=balance".encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert answer(response) == {"balance": "100.00", "currency": "USD"}
    bare = panel.http.request(method, panel.api_url)
    assert answer(bare) == {"error": "Invalid API key"}


def test_head_never_500(panel: Panel, customer: Customer) -> None:
    response = panel.http.head(panel.api_url, params={"key": customer.key, "action": "balance"})
    assert response.status_code == 200
    assert response.headers["content-type"] == JSON_TYPE


def test_empty_bodies(panel: Panel, customer: Customer) -> None:
    assert form(panel, "") == {"error": "Invalid API key"}
    assert post(panel, b"", JSON_TYPE) == {"error": "Invalid API key"}
    assert post(panel, b"", None) == {"error": "Invalid API key"}
    url = f"{panel.api_url}?key={customer.key}"
    assert post(panel, b"", JSON_TYPE, url=url) == {"error": "Incorrect request"}


BAD = "Incorrect request"
NO_KEY = "Invalid API key"


@pytest.mark.parametrize(
    ("content_type", "body", "message"),
    [
        (JSON_TYPE, b"key=KEY&action=balance", BAD),
        (JSON_TYPE, b"[1, 2, 3]", BAD),
        (JSON_TYPE, b'"just a string"', BAD),
        (JSON_TYPE, b'{"key": "KEY", "action": {"nested": true}}', BAD),
        (JSON_TYPE, b'{"key": "KEY", "action": "balance", "orders": [[1]]}', BAD),
        (JSON_TYPE, b'{"key": "KEY", "action": "balance"', BAD),
        (JSON_TYPE, b"\xff\xfe\x00garbage", BAD),
        ("multipart/form-data; boundary=abc", b"not multipart at all", BAD),
        ("multipart/form-data", b"--abc\r\n", BAD),
        # read as a form: no key in it
        ("application/xml", b"<key>KEY</key>", NO_KEY),
        ("application/x-www-form-urlencoded", b"\xff\xfe%%%=&&==", NO_KEY),
        ("application/x-www-form-urlencoded", b"key=KEY&action=%ZZ%", BAD),
    ],
)
def test_malformed_and_mistyped_bodies_give_a_json_error_never_500(
    panel: Panel, customer: Customer, content_type: str, body: bytes, message: str
) -> None:
    with nothing_written(panel, customer):
        result = post(panel, body.replace(b"KEY", customer.key.encode()), content_type)
    assert result == {"error": message}


def test_json_nulls_floats_and_booleans_are_plain_values(panel: Panel, customer: Customer) -> None:
    body = {"key": customer.key, "action": "balance", "x": None, "y": 1.5, "z": True}
    assert post_json(panel, body)["balance"] == "100.00"


def test_form_body_sent_as_text_plain_is_read_as_a_form(panel: Panel, customer: Customer) -> None:
    assert post(panel, f"key={customer.key}&action=balance", "text/plain")["balance"] == "100.00"


def test_invalid_json_is_an_incorrect_request(panel: Panel, customer: Customer) -> None:
    assert post(panel, b'{"key": ', JSON_TYPE) == {"error": "Incorrect request"}
    assert post_json(panel, [customer.key, "balance"]) == {"error": "Incorrect request"}


def test_more_than_200_parameters_is_an_incorrect_request(panel: Panel, customer: Customer) -> None:
    padding = "&".join(f"p{i}=x" for i in range(200))
    with nothing_written(panel, customer):
        assert form(panel, f"key={customer.key}&action=balance&{padding}") == {
            "error": "Incorrect request"
        }
        assert get(panel, f"key={customer.key}&action=balance&{padding}") == {
            "error": "Incorrect request"
        }
    fits = "&".join(f"p{i}=x" for i in range(190))
    assert form(panel, f"key={customer.key}&action=balance&{fits}")["balance"] == "100.00"


def test_body_over_one_mib_is_refused_cleanly(panel: Panel, customer: Customer) -> None:
    body = f"key={customer.key}&action=balance&pad=".encode() + b"x" * (1_048_576 + 10)
    with nothing_written(panel, customer):
        assert form(panel, body) == {"error": "Request too large: at most 1 MiB"}
