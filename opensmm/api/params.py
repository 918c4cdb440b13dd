"""Turning whatever a client sends into one flat set of parameters (spec §1).

Accepted: GET query strings, POST form-urlencoded (``+`` or ``%20`` spaces), multipart, and
JSON objects (values may be numbers), merged with the query string (the body wins). PHP
array keys (``orders[0]=1``, ``orders[]=2``) collect into one list under ``orders``.
Values are ``str`` or, for repeated/array keys, ``list[str]``.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl

import orjson

from opensmm.db.types import parse_id
from opensmm.errors import DomainError

MAX_BODY_BYTES = 1_048_576
MAX_PARAMS = 200
MAX_IDS = 100

Params = dict[str, "str | list[str]"]

_PHP_ARRAY = re.compile(r"^([^\[\]]+)\[([^\[\]]*)\]$")


class RequestTooLarge(DomainError):
    message = "Request too large: at most 1 MiB"


class TooManyIds(DomainError):
    message = f"Too many ids: at most {MAX_IDS} per request"


class Malformed(DomainError):
    message = "Incorrect request"


def _add(params: Params, key: str, value: str) -> None:
    """Store one pair; ``name[...]`` keys and repeated array keys build a list."""
    match = _PHP_ARRAY.match(key) if "[" in key else None  # the pattern needs a "["
    if match:
        existing = params.get(match.group(1))
        if isinstance(existing, list):
            existing.append(value)
        else:
            params[match.group(1)] = [value]
        return
    params[key] = value


def parse_pairs(pairs: list[tuple[str, str]], params: Params | None = None) -> Params:
    if len(pairs) > MAX_PARAMS:
        raise Malformed()
    result: Params = {} if params is None else params
    for key, value in pairs:
        _add(result, key, value)
    return result


def parse_query(raw: bytes | str) -> list[tuple[str, str]]:
    text = raw.decode("latin-1") if isinstance(raw, bytes) else raw
    if "%" not in text and "+" not in text:
        # What most clients send (ids, keys, actions): nothing to decode, so parse_qsl's
        # answer is the plain split, at a fraction of its cost on the hot path. Same
        # rules: at most MAX_PARAMS fields counting empty ones, empties skipped, a name
        # without "=" has an empty value.
        if text and text.count("&") >= MAX_PARAMS:
            raise Malformed()
        return [
            (name, value) for name, _, value in (f.partition("=") for f in text.split("&") if f)
        ]
    # parse_qsl turns "+" into a space and decodes %-escapes as UTF-8.
    try:
        return parse_qsl(text, keep_blank_values=True, errors="replace", max_num_fields=MAX_PARAMS)
    except ValueError:  # more than MAX_PARAMS fields: the client's error, not ours
        raise Malformed() from None


def _scalar(value: object) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (str, int)):
        return str(value)
    if isinstance(value, float):
        return repr(value) if not value.is_integer() else str(int(value))
    if value is None:
        return ""
    raise Malformed()


def parse_json(body: bytes) -> list[tuple[str, str]]:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise Malformed() from None
    if not isinstance(data, dict):
        raise Malformed()
    pairs: list[tuple[str, str]] = []
    for key, value in data.items():
        if isinstance(value, list):
            pairs.extend((f"{key}[]", _scalar(item)) for item in value)
        else:
            pairs.append((key, _scalar(value)))
    return pairs


def media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def id_list(value: str | list[str] | None) -> list[str]:
    """Ids as sent: split on commas, trimmed, empties dropped, de-duplicated in order."""
    if value is None:
        return []
    parts = value if isinstance(value, list) else [value]
    seen: dict[str, None] = {}
    for part in parts:
        for piece in part.split(","):
            item = piece.strip()
            if item:
                seen.setdefault(item, None)
    ids = list(seen)
    if len(ids) > MAX_IDS:
        raise TooManyIds()
    return ids


def text(params: Params, name: str) -> str | None:
    """A single value; for an array the last item (PHP's rule for repeated plain keys)."""
    value = params.get(name)
    if isinstance(value, list):
        return value[-1] if value else None
    return value


def as_int_id(raw: str) -> int | None:
    """A positive database id, or None for anything else (never an exception)."""
    return parse_id(raw)
