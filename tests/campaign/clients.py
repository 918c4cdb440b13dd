"""Hundreds of resellers' scripts at once: placing, polling, refilling and cancelling.

Each client is an asyncio task with its own random generator (seeded: a campaign repeats
its traffic), its own account and the orders it was told about. A request goes to a random
server; when that server refuses the connection (killed), the other one is tried: nothing was
sent. When a connection breaks after the request went out, the answer is lost and the
request is counted "in doubt" and not retried (an ``add`` may then exist or not; only orders
whose ``{"order": N}`` arrived are promised to exist).
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from dataclasses import dataclass, field

import httpx

from opensmm.api.endpoint import INTERNAL_ERROR

OPERATIONS = {  # weights
    "add": 30,
    "status": 15,
    "status_many": 15,
    "refill": 8,
    "refill_status": 5,
    "cancel": 10,
    "balance": 12,
    "services": 5,
}


@dataclass(frozen=True)
class Account:
    id: int
    name: str
    key: str


@dataclass(frozen=True)
class Acknowledged:
    order_id: int
    account_id: int
    link: str


@dataclass
class Stats:
    outcomes: Counter[str] = field(default_factory=Counter)
    actions: Counter[str] = field(default_factory=Counter)
    acknowledged: list[Acknowledged] = field(default_factory=list)
    adds_in_doubt: int = 0

    @property
    def requests(self) -> int:
        return sum(self.outcomes.values())


class Load:
    def __init__(self, api_urls: list[str], accounts: list[Account], services: list[int],
                 clients: int, seed: int) -> None:  # fmt: skip
        self.api_urls = api_urls
        self.accounts = accounts
        self.services = services
        self.clients = clients
        self.seed = seed
        self.stats = Stats()

    async def run(self, stop: asyncio.Event) -> Stats:
        limits = httpx.Limits(max_connections=self.clients, max_keepalive_connections=self.clients)
        async with httpx.AsyncClient(timeout=30, limits=limits) as http:
            await asyncio.gather(*(self._client(http, n, stop) for n in range(self.clients)))
        return self.stats

    async def _call(self, http: httpx.AsyncClient, rng: random.Random, action: str,
                    params: dict[str, str]) -> object:  # fmt: skip
        self.stats.actions[action] += 1
        urls = rng.sample(self.api_urls, len(self.api_urls))
        for url in urls:
            try:
                response = await http.post(url, data=params)
            except httpx.ConnectError:
                continue  # nothing was sent: the next server may take it
            except httpx.HTTPError:
                self.stats.outcomes["connection lost (in doubt)"] += 1
                if action == "add":
                    self.stats.adds_in_doubt += 1
                return None
            if response.status_code != 200:
                self.stats.outcomes[f"HTTP {response.status_code}"] += 1
                return None
            answer = response.json()
            if isinstance(answer, dict) and "error" in answer:
                if answer["error"] == INTERNAL_ERROR:
                    self.stats.outcomes["internal error"] += 1
                elif answer["error"].startswith("Too many requests"):
                    self.stats.outcomes["rate limited"] += 1
                else:
                    self.stats.outcomes["refused"] += 1
            else:
                self.stats.outcomes["ok"] += 1
            return answer
        self.stats.outcomes["no server up"] += 1
        return None

    async def _client(self, http: httpx.AsyncClient, number: int, stop: asyncio.Event) -> None:
        rng = random.Random(self.seed * 100_003 + number)
        account = self.accounts[number % len(self.accounts)]
        orders: list[int] = []
        refills: list[int] = []
        sequence = 0
        names, weights = list(OPERATIONS), list(OPERATIONS.values())
        await asyncio.sleep(rng.uniform(0, 1))  # not all at the same instant
        while not stop.is_set():
            operation = rng.choices(names, weights)[0]
            if operation != "add" and operation not in ("balance", "services") and not orders:
                operation = "add"
            params = {"key": account.key}
            if operation == "add":
                sequence += 1
                link = f"https://campaign.test/{self.seed}/{number}/{sequence}"
                params.update(action="add", service=str(rng.choice(self.services)), link=link,
                              quantity=str(rng.randrange(100, 1001, 10)))  # fmt: skip
                answer = await self._call(http, rng, "add", params)
                if isinstance(answer, dict) and isinstance(answer.get("order"), int):
                    orders.append(answer["order"])
                    self.stats.acknowledged.append(Acknowledged(answer["order"], account.id, link))
            elif operation == "status":
                params.update(action="status", order=str(rng.choice(orders)))
                await self._call(http, rng, "status", params)
            elif operation == "status_many":
                chosen = rng.sample(orders, min(len(orders), rng.randint(2, 60)))
                params.update(action="status", orders=",".join(map(str, chosen)))
                await self._call(http, rng, "status", params)
            elif operation == "refill":
                params.update(action="refill", order=str(rng.choice(orders)))
                answer = await self._call(http, rng, "refill", params)
                if isinstance(answer, dict) and str(answer.get("refill", "")).isdigit():
                    refills.append(int(answer["refill"]))
            elif operation == "refill_status" and refills:
                params.update(action="refill_status", refills=",".join(map(str, refills[-20:])))
                await self._call(http, rng, "refill_status", params)
            elif operation == "cancel":
                chosen = rng.sample(orders, min(len(orders), rng.randint(1, 3)))
                params.update(action="cancel", orders=",".join(map(str, chosen)))
                await self._call(http, rng, "cancel", params)
            elif operation in ("balance", "services"):
                params.update(action=operation)
                await self._call(http, rng, operation, params)
            await asyncio.sleep(rng.uniform(0.05, 0.5))
