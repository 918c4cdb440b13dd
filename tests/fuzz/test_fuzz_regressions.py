"""Crashes the fuzzers found, kept as tests over HTTP.

1. More than 200 parameters in a query string or form body: ``parse_qsl``'s field limit raised
   ``ValueError``, answered as an internal error with a traceback in the log (found by
   test_parser_properties.py; fixed in ``opensmm.api.params.parse_query``).
"""

from __future__ import annotations

from tests.support.panel import Panel


def test_too_many_parameters_is_an_incorrect_request_not_an_internal_error(panel: Panel) -> None:
    customer = panel.customer()
    crowd = "&".join(f"p{number}=1" for number in range(300))
    query = panel.http.get(f"{panel.api_url}?key={customer.key}&action=balance&{crowd}")
    assert query.json() == {"error": "Incorrect request"}
    form = panel.http.post(
        panel.api_url,
        content=f"key={customer.key}&action=balance&{crowd}",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert form.json() == {"error": "Incorrect request"}
    assert "API request failed" not in panel.server_log()
