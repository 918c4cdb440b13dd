"""Exchange rates fetched from the URL in the ``currency_rates_url`` setting.

The answer is JSON in either shape (the panel's currency as the base, rates as numbers):

- ``{"base": "USD", "rates": {"EUR": 0.92, "GBP": 0.79}}`` (this panel's documented shape,
  and that of openexchangerates.org and frankfurter.app);
- ``{"result": "success", "base_code": "USD", "rates": {...}}`` or ``"conversion_rates"``
  (open.er-api.com, exchangerate-api.com).

A wrong answer (not JSON, an error, another base, a listed currency's rate not a positive
number in bounds, more than ``MAX_BYTES``) changes nothing: all or nothing.
"""

from __future__ import annotations

import json
import logging
from decimal import Decimal
from typing import Any

import httpx

from opensmm.audit.actor import Actor
from opensmm.audit.models import DOOR_CLI
from opensmm.currencies import service as currencies
from opensmm.db import Database
from opensmm.errors import DomainError
from opensmm.panel_settings import service as panel_settings

log = logging.getLogger("opensmm.currencies")

MAX_BYTES = 1_000_000
TIMEOUT_SECONDS = 10.0
WORKER = Actor(name="worker", door=DOOR_CLI)


class RatesRefused(ValueError):
    """The rates could not be fetched or the answer is wrong (English, for logs and the
    command line: nothing was changed)."""


def parse_answer(body: bytes, base: str, wanted: set[str]) -> dict[str, Decimal]:
    """The rates of the ``wanted`` currencies in ``body`` (numbers read as exact decimals),
    checked against ``base``: one of them not a valid rate refuses the whole answer."""
    try:
        data: Any = json.loads(body, parse_float=Decimal, parse_int=Decimal)
    except (ValueError, RecursionError) as exc:
        raise RatesRefused("the answer is not JSON") from exc
    if not isinstance(data, dict):
        raise RatesRefused("the answer is not a JSON object")
    if "result" in data and data["result"] != "success":
        raise RatesRefused(f"the answer is an error: {str(data.get('error-type', ''))[:100]}")
    answered_base = data.get("base", data.get("base_code"))
    if not isinstance(answered_base, str) or answered_base.upper() != base.upper():
        raise RatesRefused(f"the base is not {base}: {str(answered_base)[:20]}")
    table = data.get("rates", data.get("conversion_rates"))
    if not isinstance(table, dict):
        raise RatesRefused("no rates in the answer")
    found: dict[str, Decimal] = {}
    for key, value in table.items():
        if not isinstance(key, str) or len(key) != 3 or not key.isascii():
            continue
        code = key.upper()
        if code not in wanted:
            continue
        try:
            found[code] = currencies.parse_rate(value, rounded=True)
        except DomainError as exc:
            raise RatesRefused(f"the rate of {code} is not valid: {str(value)[:40]}") from exc
    return found


def download(url: str, *, transport: httpx.BaseTransport | None = None) -> bytes:
    """The answer's body, at most ``MAX_BYTES`` (a 2xx status only)."""
    try:
        with httpx.Client(timeout=TIMEOUT_SECONDS, transport=transport,
                          follow_redirects=False) as client, client.stream("GET", url) as answer:
            if not 200 <= answer.status_code < 300:
                raise RatesRefused(f"HTTP {answer.status_code}")
            body = bytearray()
            for chunk in answer.iter_bytes():
                body += chunk
                if len(body) > MAX_BYTES:
                    raise RatesRefused(f"the answer is over {MAX_BYTES} bytes")
            return bytes(body)
    except httpx.HTTPError as exc:
        raise RatesRefused(f"cannot fetch: {type(exc).__name__}") from exc


def refresh(db: Database, base: str, actor: Actor = WORKER) -> dict[str, tuple[str, str]]:
    """Fetch from the configured URL (no transaction open meanwhile) and store the listed
    currencies' rates. Raises ``RatesRefused`` (nothing changed); {} when no URL is set."""
    with db.read() as session:
        url = str(panel_settings.get(session, "currency_rates_url"))
        wanted = {row.code for row in currencies.listing(session)}
    if not url or not wanted:
        return {}
    fetched = parse_answer(download(url), base, wanted)
    with db.write() as session:
        return currencies.apply_fetched(session, fetched, url, actor)


def refresh_logged(db: Database, base: str) -> int:
    """The worker's turn: how many rates changed; a failure is logged, nothing changes."""
    try:
        changed = refresh(db, base)
    except RatesRefused as exc:
        log.warning("exchange rates not updated: %s", exc)
        return 0
    if changed:
        log.info("exchange rates updated: %s", ", ".join(sorted(changed)))
    return len(changed)
