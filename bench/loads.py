"""What each benchmark sends: form bodies as real clients post them, and what a right answer
looks like (wrk counts only HTTP errors, and the API answers its errors with HTTP 200)."""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode

from bench.seed import Seeded

ACTIONS = ("services", "balance", "status_one", "status_100", "add", "add_many")
# A key that is well formed; the null apps never look at it.
NULL_KEY = "N" * 40
ADD_LINK_PREFIX = "https://www.instagram.com/p/bench"


def _form(**fields: Any) -> str:
    return urlencode({name: str(value) for name, value in fields.items()})


def bodies(action: str, seeded: Seeded | None, rng: random.Random) -> list[str]:
    if seeded is None:  # the null apps: the same form as status with one id
        return [_form(key=NULL_KEY, action="status", order=rng.randrange(1, 10**6))
                for _ in range(1000)]
    key = seeded.key
    if action in ("services", "balance"):
        return [_form(key=key, action=action)]
    if action == "status_one":
        return [_form(key=key, action="status", order=order)
                for order in seeded.customer_order_ids(1000, rng)]
    if action == "status_100":
        return [_form(key=key, action="status",
                      orders=",".join(map(str, seeded.customer_order_ids(100, rng, unique=True))))
                for _ in range(200)]
    if action in ("add", "add_many"):
        # One customer's orders queue on its balance row; many customers' do not.
        keys = [key] if action == "add" else seeded.buyer_keys
        return [_form(key=keys[n % len(keys)], action="add",
                      service=rng.choice(seeded.services), link=f"{ADD_LINK_PREFIX}{n}/",
                      quantity=rng.randrange(100, 5000))
                for n in range(1000)]
    raise ValueError(action)


def write_bodies(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


def _no_error(answer: Any) -> bool:
    return isinstance(answer, dict) and "error" not in answer


def _all_found(answer: Any, body: str) -> bool:
    ids = parse_qs(body)["orders"][0].split(",")
    return (isinstance(answer, dict) and sorted(answer) == sorted(ids)
            and all(_no_error(v) and "status" in v for v in answer.values()))


# Is ``answer`` the right kind of answer to ``body``?
CHECKS: dict[str, Callable[[Any, str], bool]] = {
    "services": lambda a, _: isinstance(a, list) and bool(a) and "rate" in a[0],
    "balance": lambda a, _: _no_error(a) and "balance" in a,
    "status_one": lambda a, _: _no_error(a) and "status" in a,
    "status_100": _all_found,
    "add": lambda a, _: _no_error(a) and isinstance(a.get("order"), int),
}
CHECKS["add_many"] = CHECKS["add"]
