"""Domain events stored as a code plus parameters, translated where a person reads them.

A ledger entry or an order's history row keeps a stable ``code`` ("ledger.order_charge")
and its parameters as JSON ({"order": 12, "service": "Followers"}); each domain defines its
codes once, with their English template marked for the catalogs (``N_``). A page shows a
row with ``row.description.render(_)``, which calls the page's translator as
``_(template, **params)``: the words are translated, the parameters never are (a service
name, an upstream's message or a memo typed by staff show as they were given).

Parameters in the JSON:
- numbers and strings, shown as they are (strings clipped to ``MAX_PARAM`` characters when
  stored, so that an upstream's huge answer cannot swell the history);
- ``{"kind": …, "name": …}``: an actor (who did it), shown as a translated phrase;
- a parameter that its event names in ``words`` (a status: "Completed") is one of the
  domain's own words and is translated too;
- a parameter named in ``MONEY_PARAMS`` is an amount in the panel's currency, shown by the
  one money rule of the reader's language when the translator can format money.

Rows written before codes existed have none: they show their English text as it was stored.
"""

from __future__ import annotations

import string
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson

from opensmm.i18n import N_

# Parameters that hold an amount in the panel's currency (stored as exact digits).
MONEY_PARAMS = frozenset({"amount", "charge", "refunded"})

# Longest string parameter kept: enough for any upstream message a person needs to read.
MAX_PARAM = 1000


class Translate(Protocol):
    """The pages' translator: ``t("Order {order}: {service}", order=12, service="…")``."""

    def __call__(self, text: str, /, **values: Any) -> str: ...


def _english(text: str, /, **values: Any) -> str:
    return text.format(**values) if values else text


@dataclass(frozen=True)
class Message:
    """A template and its values, ready to be translated and shown."""

    template: str
    params: Mapping[str, Any] = field(default_factory=dict)
    # Text stored before codes (or typed by a person): shown as it is, never translated.
    literal: bool = False
    # Joined parts (a status change and a refund in one row): ``params`` is unused.
    parts: tuple[Message, ...] = ()

    @classmethod
    def as_is(cls, text: str) -> Message:
        return cls(text, literal=True)

    def render(self, t: Translate) -> str:
        """The message in ``t``'s language (plain text: the page escapes it)."""
        if self.literal:
            return self.template
        if self.parts:
            separator = t(N_("; "))
            return separator.join(part.render(t) for part in self.parts)
        values = {name: _value(name, value, t) for name, value in self.params.items()}
        try:
            return t(self.template, **values)
        except (KeyError, IndexError, ValueError, AttributeError, TypeError):
            # A row whose parameters do not fit its template (written by an older or newer
            # version): the words with what is there, never an error page.
            try:
                return t(self.template).format_map(_Lenient(values))
            except (KeyError, IndexError, ValueError, AttributeError, TypeError):
                return self.template

    @property
    def english(self) -> str:
        """The message in English (the command line, the logs, tests)."""
        return self.render(_english)


class _Lenient(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def _value(name: str, value: Any, t: Translate) -> Any:
    money = getattr(t, "money", None)
    if name in MONEY_PARAMS and money is not None and isinstance(value, (str, int)):
        try:
            return money(value)
        except (ArithmeticError, ValueError):  # not an amount after all: shown as stored
            return value
    if isinstance(value, Message):
        return value.render(t)
    if isinstance(value, (dict, list)):  # not one of ours: shown, not interpreted
        return str(value)
    return value


# --- codes ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class EventType:
    """One kind of event: its stored code and its English template."""

    code: str
    template: str
    # Parameters that are the domain's own words (statuses), translated when shown.
    words: tuple[str, ...] = ()
    # For events whose text is built from their parameters (several changes in one row).
    build: Callable[[Mapping[str, Any]], Message] | None = None

    def describe(self, params: Mapping[str, Any]) -> Message:
        if self.build is not None:
            return self.build(params)
        decoded = {name: decode(value) for name, value in params.items()}
        for name in self.words:
            if isinstance(decoded.get(name), str):
                decoded[name] = Message(decoded[name])
        return Message(self.template, decoded)


_TYPES: dict[str, EventType] = {}


def event(
    code: str,
    template: str,
    *,
    words: tuple[str, ...] = (),
    build: Callable[[Mapping[str, Any]], Message] | None = None,
) -> EventType:
    """Define an event once: its code must never change (rows store it), its template may."""
    if code in _TYPES:
        raise RuntimeError(f"event code {code!r} is defined twice")
    # The translator takes the template as ``text``: a value of that name would collide.
    if "text" in {name for _, name, _, _ in string.Formatter().parse(template)}:
        raise RuntimeError(f"event {code!r}: a parameter cannot be named 'text'")
    kind = EventType(code, template, words, build)
    _TYPES[code] = kind
    return kind


def event_types() -> list[EventType]:
    """Every code defined so far (each domain's events module defines its own on import)."""
    return list(_TYPES.values())


def actor_templates() -> list[str]:
    """The phrases actors are shown with."""
    return [*_NAMED.values(), *_UNNAMED.values()]


def describe(code: str | None, params: Mapping[str, Any] | None, fallback: str) -> Message:
    """A stored row's message: from its code, else (an old row) its stored text as it is."""
    kind = _TYPES.get(code) if code else None
    if kind is None:
        return Message.as_is(fallback)
    return kind.describe(params if isinstance(params, Mapping) else {})


def decode(value: Any) -> Any:
    """A stored parameter as shown: an actor becomes its phrase."""
    if isinstance(value, dict) and "kind" in value:
        return Actor(str(value["kind"]), str(value.get("name") or "")).message()
    return value


def clip(value: str, limit: int = MAX_PARAM) -> str:
    return value if len(value) <= limit else value[: limit - 1] + "…"


def params(**values: Any) -> dict[str, Any]:
    """Parameters as stored: strings clipped, actors as ``{"kind", "name"}``, money exact."""
    return {name: _stored(value) for name, value in values.items()}


def dumps(stored: Mapping[str, Any]) -> str:
    """Stored params as the JSON text a compiled statement binds (``db.types.JSONText``):
    orjson costs a fraction of the JSON type's own serializer on the hot path of ``add``."""
    return orjson.dumps(stored).decode()


def _stored(value: Any) -> Any:
    if isinstance(value, Actor):
        return value.as_param()
    if isinstance(value, str):
        return clip(value)
    if isinstance(value, (int, float)) or value is None:
        return value
    if isinstance(value, Mapping):
        return {str(key): _stored(item) for key, item in value.items()}
    if isinstance(value, Iterable):
        return [_stored(item) for item in value]
    return clip(str(value))  # Decimal: its exact digits


# --- actors ----------------------------------------------------------------------------------

STAFF = "staff"
CUSTOMER = "customer"
CLI = "cli"
WORKER = "worker"
PROVIDER = "provider"
SIMULATOR = "simulator"
DEMO = "demo"
OTHER = "other"  # an actor named by a string that is none of the above (tests, scripts)

_NAMED = {
    STAFF: N_("staff {name}"),
    CUSTOMER: N_("customer {name}"),
    CLI: N_("command line ({name})"),
    PROVIDER: N_("provider {name}"),
}
_UNNAMED = {
    CUSTOMER: N_("the customer"),
    CLI: N_("command line"),
    WORKER: N_("worker"),
    SIMULATOR: N_("simulator"),
    DEMO: N_("demo"),
}
# How the string actors of the services read ("staff:boss", "user:alice", "worker", ...).
_PREFIXES = {"staff": STAFF, "user": CUSTOMER, "customer": CUSTOMER, "provider": PROVIDER,
             "cli": CLI}
_WORDS = {CLI: CLI, WORKER: WORKER, SIMULATOR: SIMULATOR, DEMO: DEMO, CUSTOMER: CUSTOMER}


@dataclass(frozen=True)
class Actor:
    """Who did something: a kind (translated when shown) and a name (shown as it is)."""

    kind: str
    name: str = ""

    @classmethod
    def of(cls, actor: str | Actor) -> Actor:
        """``"staff:boss"`` → staff boss, ``"user:alice"`` → customer alice, ``"cli"``,
        ``"worker"``, ``"provider:bigpanel"``, ``"simulator"``…; anything else is named as is."""
        if isinstance(actor, Actor):
            return actor
        prefix, colon, name = actor.partition(":")
        if colon and prefix in _PREFIXES:
            return cls(_PREFIXES[prefix], name[:64])
        if actor in _WORDS:
            return cls(_WORDS[actor])
        return cls(OTHER, actor[:64])

    def message(self) -> Message:
        if self.name and self.kind in _NAMED:
            return Message(_NAMED[self.kind], {"name": self.name})
        if self.kind in _UNNAMED:
            return Message(_UNNAMED[self.kind])
        return Message.as_is(self.name or self.kind)

    def as_param(self) -> dict[str, str]:
        return {"kind": self.kind, "name": self.name}
