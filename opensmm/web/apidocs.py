"""The API page: every action of the API v2 with curl, PHP and Python examples.

The examples use this panel's own address and a real service from its catalog (with the
fields that service's type needs), so that a customer can paste them and see them work.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass

from opensmm.catalog.models import Service
from opensmm.catalog.types import Units, service_type
from opensmm.i18n import N_

KEY = "YOUR_API_KEY"

EXAMPLE_VALUES: dict[str, str] = {
    "link": "https://www.instagram.com/p/example/",
    "quantity": "",  # the service's minimum
    "comments": "Great post!\nLove it",
    "usernames": "alice\nbob",
    "hashtags": "#smm\n#growth",
    "hashtag": "#smm",
    "username": "alice",
    "media": "https://www.instagram.com/p/example/",
    "groups": "group_one\ngroup_two",
    "answer_number": "1",
    "posts": "10",
    "delay": "30",
}


ADD_DESCRIPTIONS = {
    "service": N_("Service ID"),
    "link": N_("Link to page"),
    "quantity": N_("Needed quantity"),
}


@dataclass(frozen=True)
class Parameter:
    name: str
    description: str


@dataclass(frozen=True)
class ActionDoc:
    action: str
    title: str
    parameters: tuple[Parameter, ...]
    response: str
    curl: str
    php: str
    python: str


def _add_params(service: Service | None) -> dict[str, str]:
    if service is None:
        return {"service": "1", "link": EXAMPLE_VALUES["link"], "quantity": "100"}
    kind = service_type(service.type)
    params = {"service": str(service.id)}
    if kind.units is Units.SUBSCRIPTION:
        low = str(service.min_quantity)
        params.update(username="alice", min=low, max=low, posts="10", delay="30")
        return params
    params["link"] = EXAMPLE_VALUES["link"]
    if kind.units is Units.QUANTITY:
        params["quantity"] = str(service.min_quantity)
    for name in kind.required:
        params[name] = EXAMPLE_VALUES.get(name, "1")
    return params


def _curl(endpoint: str, params: dict[str, str]) -> str:
    lines = [f"curl -X POST {shlex.quote(endpoint)}"]
    lines += [f"  --data-urlencode {shlex.quote(f'{k}={v}')}" for k, v in params.items()]
    return " \\\n".join(lines)


def _php_value(value: str) -> str:
    return json.dumps(value, ensure_ascii=False).replace("$", "\\$")


def _php(endpoint: str, params: dict[str, str]) -> str:
    items = ",\n".join(f"    {_php_value(k)} => {_php_value(v)}" for k, v in params.items())
    return (
        "<?php\n"
        f"$ch = curl_init({_php_value(endpoint)});\n"
        "curl_setopt($ch, CURLOPT_POST, 1);\n"
        "curl_setopt($ch, CURLOPT_RETURNTRANSFER, 1);\n"
        f"curl_setopt($ch, CURLOPT_POSTFIELDS, http_build_query([\n{items}\n]));\n"
        "$answer = json_decode(curl_exec($ch), true);\n"
        "curl_close($ch);\n"
        "print_r($answer);"
    )


def _python(endpoint: str, params: dict[str, str]) -> str:
    items = ",\n".join(f"        {k!r}: {v!r}" for k, v in params.items())
    return (
        "import requests\n\n"
        "answer = requests.post(\n"
        f"    {endpoint!r},\n"
        f"    data={{\n{items},\n    }},\n"
        "    timeout=30,\n"
        ").json()\n"
        "print(answer)"
    )


def _doc(
    endpoint: str,
    action: str,
    title: str,
    parameters: tuple[Parameter, ...],
    extra: dict[str, str],
    response: object,
) -> ActionDoc:
    params = {"key": KEY, "action": action, **extra}
    return ActionDoc(
        action=action,
        title=title,
        parameters=(
            Parameter("key", N_("Your API key")),
            Parameter("action", N_("Action name")),
            *parameters,
        ),
        response=json.dumps(response, indent=2, ensure_ascii=False),
        curl=_curl(endpoint, params),
        php=_php(endpoint, params),
        python=_python(endpoint, params),
    )


def api_examples(endpoint: str, catalog: list[tuple[Service, str]]) -> list[ActionDoc]:
    service, category = catalog[0] if catalog else (None, "Instagram")
    listed = {
        "service": service.id if service else 1,
        "name": service.name if service else "Followers",
        "type": service.type if service else "Default",
        "category": category,
        "rate": "0.90",
        "min": str(service.min_quantity) if service else "50",
        "max": str(service.max_quantity) if service else "10000",
        "refill": service.refill if service else True,
        "cancel": service.cancel if service else True,
    }
    add_params = _add_params(service)
    add_fields = tuple(
        Parameter(name, ADD_DESCRIPTIONS.get(name, N_("The service's own field")))
        for name in add_params
    )
    return [
        _doc(endpoint, "services", N_("Service list"), (), {}, [listed]),
        _doc(endpoint, "add", N_("Add order"), add_fields, add_params, {"order": 23501}),
        _doc(
            endpoint,
            "status",
            N_("Order status"),
            (Parameter("order", N_("Order ID")),),
            {"order": "23501"},
            {
                "charge": "0.27819",
                "start_count": "3572",
                "status": "Partial",
                "remains": "157",
                "currency": "USD",
            },
        ),
        _doc(
            endpoint,
            "status",
            N_("Multiple orders status"),
            (Parameter("orders", N_("Order IDs separated by a comma (up to 100)")),),
            {"orders": "1,10,100"},
            {
                "1": {"charge": "0.27819", "start_count": "3572", "status": "Partial",
                      "remains": "157", "currency": "USD"},
                "10": {"error": "Incorrect order ID"},
            },
        ),
        _doc(endpoint, "refill", N_("Create refill"), (Parameter("order", N_("Order ID")),),
             {"order": "23501"}, {"refill": "1"}),
        _doc(
            endpoint,
            "refill",
            N_("Create multiple refills"),
            (Parameter("orders", N_("Order IDs separated by a comma (up to 100)")),),
            {"orders": "1,2,3"},
            [{"order": 1, "refill": 1}, {"order": 3, "refill": {"error": "Incorrect order ID"}}],
        ),
        _doc(endpoint, "refill_status", N_("Refill status"),
             (Parameter("refill", N_("Refill ID")),),
             {"refill": "1"}, {"status": "Completed"}),
        _doc(
            endpoint,
            "refill_status",
            N_("Multiple refills status"),
            (Parameter("refills", N_("Refill IDs separated by a comma (up to 100)")),),
            {"refills": "1,2"},
            [
                {"refill": 1, "status": "Completed"},
                {"refill": 2, "status": {"error": "Refill not found"}},
            ],
        ),
        _doc(
            endpoint,
            "cancel",
            N_("Cancel orders"),
            (Parameter("orders", N_("Order IDs separated by a comma (up to 100)")),),
            {"orders": "2,9"},
            [{"order": 9, "cancel": {"error": "Incorrect order ID"}}, {"order": 2, "cancel": 1}],
        ),
        _doc(
            endpoint,
            "balance",
            N_("User balance"),
            (),
            {},
            {"balance": "100.84292", "currency": "USD"},
        ),
    ]
