"""Validation of an ``add`` request against its service's type (spec §3).

Input arrives as text (the API's form fields, the web form, the CLI); the output is an
``OrderRequest`` with exact numbers, or a ``DomainError`` with a clear message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from opensmm.catalog.models import Service
from opensmm.catalog.types import ServiceType, Units, service_type
from opensmm.errors import DomainError
from opensmm.i18n import N_, Term

MAX_LINK_LENGTH = 2048
MAX_TEXT_LENGTH = 65_536
MAX_INT = 2_000_000_000
MAX_RUNS = 1000
MAX_INTERVAL_MINUTES = 60 * 24 * 30
MAX_POSTS = 10_000
SUBSCRIPTION_DELAYS = (0, 5, 10, 15, 20, 30, 40, 50, 60, 90, 120, 150, 180, 210, 240, 270, 300,
                       360, 420, 480, 540, 600)
# ASCII digits only: Python's \d also matches "١٠٠" or "߁", which no client means as a count.
_INTEGER = re.compile(r"^[0-9]{1,12}(\.0+)?$")
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class IncorrectLink(DomainError):
    message = N_("Incorrect link")


class IncorrectQuantity(DomainError):
    message = N_("Incorrect quantity")


@dataclass(frozen=True)
class OrderRequest:
    link: str
    quantity: int
    units: int
    runs: int | None = None
    interval: int | None = None
    fields: dict[str, Any] = field(default_factory=dict)


def parse_int(value: object, error: DomainError) -> int:
    """A whole number from text or JSON; anything else (negative, fractional) is ``error``."""
    if isinstance(value, bool):
        raise error
    if isinstance(value, int):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    elif isinstance(value, str) and _INTEGER.match(value.strip()):
        number = int(value.strip().split(".")[0])
    else:
        raise error
    if not 0 <= number <= MAX_INT:
        raise error
    return number


def validate_link(value: object) -> str:
    if not isinstance(value, str):
        raise IncorrectLink()
    link = value.strip()
    if not link or len(link) > MAX_LINK_LENGTH or _CONTROL.search(link) or " " in link:
        raise IncorrectLink()
    scheme = _SCHEME.match(link)
    if scheme and scheme.group(1).lower() not in ("http", "https") and "//" in link[:12]:
        raise IncorrectLink()
    if scheme and scheme.group(1).lower() in ("javascript", "data", "vbscript", "file"):
        raise IncorrectLink()
    return link


def _text(params: dict[str, object], name: str, label: str) -> str:
    value = params.get(name)
    if isinstance(value, list):
        value = "\n".join(str(v) for v in value)
    if not isinstance(value, str) or not value.strip():
        raise DomainError(N_('{label} required for this service'), label=Term(label))
    if len(value) > MAX_TEXT_LENGTH:
        raise DomainError(N_('{label} too long'), label=Term(label))
    if "\x00" in value:  # no database text holds it (PostgreSQL refuses it outright)
        raise DomainError(N_('{label} not allowed to contain NUL characters'), label=Term(label))
    return value.strip()


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.replace("\r\n", "\n").split("\n") if line.strip()]


def _check_total(units: int, what: str) -> int:
    """An order's units fit the database's columns: quantity × runs."""
    if units > MAX_INT:
        raise DomainError(
            N_('The order is too large: {what} must be at most {max}'),
            what=Term(what),
            max=MAX_INT,
        )
    return units


def _check_bounds(units: int, service: Service) -> None:
    if units < service.min_quantity:
        raise DomainError(N_('Quantity less than minimal {min}'), min=service.min_quantity)
    if units > service.max_quantity:
        raise DomainError(N_('Quantity more than maximal {max}'), max=service.max_quantity)


def _line_count(params: dict[str, object], name: str, label: str, service: Service) -> tuple[
    int, str
]:
    text = _text(params, name, label)
    count = len(_lines(text))
    given = params.get("quantity")
    # quantity=0 (or none) means "count the lines"; any other number must agree with them.
    if given not in (None, "", "0", 0):
        quantity = parse_int(given, IncorrectQuantity())
        if quantity not in (0, count):
            raise DomainError(N_('Quantity must equal the number of lines ({count})'), count=count)
    _check_bounds(count, service)
    return count, text


def _asks_dripfeed(params: dict[str, object]) -> bool:
    return params.get("runs") not in (None, "") or params.get("interval") not in (None, "")


def _dripfeed(params: dict[str, object], service: Service) -> tuple[int | None, int | None]:
    runs_raw, interval_raw = params.get("runs"), params.get("interval")
    if not _asks_dripfeed(params):
        return None, None
    if not service.dripfeed:
        raise DomainError(N_('Drip-feed is not available for this service'))
    runs = parse_int(runs_raw, DomainError(N_('Incorrect runs: a whole number from 1 to 1000')))
    if not 1 <= runs <= MAX_RUNS:
        raise DomainError(N_('Incorrect runs: a whole number from 1 to 1000'))
    interval = parse_int(
        interval_raw, DomainError(N_('Incorrect interval: whole minutes from 1 to 43200'))
    )
    if not 1 <= interval <= MAX_INTERVAL_MINUTES:
        raise DomainError(N_('Incorrect interval: whole minutes from 1 to 43200'))
    return runs, interval


def _subscription(params: dict[str, object], service: Service) -> OrderRequest:
    username = _text(params, "username", N_("A username is"))
    low = parse_int(params.get("min"), DomainError(N_('Incorrect min')))
    high = parse_int(params.get("max"), DomainError(N_('Incorrect max')))
    if low > high:
        raise DomainError(N_('Incorrect min: it must not be more than max'))
    _check_bounds(low, service)
    _check_bounds(high, service)
    # No posts (or 0): new posts until the expiry or a cancel. Nothing is charged up front.
    posts = 0
    if params.get("posts") not in (None, ""):
        posts = parse_int(params.get("posts"), DomainError(N_('Incorrect posts')))
        if posts > MAX_POSTS:
            raise DomainError(N_('Incorrect posts: a whole number from 0 to 10000'))
    old_posts = 0
    if params.get("old_posts") not in (None, ""):
        old_posts = parse_int(params.get("old_posts"), DomainError(N_('Incorrect old_posts')))
        if old_posts > MAX_POSTS:
            raise DomainError(N_('Incorrect old_posts: a whole number from 0 to 10000'))
    delay = parse_int(params.get("delay"), DomainError(N_('Incorrect delay')))
    if delay not in SUBSCRIPTION_DELAYS:
        allowed = ", ".join(str(d) for d in SUBSCRIPTION_DELAYS)
        raise DomainError(N_('Incorrect delay: one of {allowed} minutes'), allowed=allowed)
    expiry = params.get("expiry")
    fields: dict[str, Any] = {
        "username": username,
        "min": low,
        "max": high,
        "posts": posts,
        "old_posts": old_posts,
        "delay": delay,
    }
    if expiry not in (None, ""):
        try:
            when = datetime.strptime(str(expiry).strip(), "%d/%m/%Y").replace(tzinfo=UTC)
        except ValueError:
            raise DomainError(N_('Incorrect expiry: a date as d/m/Y')) from None
        # The subscription runs through the expiry date: a date before today has passed.
        if when.date() < datetime.now(UTC).date():
            raise DomainError(N_('Incorrect expiry: the date has passed'))
        fields["expiry"] = when.strftime("%d/%m/%Y")
    link = params.get("link")
    return OrderRequest(
        link=validate_link(link) if link not in (None, "") else "",
        quantity=high,
        # What the subscription itself is charged for: nothing. Each post is an order of its
        # own, charged when it is made (opensmm.subscriptions); ``units`` counts the posts.
        units=posts,
        fields=fields,
    )


EXTRA_LABELS = {
    "usernames": N_("Usernames are"),
    "hashtags": N_("Hashtags are"),
    "hashtag": N_("A hashtag is"),
    "username": N_("A username is"),
    "media": N_("A media link is"),
    "groups": N_("Groups are"),
    "comments": N_("Comments are"),
}


def validate_order(service: Service, params: dict[str, object]) -> OrderRequest:
    """Check ``params`` against ``service``'s type; the units it will be charged for."""
    kind: ServiceType = service_type(service.type)
    if kind.units is Units.SUBSCRIPTION:
        return _subscription(params, service)
    link = validate_link(params.get("link"))
    fields: dict[str, Any] = {}
    for name in kind.required:
        if name == "answer_number":
            fields[name] = parse_int(params.get(name), DomainError(N_('Incorrect answer number')))
            if fields[name] < 1:
                raise DomainError(N_('Incorrect answer number'))
        else:
            fields[name] = _text(params, name, EXTRA_LABELS[name])
    runs = interval = None
    if kind.units is not Units.QUANTITY and _asks_dripfeed(params):
        # Runs multiply a quantity; a package or a list of lines has none to repeat.
        raise DomainError(N_('Drip-feed is not available for this service'))
    if kind.units is Units.FLAT:
        quantity = units = 1
    elif kind.units is Units.COMMENT_LINES:
        quantity, fields["comments"] = _line_count(params, "comments", N_("Comments are"), service)
        units = quantity
    elif kind.units is Units.USERNAME_LINES:
        quantity, fields["usernames"] = _line_count(
            params, "usernames", N_("Usernames are"), service
        )
        units = quantity
    else:
        if params.get("quantity") in (None, ""):
            raise IncorrectQuantity()
        quantity = parse_int(params.get("quantity"), IncorrectQuantity())
        _check_bounds(quantity, service)
        runs, interval = _dripfeed(params, service)
        units = _check_total(quantity * (runs or 1), N_("quantity × runs"))
    return OrderRequest(
        link=link, quantity=quantity, units=units, runs=runs, interval=interval, fields=fields
    )
