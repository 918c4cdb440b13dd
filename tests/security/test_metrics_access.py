"""/metrics: what it reports, and who may read it."""

from __future__ import annotations

import re

import pytest

from tests.security.support import panel_with
from tests.support.databases import KINDS


def _sample(text: str, name: str, **labels: str) -> float:
    wanted = ",".join(f'{key}="{value}"' for key, value in labels.items())
    pattern = re.escape(f"{name}{{{wanted}}}" if labels else name) + r" ([0-9.e+-]+)$"
    match = re.search(pattern, text, re.MULTILINE)
    assert match, f"{name} {labels} not in:\n{text[:3000]}"
    return float(match.group(1))


@pytest.mark.parametrize("kind", KINDS)
def test_metrics_count_requests_by_outcome_and_orders_by_status(
    kind: str, database_servers: dict
) -> None:
    with panel_with(kind, database_servers) as panel:
        customer = panel.customer(balance="1")
        service = panel.service(rate="1")
        first = panel.api(
            customer.key, "add", service=service, link="https://x.test/1", quantity=100
        )["order"]
        panel.api(customer.key, "add", service=service, link="https://x.test/2", quantity=100)
        panel.set_order(first, status="Completed")
        panel.api(
            customer.key, "add", service=service, link="https://x.test/3", quantity=10_000
        )  # not enough funds
        panel.api("X" * 40, "balance")
        panel.api(customer.key, "status", order=999_999)
        text = panel.http.get(f"{panel.url}/metrics").text
    assert _sample(text, "opensmm_api_requests_total", action="add", outcome="ok") == 2
    assert _sample(text, "opensmm_api_requests_total", action="add", outcome="refused") == 1
    assert _sample(text, "opensmm_api_requests_total", action="balance", outcome="invalid_key") == 1
    assert _sample(text, "opensmm_api_requests_total", action="status", outcome="refused") == 1
    assert _sample(text, "opensmm_api_request_duration_seconds_count", action="add") == 3
    assert _sample(text, "opensmm_orders", status="Completed") == 1
    assert _sample(text, "opensmm_orders", status="Pending") == 1
    assert _sample(text, "opensmm_orders_held") == 0
    assert _sample(text, "opensmm_database_up") == 1


@pytest.mark.parametrize("kind", KINDS)
def test_without_a_token_metrics_are_for_localhost_only(kind: str, database_servers: dict) -> None:
    with panel_with(kind, database_servers) as panel:
        local = panel.http.get(f"{panel.url}/metrics")
        assert local.status_code == 200
        assert local.headers["content-type"].startswith("text/plain; version=")
        # Relayed by a proxy on this machine: it looks local but is not.
        proxied = panel.http.get(f"{panel.url}/metrics", headers={"X-Forwarded-For": "1.2.3.4"})
        assert proxied.status_code == 403
        assert "OPENSMM_METRICS_TOKEN" in proxied.text
        assert "opensmm_" not in proxied.text


@pytest.mark.parametrize("kind", KINDS)
def test_with_a_token_metrics_need_it(kind: str, database_servers: dict) -> None:
    token = "s3cret-metrics-token"
    with panel_with(kind, database_servers, OPENSMM_METRICS_TOKEN=token) as panel:
        url = f"{panel.url}/metrics"
        assert panel.http.get(url).status_code == 401
        assert panel.http.get(url, headers={"Authorization": "Bearer wrong"}).status_code == 401
        good = panel.http.get(url, headers={"Authorization": f"Bearer {token}"})
        assert good.status_code == 200 and "opensmm_database_up 1.0" in good.text


@pytest.mark.parametrize("kind", KINDS)
def test_metrics_can_be_turned_off(kind: str, database_servers: dict) -> None:
    with panel_with(kind, database_servers, OPENSMM_METRICS="false") as panel:
        response = panel.http.get(f"{panel.url}/metrics")
        assert response.status_code == 404
        assert "opensmm_" not in response.text
