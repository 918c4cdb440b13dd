"""Helpers for the web tests: a cookie-keeping HTTP client that fills in CSRF tokens the
way a browser's forms do, and people with passwords (customers, staff)."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy import select

from opensmm.accounts import service as accounts
from opensmm.ledger import service as ledger
from opensmm.orders.models import Order
from tests.support.panel import Panel

CSRF = re.compile(r'name="csrf" value="([^"]+)"')
DEPOSIT_KEY = re.compile(r'name="idempotency_key" value="([^"]+)"')
PASSWORD = "correct horse battery"


@dataclass
class Person:
    id: int
    name: str
    password: str = PASSWORD


def make_person(
    panel: Panel, *, staff: bool = False, balance: Decimal | str | int = 0, name: str = ""
) -> Person:
    name = name or f"{'s' if staff else 'c'}{uuid.uuid4().hex[:10]}"
    with panel.write() as session:
        user = accounts.create_user(
            session, name, email=f"{name}@example.test", password=PASSWORD, is_admin=staff
        )
        if Decimal(balance):
            ledger.add_funds(session, user.id, Decimal(balance), memo="test", actor="test")
        return Person(user.id, name)


def order_through_the_form(
    panel: Panel, shop: WebClient, customer: Person, service: int, links: list[str]
) -> list[int]:
    """The signed-in customer orders 1000 of ``service`` per link on New order, as a person
    would; the ids of every order of theirs, oldest first."""
    for link in links:
        placed = shop.post("/order/new", {"service": service, "link": link,
                                          "quantity": "1000"})
        assert placed.status_code == 303, placed.text[:300]
    with panel.db.read() as session:
        return list(session.scalars(select(Order.id).where(Order.user_id == customer.id)
                                    .order_by(Order.id)))


def csrf_of(html: str) -> str:
    match = CSRF.search(html)
    assert match, "no CSRF token on the page"
    return match.group(1)


def deposit_key_of(html: str) -> str:
    """The one-time token of the staff funds form on a user's page."""
    match = DEPOSIT_KEY.search(html)
    assert match, "no idempotency key on the page"
    return match.group(1)


class WebClient:
    """One visitor: its own cookies, like one browser."""

    def __init__(self, base_url: str, **headers: str) -> None:
        self.http = httpx.Client(base_url=base_url, follow_redirects=False, timeout=30,
                                 headers=headers)

    def close(self) -> None:
        self.http.close()

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.http.get(path, **kwargs)

    def token(self) -> str:
        """The CSRF token of this visitor, read off a page with a form."""
        logged_in = "opensmm_session" in self.http.cookies
        page = self.get("/account/password" if logged_in else "/login")
        assert page.status_code == 200, page.status_code
        return csrf_of(page.text)

    def post(self, path: str, data: dict[str, Any] | None = None, *, csrf: bool = True
             ) -> httpx.Response:
        fields = {k: str(v) for k, v in (data or {}).items()}
        if csrf and "csrf" not in fields:
            fields["csrf"] = self.token()
        return self.http.post(path, data=fields)

    def deposit(self, user_id: int, amount: str, memo: str) -> httpx.Response:
        """Submit the staff funds form as rendered (with its one-time token)."""
        key = deposit_key_of(self.get(f"/admin/users/{user_id}").text)
        return self.post(f"/admin/users/{user_id}/funds",
                         {"amount": amount, "memo": memo, "idempotency_key": key})

    def login(self, person: Person) -> httpx.Response:
        answer = self.post("/login", {"login": person.name, "password": person.password})
        assert answer.status_code == 303, answer.text[:500]
        return answer

    def flash(self, response: httpx.Response) -> str:
        """The page a redirect leads to, whose flash message says what happened."""
        assert response.status_code == 303, response.status_code
        return self.get(response.headers["location"], follow_redirects=True).text
