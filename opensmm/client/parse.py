"""Response parsing, shared by the sync and async clients.

Everything here is pure: JSON text in, typed results (or exceptions) out. Parsers raise
:class:`ShapeError` for a body of the wrong shape (the caller turns it into a
:class:`~opensmm.client.errors.BadResponse` quoting the body) and
:class:`~opensmm.client.errors.ApiError` subclasses for ``{"error": ...}`` answers.

Tolerance, on purpose (real panels differ):

- numbers may be JSON numbers or strings (``3572``, ``"3572"``, ``" 3572 "``, ``"3572.00"``
  for a count, ``"1,234"`` with thousands separators for a count, ``"1,234.50"`` for money);
  money is parsed from the JSON text straight into ``Decimal`` (never through ``float``).
  A money string with a comma and no decimal point (``"0,90"``, ``"1,234"``) is ambiguous
  and refused;
- booleans may be ``true``/``false``, ``1``/``0``, ``"1"``/``"0"``, ``"yes"``/``"no"``,
  ``"true"``/``"false"``, ``"on"``/``"off"``;
- multi answers may be an object keyed by id or an array of objects carrying the id;
- ``{"error": null}`` (or ``""``/``false``) is not an error.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Callable, Sequence
from decimal import Decimal, InvalidOperation
from types import MappingProxyType
from typing import Any, TypeVar

from opensmm.client.errors import (
    ApiError,
    OrderNotFound,
    RefillNotFound,
    api_error_class,
    classify_api_error,
)
from opensmm.client.models import (
    Balance,
    ItemError,
    MalformedItem,
    OrderStatus,
    Service,
    SubscriptionStatus,
)
from opensmm.client.statuses import (
    RefillState,
    UnknownStatus,
    parse_order_state,
    parse_refill_state,
    parse_subscription_state,
)

__all__ = [
    "ShapeError",
    "error_message",
    "loads",
    "parse_add",
    "parse_balance",
    "parse_cancels",
    "parse_order_status",
    "parse_order_statuses",
    "parse_refill",
    "parse_refill_status",
    "parse_refill_statuses",
    "parse_refills",
    "parse_services",
    "parse_subscription_status",
    "parse_subscription_statuses",
    "to_bool",
    "to_decimal",
    "to_int",
]

R = TypeVar("R")

JSONObject = dict[str, Any]


class ShapeError(Exception):
    """The body is JSON (or not) of a shape the client cannot read."""


# --- JSON ----------------------------------------------------------------------------


def _reject_constant(name: str) -> object:
    raise ShapeError(f"invalid JSON constant {name}")


def loads(text: str) -> object:
    """Decode JSON with every non-integer number as an exact ``Decimal``."""
    try:
        return json.loads(text, parse_float=Decimal, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise ShapeError(f"invalid JSON ({exc.msg} at char {exc.pos})") from None
    except ValueError:  # an integer literal of thousands of digits
        raise ShapeError("invalid JSON (a number too long)") from None
    except RecursionError:
        raise ShapeError("invalid JSON (nested too deeply)") from None


# --- scalar coercion -----------------------------------------------------------------

_GROUPED_INT = re.compile(r"[+-]?\d{1,3}(?:,\d{3})+", re.ASCII)
_PLAIN_DECIMAL = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)
_GROUPED_DECIMAL = re.compile(r"[+-]?\d{1,3}(?:,\d{3})+\.\d+", re.ASCII)

# Sanity bounds: no count or amount a panel sends has more than 30 digits before the point.
MAX_MAGNITUDE = 30
MAX_NUMBER_CHARS = 64
_INT_LIMIT = 10 ** (MAX_MAGNITUDE + 1)

_TRUE = frozenset({"1", "true", "yes", "y", "on"})
_FALSE = frozenset({"0", "false", "no", "n", "off", ""})


def _show(value: object) -> str:
    try:
        text = json.dumps(value, default=str, ensure_ascii=False)
    except ValueError:  # an int too long to print
        text = f"<{type(value).__name__}>"
    return text if len(text) <= 40 else text[:37] + "..."


def to_decimal(value: object, what: str) -> Decimal:
    """An exact amount from a JSON number or numeric string."""
    result: Decimal | None = None
    if isinstance(value, bool):
        result = None
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, Decimal):
        result = value
    elif isinstance(value, float):
        result = Decimal(repr(value))
    elif isinstance(value, str) and len(value) <= MAX_NUMBER_CHARS:
        text = value.strip()
        if _GROUPED_DECIMAL.fullmatch(text):
            text = text.replace(",", "")
        if _PLAIN_DECIMAL.fullmatch(text):
            try:
                result = Decimal(text)
            except InvalidOperation:  # pragma: no cover - the regex already checked
                result = None
    if result is None or not result.is_finite() or result.adjusted() > MAX_MAGNITUDE:
        raise ShapeError(f"{what}: expected an amount, got {_show(value)}")
    return result


def to_int(value: object, what: str) -> int:
    """A whole number from a JSON number or numeric string (``"1,234"`` and ``"12.0"`` too)."""
    if isinstance(value, int) and not isinstance(value, bool):
        if abs(value) < _INT_LIMIT:
            return value
    elif isinstance(value, str) and _GROUPED_INT.fullmatch(text := value.strip()):
        return int(text.replace(",", ""))
    elif isinstance(value, Decimal | float | str):
        with contextlib.suppress(ShapeError):
            amount = to_decimal(value, what)
            if amount == amount.to_integral_value():
                return int(amount)
    raise ShapeError(f"{what}: expected a whole number, got {_show(value)}")


def to_id(value: object, what: str) -> int:
    """A positive id."""
    number = to_int(value, what)
    if number <= 0:
        raise ShapeError(f"{what}: expected a positive id, got {_show(value)}")
    return number


def to_bool(value: object, what: str, default: bool = False) -> bool:
    """A flag from ``true``/``false``, ``1``/``0``, ``"1"``/``"0"``, ``"yes"``/``"no"``..."""
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, int | Decimal) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        text = value.strip().casefold()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
    raise ShapeError(f"{what}: expected a boolean, got {_show(value)}")


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def opt_int(value: object, what: str) -> int | None:
    return None if _blank(value) else to_int(value, what)


def opt_decimal(value: object, what: str) -> Decimal | None:
    return None if _blank(value) else to_decimal(value, what)


def to_str(value: object, what: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, int | Decimal) and not isinstance(value, bool):
        return str(value)
    raise ShapeError(f"{what}: expected a string, got {_show(value)}")


def opt_str(value: object, what: str) -> str | None:
    return None if value is None else to_str(value, what)


# --- errors --------------------------------------------------------------------------


def error_message(payload: object) -> str | None:
    """The panel's error message if ``payload`` is an ``{"error": ...}`` object, else None.

    ``{"error": null}``, ``""``, ``false`` and ``0`` are not errors. ``{"error": true,
    "message": "..."}`` and ``{"error": {"message": "..."}}`` are read too.
    """
    if not isinstance(payload, dict) or "error" not in payload:
        return None
    error = payload["error"]
    if error is None or error is False or (isinstance(error, int | str) and not error):
        return None
    if isinstance(error, str):
        return error.strip() or None
    holder: Any = error if isinstance(error, dict) else payload
    for field in ("message", "msg", "description"):
        text = holder.get(field)
        if isinstance(text, str) and text.strip():
            return text.strip()
    return json.dumps(error, default=str, ensure_ascii=False)


def check_error(payload: object) -> None:
    """Raise the specific :class:`ApiError` if ``payload`` is an error object."""
    message = error_message(payload)
    if message is not None:
        raise classify_api_error(message)


def _object(payload: object, what: str) -> JSONObject:
    if not isinstance(payload, dict):
        raise ShapeError(f"{what}: expected a JSON object, got {type(payload).__name__}")
    return payload


def _required(obj: JSONObject, field: str, what: str) -> object:
    if field not in obj:
        raise ShapeError(f"{what}: no {field!r} field")
    return obj[field]


# --- multi answers -------------------------------------------------------------------


def _multi_items(
    payload: object, id_field: str, value_field: str | None
) -> list[tuple[int, object]]:
    """``(id, value)`` pairs of a multi answer, keyed object or array of objects.

    For an array, ``value`` is ``element[value_field]`` (the whole element when
    ``value_field`` is None, or when the element itself is an error object).
    """
    pairs: list[tuple[int, object]] = []
    if isinstance(payload, list):
        for index, element in enumerate(payload):
            obj = _object(element, f"item {index}")
            item_id = to_id(_required(obj, id_field, f"item {index}"), f"item {index} {id_field}")
            if value_field is None or (value_field not in obj and error_message(obj)):
                pairs.append((item_id, obj))
            else:
                pairs.append((item_id, _required(obj, value_field, f"item {index}")))
        return pairs
    if isinstance(payload, dict):
        for key, value in payload.items():
            if key == "error":  # ``"error": null`` next to the ids; a real error was raised
                continue
            item_id = to_id(key, f"key {key!r}")
            if value_field is not None and isinstance(value, dict) and value_field in value:
                pairs.append((item_id, value[value_field]))
            else:
                pairs.append((item_id, value))
        return pairs
    raise ShapeError(f"expected a JSON object or array, got {type(payload).__name__}")


def _item(value: object, parse: Callable[[object], R]) -> R | ItemError:
    """One entry of a multi answer. A malformed entry spoils only itself: it becomes a
    :class:`MalformedItem` and the rest of the answer is read as usual."""
    try:
        message = error_message(value)
        if message is not None:
            return ItemError(message)
        return parse(value)
    except ShapeError as exc:
        try:
            raw = json.dumps(value, ensure_ascii=False, default=str)
        except ValueError:  # a circular or otherwise odd value: its repr will do
            raw = repr(value)
        return MalformedItem(f"unreadable entry: {exc}", entry=raw[:200])


def _parse_multi(
    payload: object,
    ids: Sequence[int],
    *,
    id_field: str,
    value_field: str | None,
    single_field: str,
    not_found: type[ApiError],
    parse: Callable[[object], R],
) -> dict[int, R | ItemError]:
    message = error_message(payload)
    if message is not None:
        # A panel that answers a one-id list like a single call: "not found" is per id.
        if len(ids) == 1 and issubclass(api_error_class(message), not_found):
            return {ids[0]: ItemError(message)}
        raise classify_api_error(message)
    if len(ids) == 1 and isinstance(payload, dict) and single_field in payload:
        # ... and one that answers a one-id list with the single-id shape.
        single: object = payload if value_field is None else payload[single_field]
        return {ids[0]: _item(single, parse)}
    items = _multi_items(payload, id_field, value_field)
    if items and value_field is None and not any(isinstance(v, dict) for _, v in items):
        # Not one odd entry among good ones: an answer of the wrong shape altogether.
        raise ShapeError(f"expected an object for each id, got {_show(items[0][1])}")
    return {item_id: _item(value, parse) for item_id, value in items}


# --- actions -------------------------------------------------------------------------

_SERVICE_FIELDS = frozenset(
    {
        "service",
        "id",
        "name",
        "type",
        "category",
        "rate",
        "min",
        "max",
        "refill",
        "cancel",
        "dripfeed",
        "desc",
        "description",
    }
)


def _service(value: object, index: int) -> Service:
    what = f"service #{index}"
    obj = _object(value, what)
    raw_id = obj["service"] if "service" in obj else _required(obj, "id", what)
    description = obj["desc"] if "desc" in obj else obj.get("description")
    service_type = obj.get("type")
    return Service(
        id=to_id(raw_id, f"{what} id"),
        name=to_str(_required(obj, "name", what), f"{what} name"),
        type="Default" if _blank(service_type) else to_str(service_type, f"{what} type"),
        category=to_str(obj.get("category") or "", f"{what} category"),
        rate=to_decimal(_required(obj, "rate", what), f"{what} rate"),
        min=to_int(_required(obj, "min", what), f"{what} min"),
        max=to_int(_required(obj, "max", what), f"{what} max"),
        refill=to_bool(obj.get("refill"), f"{what} refill"),
        cancel=to_bool(obj.get("cancel"), f"{what} cancel"),
        dripfeed=to_bool(obj.get("dripfeed"), f"{what} dripfeed"),
        description=opt_str(description, f"{what} description"),
        extra=MappingProxyType({k: v for k, v in obj.items() if k not in _SERVICE_FIELDS}),
    )


def parse_services(payload: object) -> list[Service]:
    """``services``: an array of services (an object keyed by id is accepted too)."""
    check_error(payload)
    if isinstance(payload, dict) and all(isinstance(v, dict) for v in payload.values()):
        payload = list(payload.values())
    if not isinstance(payload, list):
        raise ShapeError(f"services: expected a JSON array, got {type(payload).__name__}")
    return [_service(value, index) for index, value in enumerate(payload)]


def parse_add(payload: object) -> int:
    """``add``: ``{"order": 23501}`` -> 23501."""
    obj = _object(payload, "add")
    message = error_message(obj)
    if message is not None:
        if "order" in obj:
            raise ShapeError("add: both an order id and an error in one answer")
        raise classify_api_error(message)
    return to_id(_required(obj, "order", "add"), "order")


def _order_status(value: object) -> OrderStatus:
    obj = _object(value, "status")
    return OrderStatus(
        charge=opt_decimal(obj.get("charge"), "charge"),
        start_count=opt_int(obj.get("start_count"), "start_count"),
        status=parse_order_state(_required(obj, "status", "status")),
        remains=opt_int(obj.get("remains"), "remains"),
        currency=opt_str(obj.get("currency"), "currency"),
    )


def _subscription_status(value: object) -> SubscriptionStatus:
    obj = _object(value, "status")
    return SubscriptionStatus(
        status=parse_subscription_state(_required(obj, "status", "status")),
        charge=opt_decimal(obj.get("charge"), "charge"),
        posts=opt_int(obj.get("posts"), "posts"),
        expiry=opt_str(obj.get("expiry"), "expiry"),
        currency=opt_str(obj.get("currency"), "currency"),
    )


def _single_status(payload: object, order: int) -> JSONObject:
    obj = _object(payload, "status")
    keyed = obj.get(str(order))
    if "status" not in obj and isinstance(keyed, dict):
        obj = keyed  # a panel that answers a single id like a list of one
    check_error(obj)
    status = obj.get("status")
    if isinstance(status, dict):
        check_error(status)
    return obj


def parse_order_status(payload: object, order: int) -> OrderStatus:
    """``status`` with ``order``."""
    return _order_status(_single_status(payload, order))


def parse_subscription_status(payload: object, order: int) -> SubscriptionStatus:
    """``status`` with ``order``, for a subscription."""
    return _subscription_status(_single_status(payload, order))


def parse_order_statuses(payload: object, ids: Sequence[int]) -> dict[int, OrderStatus | ItemError]:
    """``status`` with ``orders``: keyed by id, or an array of objects with ``order``."""
    return _parse_multi(
        payload,
        ids,
        id_field="order",
        value_field=None,
        single_field="status",
        not_found=OrderNotFound,
        parse=_order_status,
    )


def parse_subscription_statuses(
    payload: object, ids: Sequence[int]
) -> dict[int, SubscriptionStatus | ItemError]:
    """``status`` with ``orders``, for subscriptions."""
    return _parse_multi(
        payload,
        ids,
        id_field="order",
        value_field=None,
        single_field="status",
        not_found=OrderNotFound,
        parse=_subscription_status,
    )


def _refill_id(value: object) -> int:
    return to_id(value, "refill")


def parse_refill(payload: object) -> int:
    """``refill`` with ``order``: ``{"refill": "1"}`` -> 1."""
    obj = _object(payload, "refill")
    check_error(obj)
    value = _required(obj, "refill", "refill")
    check_error(value)
    return _refill_id(value)


def parse_refills(payload: object, ids: Sequence[int]) -> dict[int, int | ItemError]:
    """``refill`` with ``orders``: order id -> refill id."""
    return _parse_multi(
        payload,
        ids,
        id_field="order",
        value_field="refill",
        single_field="refill",
        not_found=OrderNotFound,
        parse=_refill_id,
    )


def parse_refill_status(payload: object) -> RefillState | UnknownStatus:
    """``refill_status`` with ``refill``: ``{"status": "Completed"}``."""
    obj = _object(payload, "refill_status")
    check_error(obj)
    value = _required(obj, "status", "refill_status")
    check_error(value)
    return parse_refill_state(value)


def parse_refill_statuses(
    payload: object, ids: Sequence[int]
) -> dict[int, RefillState | UnknownStatus | ItemError]:
    """``refill_status`` with ``refills``: refill id -> state."""
    return _parse_multi(
        payload,
        ids,
        id_field="refill",
        value_field="status",
        single_field="status",
        not_found=RefillNotFound,
        parse=parse_refill_state,
    )


def _cancel_value(value: object) -> bool:
    # ``1`` / ``true`` for "cancel requested"; a few panels answer a cancel-request id.
    if isinstance(value, int | Decimal) and not isinstance(value, bool) and value > 1:
        return True
    return to_bool(value, "cancel")


def parse_cancels(payload: object, ids: Sequence[int]) -> dict[int, bool | ItemError]:
    """``cancel`` with ``orders``: order id -> ``True`` (cancel accepted) or the refusal."""
    return _parse_multi(
        payload,
        ids,
        id_field="order",
        value_field="cancel",
        single_field="cancel",
        not_found=OrderNotFound,
        parse=_cancel_value,
    )


def parse_balance(payload: object) -> Balance:
    """``balance``: ``{"balance": "100.84292", "currency": "USD"}``."""
    obj = _object(payload, "balance")
    check_error(obj)
    return Balance(
        amount=to_decimal(_required(obj, "balance", "balance"), "balance"),
        currency=opt_str(obj.get("currency"), "currency"),
    )
