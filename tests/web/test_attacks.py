"""Regression tests for what an attack campaign on the pages found (issue 12): log-in
limits beaten by parallel requests or by typing the email instead of the name, page inputs
that answered 500, sign-up races and floods, HSTS. Against a running panel on both
databases that trusts 127.0.0.1 as a proxy, so that each test speaks from its own
addresses (``X-Forwarded-For``) and the per-address limits of one test leave the others
alone."""

from __future__ import annotations

import itertools
import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import pytest

from opensmm.db import utcnow
from opensmm.web.models import LoginAttempt
from tests.support.databases import KINDS
from tests.support.panel import Panel, running_panel
from tests.web.support import PASSWORD, WebClient, make_person

T = TypeVar("T")
_addresses = itertools.count(1)


@pytest.fixture(scope="module", params=KINDS)
def panel(request: pytest.FixtureRequest, database_servers: dict) -> Iterator[Panel]:
    with running_panel(
        database_servers, request.param, env={"OPENSMM_TRUSTED_PROXIES": "127.0.0.1"}
    ) as started:
        yield started


def new_address() -> str:
    n = next(_addresses)
    return f"10.{uuid.uuid4().int % 200}.{n // 250}.{n % 250 + 1}"


def client(panel: Panel, address: str | None = None) -> WebClient:
    return WebClient(panel.url, **{"X-Forwarded-For": address or new_address()})


def all_at_once(tasks: list[Callable[[], T]]) -> list[T]:
    """Run every task in its own thread, released together."""
    start = threading.Barrier(len(tasks))

    def run(task: Callable[[], T]) -> T:
        start.wait()
        return task()

    with ThreadPoolExecutor(len(tasks)) as pool:
        return list(pool.map(run, tasks))


def guess(visitor: WebClient, login: str, password: str) -> Callable[[], int]:
    token = visitor.token()  # fetched beforehand: only the guesses run at once

    def post() -> int:
        return visitor.post("/login", {"login": login, "password": password, "csrf": token}
                            ).status_code

    return post


# --- 1. the log-in limit holds under parallel guesses ---------------------------------------
def test_parallel_guesses_on_one_account_get_no_more_checks_than_the_limit(
    panel: Panel,
) -> None:
    target = make_person(panel)
    visitors = [client(panel) for _ in range(30)]  # 30 addresses: only the account's limit
    try:
        answers = all_at_once([guess(v, target.name, "not the password") for v in visitors])
    finally:
        for visitor in visitors:
            visitor.close()
    assert set(answers) <= {400, 429}, answers
    assert answers.count(400) == 5, answers  # checked against the password: the limit, no more
    right = client(panel)
    try:
        blocked = right.post("/login", {"login": target.name, "password": PASSWORD})
        assert blocked.status_code == 429
    finally:
        right.close()


def test_parallel_guesses_from_one_address_get_no_more_checks_than_its_limit(
    panel: Panel,
) -> None:
    address = new_address()
    # 25 of the address's 30 failures already spent (recorded as the log-in records them:
    # a password check costs a second of CPU, and the race is what is tested here).
    with panel.write() as session:
        session.add_all(
            LoginAttempt(name=f"ghost-{n}", ip=address, succeeded=False, created_at=utcnow())
            for n in range(25)
        )
    visitors = [client(panel, address) for _ in range(15)]
    try:
        # Different unknown names: only the address's limit applies.
        answers = all_at_once(
            [guess(v, f"ghost-{uuid.uuid4().hex[:8]}", "whatever") for v in visitors]
        )
    finally:
        for visitor in visitors:
            visitor.close()
    assert set(answers) <= {400, 429}, answers
    assert answers.count(400) == 5, answers


# --- 2. the per-name limit counts the account, whatever was typed ------------------------------
def test_failures_on_the_name_block_the_email_too(panel: Panel) -> None:
    target = make_person(panel)
    attacker = client(panel)
    try:
        email = f"{target.name}@example.test"
        for typed in [target.name, email, f"  {email.upper()}", target.name, email]:
            assert attacker.post("/login", {"login": typed, "password": "nope"}
                                 ).status_code == 400
        for typed in (f"{target.name}@EXAMPLE.test", target.name):
            answer = attacker.post("/login", {"login": typed, "password": PASSWORD})
            assert answer.status_code == 429, typed
            assert "opensmm_session" not in answer.cookies
    finally:
        attacker.close()
    # Another account is unharmed.
    other = make_person(panel)
    fresh = client(panel)
    try:
        assert fresh.post("/login", {"login": f"{other.name}@example.test",
                                     "password": PASSWORD}).status_code == 303
    finally:
        fresh.close()


def test_failures_on_the_email_block_the_name(panel: Panel) -> None:
    target = make_person(panel)
    attacker = client(panel)
    try:
        for _ in range(5):
            wrong = attacker.post("/login", {"login": f"{target.name}@example.test",
                                             "password": "nope"})
            assert wrong.status_code == 400
        answer = attacker.post("/login", {"login": target.name, "password": PASSWORD})
        assert answer.status_code == 429
    finally:
        attacker.close()


def test_probing_an_unknown_name_is_limited_too(panel: Panel) -> None:
    attacker = client(panel)
    ghost = f"Ghost-{uuid.uuid4().hex[:8]}"
    try:
        for typed in [ghost, ghost.lower(), f"  {ghost.upper()} ", ghost, ghost]:
            assert attacker.post("/login", {"login": typed, "password": "x"}).status_code == 400
        assert attacker.post("/login", {"login": ghost, "password": "x"}).status_code == 429
    finally:
        attacker.close()


def test_a_success_forgives_the_earlier_failures(panel: Panel) -> None:
    person = make_person(panel)
    visitor = client(panel)
    try:
        for _ in range(4):
            assert visitor.post("/login", {"login": person.name, "password": "no"}
                                ).status_code == 400
        visitor.login(person)
        visitor.post("/logout")
        for _ in range(4):
            assert visitor.post("/login", {"login": person.name, "password": "no"}
                                ).status_code == 400
        visitor.login(person)
    finally:
        visitor.close()


