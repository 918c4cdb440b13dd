"""Schemathesis over the HTTP surface: requests generated from docs/openapi-api-v2.yaml are
sent to a real ``opensmm serve`` on each database; every answer must be HTTP 200, JSON,
of a documented shape (schema conformance), and never the generic internal error.

Half the requests carry a real customer's key, so that generation reaches the actions and not
only the key check. ``OPENSMM_FUZZ_EXAMPLES`` sets the examples per operation (CI: a few
dozen; by hand: thousands, see docs/reliability.md).
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from opensmm.api.endpoint import INTERNAL_ERROR
from tests.support.panel import Customer, Panel

DOC = Path(__file__).resolve().parents[2] / "docs" / "openapi-api-v2.yaml"
EXAMPLES = int(os.environ.get("OPENSMM_FUZZ_EXAMPLES", "60"))

schema = schemathesis.openapi.from_path(str(DOC))
_customers: dict[str, Customer] = {}
_turn = itertools.count()


def _customer(panel: Panel) -> Customer:
    """One customer per panel, with money, a service and a few orders to find."""
    if panel.kind not in _customers:
        customer = panel.customer(balance="1000")
        service = panel.service(rate="1", cancel=True, refill=True)
        for number in range(3):
            order = panel.api(
                customer.key, "add", service=service, link=f"https://s.test/{number}", quantity=50
            )
            if number == 0:
                panel.set_order(order["order"], status="Completed")
        _customers[panel.kind] = customer
    return _customers[panel.kind]


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_every_generated_request_gets_a_documented_answer(case, panel: Panel) -> None:  # type: ignore[no-untyped-def]
    customer = _customer(panel)
    if next(_turn) % 2 == 0:
        if case.method == "GET":
            case.query = {**(case.query or {}), "key": customer.key}
        elif isinstance(case.body, dict):
            case.body = {**case.body, "key": customer.key}
    response = case.call_and_validate(
        base_url=panel.url,
        checks=[
            not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_schema_conformance,
        ],
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == ["application/json"]  # exactly, one header
    answer = response.json()
    assert not (isinstance(answer, dict) and answer.get("error") == INTERNAL_ERROR), (
        f"internal error for {case.method} {case.query} {case.body}"
    )
