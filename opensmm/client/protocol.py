"""The transport-independent half of the client: building requests, reading responses.

:class:`~opensmm.client.sync.Client` and :class:`~opensmm.client.async_.AsyncClient` only
move bytes. Everything else is here, once: a public method becomes a :class:`Call` (the
action, its form parameters and the parser for the answer) or a :class:`Batch` of calls
(lists longer than 100 ids); the transport POSTs ``form(key, call)`` and hands the
``httpx.Response`` to :func:`read_response`, or the ``httpx`` exception to
:func:`transport_error`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import partial
from types import MappingProxyType
from typing import Generic, TypedDict, TypeVar

import httpx

from opensmm import __version__
from opensmm.client import parse
from opensmm.client.errors import (
    ApiError,
    BadResponse,
    ClientError,
    ConnectError,
    ConnectionDropped,
    ConnectTimeout,
    HTTPServerError,
    HTTPStatusError,
    InvalidArgument,
    Timeout,
    TransportError,
    classify_api_error,
)
from opensmm.client.models import Balance, ItemError, OrderStatus, Service, SubscriptionStatus
from opensmm.client.statuses import RefillState, UnknownStatus

__all__ = [
    "DEFAULT_TIMEOUT",
    "MAX_IDS",
    "USER_AGENT",
    "AddFields",
    "Batch",
    "Call",
    "read_response",
    "transport_error",
]

log = logging.getLogger("opensmm.client")

T = TypeVar("T")
R = TypeVar("R")

USER_AGENT = f"opensmm-client/{__version__}"
DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=10.0)
MAX_IDS = 100  # per request, the API's limit
SNIPPET_CHARS = 200


class AddFields(TypedDict, total=False):
    """The optional ``add`` fields (API v2 §3), passed through as given.

    A sequence of strings (``comments``, ``usernames``, ``hashtags``, ``groups``) is sent one
    per line; a ``date`` (``expiry``) as ``d/m/Y``. ``extra`` adds panel-specific fields.
    """

    runs: int
    interval: int
    comments: str | Sequence[str]
    usernames: str | Sequence[str]
    hashtags: str | Sequence[str]
    hashtag: str
    username: str
    media: str
    answer_number: int | str
    groups: str | Sequence[str]
    min: int
    max: int
    posts: int
    old_posts: int
    delay: int
    expiry: str | date
    # opensmm's extension (spec §7): a retry with the same key is the same order; panels
    # that do not know it ignore it.
    idempotency_key: str
    extra: Mapping[str, str | int | Decimal]


_ADD_FIELDS: tuple[str, ...] = tuple(k for k in AddFields.__annotations__ if k != "extra")
_RESERVED = frozenset({"key", "action", "service", "link", "quantity"})


@dataclass(frozen=True, slots=True)
class Call(Generic[T]):
    """One request: ``action`` plus ``params`` (without the key), and its parser."""

    action: str
    params: Mapping[str, str]
    parse: Callable[[object], T]


@dataclass(frozen=True, slots=True)
class Batch(Generic[R]):
    """A multi-id call split into requests of at most 100 ids; results are merged."""

    calls: tuple[Call[dict[int, R]], ...]


def form(key: str, call: Call[T]) -> dict[str, str]:
    """The form body: ``key``, ``action`` and the call's parameters."""
    return {"key": key, "action": call.action, **call.params}


def headers() -> dict[str, str]:
    return {"User-Agent": USER_AGENT, "Accept": "application/json"}


# --- argument checking ---------------------------------------------------------------


def _int_arg(value: object, name: str, *, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidArgument(f"{name} must be an int, not {type(value).__name__}")
    if value < minimum:
        raise InvalidArgument(f"{name} must be >= {minimum}, got {value}")
    return value


def _id_arg(value: object, name: str) -> int:
    return _int_arg(value, name, minimum=1)


def _ids_arg(values: Iterable[int], name: str) -> list[int]:
    if isinstance(values, str | bytes) or not isinstance(values, Iterable):
        raise InvalidArgument(f"{name} must be an iterable of ints")
    unique: dict[int, None] = {}
    for value in values:
        unique[_id_arg(value, f"each of {name}")] = None
    return list(unique)


def _text_arg(value: object, name: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidArgument(f"{name} must be a non-empty string")
    return value


def _field_value(value: object, name: str) -> str:
    if isinstance(value, bool):
        raise InvalidArgument(f"{name} must not be a bool")
    if isinstance(value, str):
        return value
    if isinstance(value, int | Decimal):
        return str(value)
    if isinstance(value, date):
        return value.strftime("%d/%m/%Y")
    if isinstance(value, Sequence) and all(isinstance(v, str) for v in value):
        return "\n".join(value)
    raise InvalidArgument(f"{name}: cannot send a {type(value).__name__}")


# --- calls ---------------------------------------------------------------------------


def services() -> Call[list[Service]]:
    return Call("services", {}, parse.parse_services)


def add(service: int, link: str, quantity: int | None, fields: AddFields) -> Call[int]:
    params = {
        "service": str(_id_arg(service, "service")),
        "link": _text_arg(link, "link"),
    }
    if quantity is not None:
        params["quantity"] = str(_int_arg(quantity, "quantity", minimum=0))
    unknown = set(fields) - set(_ADD_FIELDS) - {"extra"}
    if unknown:
        raise InvalidArgument(f"unknown add field(s): {', '.join(sorted(unknown))}")
    for name, value in fields.items():
        if name != "extra" and value is not None:
            params[name] = _field_value(value, name)
    for name, extra_value in (fields.get("extra") or {}).items():
        if name in _RESERVED or name in params:
            raise InvalidArgument(f"extra field {name!r} would override a parameter")
        params[name] = _field_value(extra_value, name)
    return Call("add", params, parse.parse_add)


def status(order: int) -> Call[OrderStatus]:
    order = _id_arg(order, "order")
    return Call("status", {"order": str(order)}, partial(parse.parse_order_status, order=order))


def subscription_status(order: int) -> Call[SubscriptionStatus]:
    order = _id_arg(order, "order")
    return Call(
        "status", {"order": str(order)}, partial(parse.parse_subscription_status, order=order)
    )


def refill(order: int) -> Call[int]:
    return Call("refill", {"order": str(_id_arg(order, "order"))}, parse.parse_refill)


def refill_status(refill_id: int) -> Call[RefillState | UnknownStatus]:
    refill_id = _id_arg(refill_id, "refill")
    return Call("refill_status", {"refill": str(refill_id)}, parse.parse_refill_status)


def balance() -> Call[Balance]:
    return Call("balance", {}, parse.parse_balance)


def _batch(
    action: str,
    param: str,
    ids: Iterable[int],
    parser: Callable[[object, Sequence[int]], dict[int, R]],
) -> Batch[R]:
    unique = _ids_arg(ids, param)
    chunks = [unique[i : i + MAX_IDS] for i in range(0, len(unique), MAX_IDS)]
    return Batch(
        tuple(
            Call(action, {param: ",".join(map(str, chunk))}, _bind(parser, chunk))
            for chunk in chunks
        )
    )


def _bind(
    parser: Callable[[object, Sequence[int]], dict[int, R]], chunk: Sequence[int]
) -> Callable[[object], dict[int, R]]:
    def parse_chunk(payload: object) -> dict[int, R]:
        return parser(payload, chunk)

    return parse_chunk


def status_many(orders: Iterable[int]) -> Batch[OrderStatus | ItemError]:
    return _batch("status", "orders", orders, parse.parse_order_statuses)


def subscription_status_many(orders: Iterable[int]) -> Batch[SubscriptionStatus | ItemError]:
    return _batch("status", "orders", orders, parse.parse_subscription_statuses)


def refill_many(orders: Iterable[int]) -> Batch[int | ItemError]:
    return _batch("refill", "orders", orders, parse.parse_refills)


def refill_status_many(refills: Iterable[int]) -> Batch[RefillState | UnknownStatus | ItemError]:
    return _batch("refill_status", "refills", refills, parse.parse_refill_statuses)


def cancel(orders: Iterable[int]) -> Batch[bool | ItemError]:
    return _batch("cancel", "orders", orders, parse.parse_cancels)


# --- responses -----------------------------------------------------------------------


def redact(text: str, secret: str) -> str:
    return text.replace(secret, "***") if secret else text


def snippet(body: bytes | str, secret: str) -> str:
    """The start of a body, whitespace collapsed, the key redacted."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    text = redact(" ".join(text.split()), secret)
    return text if len(text) <= SNIPPET_CHARS else text[: SNIPPET_CHARS - 3] + "..."


def _body_text(content: bytes) -> str:
    return content.decode("utf-8", "replace").lstrip("\ufeff").strip()


def read_response(call: Call[T], response: httpx.Response, *, secret: str) -> T:
    """Turn a panel's HTTP answer into ``call``'s result, or raise the right error."""
    action = call.action
    code = response.status_code
    content = response.content
    log.debug("panel answered %s: HTTP %d, %d bytes", action, code, len(content))
    text = _body_text(content)
    if not 200 <= code < 300:
        message = f"{action}: HTTP {code} from the panel"
        if 400 <= code < 500:
            # A panel that sends its refusal with a 4xx status: keep the message.
            try:
                api_message = parse.error_message(parse.loads(text))
            except parse.ShapeError:
                api_message = None
            if api_message is not None:
                raise _api_error(api_message, action, code, secret)
        if 300 <= code < 400 and "location" in response.headers:
            location = redact(response.headers["location"], secret)
            message += f" (redirect to {location}; use the final URL, POST is not redirected)"
        cls = HTTPServerError if code >= 500 else HTTPStatusError
        body = snippet(text, secret)
        raise cls(f"{message}: {body!r}", status_code=code, snippet=body, action=action)
    if not text:
        raise BadResponse(f"{action}: empty body", snippet="", action=action)
    try:
        payload = parse.loads(text)
        return call.parse(payload)
    except parse.ShapeError as exc:
        body = snippet(text, secret)
        kind = "an HTML page" if text.startswith("<") else "an unreadable answer"
        reason = redact(str(exc), secret)
        raise BadResponse(
            f"{action}: {kind} ({reason}): {body!r}", snippet=body, action=action
        ) from None
    except ApiError as exc:
        raise _api_error(exc.message, action, code, secret) from None


def _api_error(message: str, action: str, code: int, secret: str) -> ApiError:
    return classify_api_error(redact(message, secret), action=action, http_status=code)


def transport_error(exc: httpx.HTTPError, action: str, url: str, *, secret: str) -> ClientError:
    """Map an ``httpx`` failure to the client's hierarchy, deciding doubt conservatively."""
    detail = redact(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__, secret)
    where = f"{action} at {url}"
    if isinstance(exc, httpx.ConnectTimeout | httpx.PoolTimeout):
        return ConnectTimeout(f"{where}: could not connect in time ({detail})", action=action)
    if isinstance(exc, httpx.TimeoutException):  # read or write timeout
        return Timeout(
            f"{where}: timed out after the request started, the outcome is unknown ({detail})",
            action=action,
        )
    if isinstance(exc, httpx.ConnectError | httpx.ProxyError | httpx.UnsupportedProtocol):
        return ConnectError(f"{where}: could not connect ({detail})", action=action)
    if isinstance(exc, httpx.LocalProtocolError):
        return TransportError(f"{where}: the request could not be sent ({detail})", action=action)
    if isinstance(exc, httpx.DecodingError):
        return BadResponse(f"{where}: undecodable body ({detail})", snippet="", action=action)
    return ConnectionDropped(
        f"{where}: connection lost, the outcome is unknown ({detail})", action=action
    )


def check_url(url: object) -> str:
    if not isinstance(url, str) or not url:
        raise InvalidArgument("url must be a non-empty string")
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError) as exc:
        raise InvalidArgument(f"invalid url: {exc}") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise InvalidArgument("url must be an absolute http:// or https:// URL")
    return url


def check_key(key: object) -> str:
    if not isinstance(key, str) or not key:
        raise InvalidArgument("key must be a non-empty string")
    return key


def resolve_timeout(
    timeout: float | httpx.Timeout | None, injected: httpx.Timeout | None
) -> httpx.Timeout:
    """``timeout`` if given, else the injected client's own, else :data:`DEFAULT_TIMEOUT`."""
    if timeout is not None:
        if isinstance(timeout, httpx.Timeout):
            return timeout
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
            raise InvalidArgument("timeout must be a positive number of seconds")
        return httpx.Timeout(float(timeout))
    return injected if injected is not None else DEFAULT_TIMEOUT


def describe(cls_name: str, url: str, timeout: httpx.Timeout) -> str:
    return f"{cls_name}(url={url!r}, timeout={timeout.read!r})"


def attach_partial(exc: ClientError, results: Mapping[int, object]) -> None:
    """Record on ``exc`` the ids a batch had already been answered for, if any."""
    if results:
        exc.partial_results = MappingProxyType(dict(results))
