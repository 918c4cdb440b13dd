"""Hostile values and the ways to send them: what an attacker, a broken client or a
fuzzer puts in every field of the API."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import quote_plus

from hypothesis import strategies as st

SQL = [
    "' OR 1=1 --",
    "1 OR 1=1",
    "1; DROP TABLE orders",
    "; DROP TABLE orders; --",
    "1' UNION SELECT key_hash, 1 FROM api_keys --",
    '"; DELETE FROM users; --',
    "1) OR (1=1",
    "%' --",
    "1/**/OR/**/1=1",
    "pg_sleep(1)",
]
HTML = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "javascript:alert(document.cookie)",
    "<svg/onload=alert(1)>",
    "{{7*7}}",
    "${7*7}",
    "<!--",
    "]]>",
]
UNICODE = [
    "\u202eevil.com",  # right-to-left override
    "\u200f\u05e9\u05dc\u05d5\u05dd",  # RTL mark + Hebrew
    "مرحبا بالعالم",
    "😀" * 40,
    "👨‍👩‍👧‍👦",
    "\x00",
    "a\x00b",
    "\ufeff",
    "\uffff",
    "\U0010ffff",
    "İ",
    "ß",
    "\u0301\u0301",
    "\r\n\r\n",
    "\ud800",  # lone surrogates: only JSON escapes carry them; raw bytes elsewhere
    "a\udc80b",
    "\t",
    " ",
    "",
]
NUMBERS = [
    "-1",
    "-0",
    "0",
    "00",
    "1.5",
    "100.5",
    "1e3",
    "1E2",
    "0x64",
    "0b11",
    "1_000",
    "+100",
    ".5",
    "100.",
    "Infinity",
    "-Infinity",
    "NaN",
    "1e309",
    "99999999999999999999999",
    "9" * 400,
    "100,000",
    "100 000",
    "١٠٠",  # Arabic-Indic digits
    "𝟏𝟎𝟎",  # mathematical digits
    "²",
    "½",
    "10\x0020",
    "2147483648",
    "4294967296",
    "-2147483649",
    "9223372036854775808",
]
SPECIAL = SQL + HTML + UNICODE + NUMBERS

# Text of every kind, surrogates included (only JSON escapes can carry those).
any_text = st.text(max_size=80)
weird_text = st.text(alphabet=st.characters(codec=None, exclude_categories=()), max_size=40)
hostile_text = st.one_of(
    st.sampled_from(SPECIAL),
    any_text,
    weird_text,
    st.builds(lambda a, b: a + b, st.sampled_from(SPECIAL), any_text),
    st.builds(lambda n: "9" * n, st.integers(10, 5000)),
    st.builds(lambda n: "a" * n, st.integers(2049, 70_000)),
)
json_numbers = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([0.5, -1.0, 1e300, -0.0, 1e-300, 2**63, -(2**63), 2**64]),
)
hostile_value = st.one_of(hostile_text, hostile_text, json_numbers, st.booleans(), st.none())

TRANSPORTS = ("form", "query", "json", "multipart")
# A longer query string is sent as a form instead: HTTP clients refuse URLs near 64 KiB, and
# a request line of hundreds of KiB is refused by the HTTP server (uvicorn) before the app.
MAX_QUERY = 60_000


def has_surrogate(value: Any) -> bool:
    return isinstance(value, str) and any(0xD800 <= ord(c) <= 0xDFFF for c in value)


def _wire(value: Any) -> bytes:
    """A value as a form/query/multipart field carries it (JSON numbers as their text)."""
    if value is None:
        return b""
    if isinstance(value, bool):
        return b"1" if value else b"0"
    return str(value).encode("utf-8", "surrogatepass")


def _urlencode(params: dict[str, Any]) -> str:
    pairs = []
    for name, value in params.items():
        values = value if isinstance(value, list) else [value]
        key = f"{name}[]" if isinstance(value, list) else name
        pairs += [f"{quote_plus(key)}={quote_plus(_wire(item))}" for item in values]
    return "&".join(pairs)


def request_for(transport: str, params: dict[str, Any]) -> dict[str, Any]:
    """httpx request arguments that send ``params`` the way one kind of client does."""
    if transport == "json":
        # ensure_ascii: lone surrogates travel as \\udxxx escapes, as a JSON client sends them.
        body = json.dumps(params, ensure_ascii=True).encode()
        return {"method": "POST", "content": body, "headers": {"content-type": "application/json"}}
    if transport == "query" and len(_urlencode(params)) <= MAX_QUERY:
        return {"method": "GET", "url_query": _urlencode(params)}
    if transport == "multipart":
        fields = []
        for name, value in params.items():
            for item in value if isinstance(value, list) else [value]:
                key = f"{name}[]" if isinstance(value, list) else name
                fields.append((key, (None, _wire(item))))
        return {"method": "POST", "files": fields}
    return {
        "method": "POST",
        "content": _urlencode(params).encode(),
        "headers": {"content-type": "application/x-www-form-urlencoded"},
    }


# --- oracles: what the spec calls a valid value ----------------------------------------

_WHOLE = re.compile(r"[0-9]{1,12}(\.0+)?")


def as_whole_number(value: Any) -> int | None:
    """The whole number a client meant, or None when the value is not one (spec: counts are
    ASCII digits; a JSON number may be an integral float)."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    text = value.strip()
    if _WHOLE.fullmatch(text):
        return int(text.split(".")[0])
    return None


def in_bounds(value: Any, low: int, high: int) -> bool:
    number = as_whole_number(value)
    return number is not None and low <= number <= high
