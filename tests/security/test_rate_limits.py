"""Rate limits: the algorithm in both stores, and what a client sees over HTTP."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest

from opensmm.security.ratelimit import Limit, MemoryStore, RedisStore
from tests.security.support import panel_with
from tests.support.databases import KINDS


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def run(coroutine):  # type: ignore[no-untyped-def]
    return asyncio.run(coroutine)


# --- the algorithm, in memory -----------------------------------------------------------
def test_memory_store_lets_a_burst_through_then_one_per_interval() -> None:
    clock = FakeClock()
    store = MemoryStore(clock)
    limit = Limit("key:a", per_minute=6)  # a burst of 6, then one every 10 s
    assert [store.take_now([limit]) for _ in range(6)] == [None] * 6
    refusal = store.take_now([limit])
    assert refusal is not None and refusal.index == 0
    assert refusal.retry_after == pytest.approx(10.0)
    clock.now += 9.9
    assert store.take_now([limit]) is not None
    clock.now += 0.2
    assert store.take_now([limit]) is None
    assert store.take_now([limit]) is not None
    # Another bucket is untouched by this one.
    assert store.take_now([Limit("key:b", per_minute=6)]) is None


def test_memory_store_peek_does_not_spend_and_names_the_refusing_limit() -> None:
    clock = FakeClock()
    store = MemoryStore(clock)
    budget = Limit("bad:x", per_minute=2)
    peek = Limit("bad:x", per_minute=2, spend=False)
    for _ in range(10):
        assert store.take_now([peek]) is None  # looking costs nothing
    store.take_now([budget])
    store.take_now([budget])
    refusal = store.take_now([Limit("ip:x", per_minute=100), peek])
    assert refusal is not None and refusal.index == 1
    assert refusal.retry_after == pytest.approx(30.0)


def test_memory_store_forgets_idle_buckets() -> None:
    clock = FakeClock()
    store = MemoryStore(clock)
    store.SWEEP_EVERY = 100
    for number in range(99):
        store.take_now([Limit(f"key:{number}", per_minute=60)])
    assert len(store) == 99
    clock.now += 120  # every bucket is past its time
    store.take_now([Limit("key:new", per_minute=60)])
    assert len(store) == 1


# --- the same algorithm in Redis (shared by processes) -----------------------------------
def test_redis_store_shares_one_limit_between_two_stores(redis_url: str) -> None:

    async def scenario() -> list[bool]:
        first, second = RedisStore(redis_url), RedisStore(redis_url)
        limit = Limit(f"test:{uuid.uuid4().hex}", per_minute=4)
        try:
            answers = []
            for store in (first, second, first, second, first, second):
                answers.append(await store.take([limit]) is None)
            assert first.errors == second.errors == 0
            return answers
        finally:
            await first.close()
            await second.close()

    assert run(scenario()) == [True, True, True, True, False, False]


def test_redis_store_reports_the_wait_and_the_refusing_limit(redis_url: str) -> None:

    async def scenario() -> None:
        store = RedisStore(redis_url)
        bucket = f"test:{uuid.uuid4().hex}"
        try:
            assert await store.take([Limit(bucket, per_minute=1, spend=False)]) is None
            assert await store.take([Limit(bucket, per_minute=1)]) is None
            refusal = await store.take(
                [Limit(f"test:{uuid.uuid4().hex}", per_minute=10), Limit(bucket, per_minute=1)]
            )
            assert refusal is not None and refusal.index == 1
            assert 55 < refusal.retry_after <= 60
        finally:
            await store.close()

    run(scenario())


def test_redis_store_lets_requests_through_when_redis_is_down() -> None:
    async def scenario() -> int:
        # Nothing listens on port 1: every call fails at once.
        store = RedisStore("redis://127.0.0.1:1/0", timeout=0.2)
        try:
            for _ in range(3):
                assert await store.take([Limit("test:down", per_minute=1)]) is None
            return store.errors
        finally:
            await store.close()

    assert run(scenario()) == 3


# --- over HTTP ---------------------------------------------------------------------------
def _get(panel, key: str, action: str = "balance") -> httpx.Response:  # type: ignore[no-untyped-def]
    response = panel.http.get(panel.api_url, params={"key": key, "action": action})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    return response


@pytest.mark.parametrize("kind", KINDS)
def test_a_key_over_its_limit_gets_a_clear_error_and_others_go_on(
    kind: str, database_servers: dict
) -> None:
    with panel_with(
        kind,
        database_servers,
        OPENSMM_RATE_LIMIT_PER_KEY="3",
        OPENSMM_RATE_LIMIT_PER_IP="0",
        OPENSMM_RATE_LIMIT_BAD_KEYS_PER_IP="0",
    ) as panel:
        busy, quiet = panel.customer(balance="5"), panel.customer(balance="5")
        service = panel.service(rate="1")
        for _ in range(3):
            assert _get(panel, busy.key).json() == {"balance": "5.00", "currency": "USD"}
        refused = _get(panel, busy.key)
        assert refused.json() == {
            "error": "Too many requests: at most 3 per minute for this key; try again in "
            f"{refused.headers['retry-after']} seconds"
        }
        assert 1 <= int(refused.headers["retry-after"]) <= 20
        # A refused order changes nothing: no order, no charge.
        refused_add = panel.api(
            busy.key, "add", service=service, link="https://x.test/a", quantity=100
        )
        assert refused_add["error"].startswith("Too many requests")
        assert panel.balance(busy) == 5
        assert _get(panel, quiet.key).json() == {"balance": "5.00", "currency": "USD"}
        assert panel.ledger_mismatches() == []


@pytest.mark.parametrize("kind", KINDS)
def test_an_address_over_its_limit_is_refused_whatever_the_key(
    kind: str, database_servers: dict
) -> None:
    with panel_with(
        kind,
        database_servers,
        OPENSMM_RATE_LIMIT_PER_IP="4",
        OPENSMM_RATE_LIMIT_PER_KEY="0",
        OPENSMM_RATE_LIMIT_BAD_KEYS_PER_IP="0",
    ) as panel:
        keys = [panel.customer().key for _ in range(5)]
        answers = [_get(panel, key).json() for key in keys]
        assert answers[:4] == [{"balance": "0.00", "currency": "USD"}] * 4
        assert answers[4]["error"].startswith(
            "Too many requests: at most 4 per minute from this address; try again in"
        )


@pytest.mark.parametrize("kind", KINDS)
def test_guessing_keys_gets_the_address_refused_even_with_a_good_key(
    kind: str, database_servers: dict
) -> None:
    with panel_with(
        kind,
        database_servers,
        OPENSMM_RATE_LIMIT_BAD_KEYS_PER_IP="5",
        OPENSMM_RATE_LIMIT_PER_IP="0",
        OPENSMM_RATE_LIMIT_PER_KEY="0",
    ) as panel:
        good = panel.customer()
        assert _get(panel, good.key).json()["currency"] == "USD"
        guesses = ["A" * 40, "short", "B" * 40, "", "C" * 40]
        for guess in guesses:
            assert _get(panel, guess).json() == {"error": "Invalid API key"}
        blocked = _get(panel, good.key).json()
        assert blocked["error"].startswith(
            "Too many requests: at most 5 per minute with an invalid API key from this address"
        )
        assert int(_get(panel, "D" * 40).headers["retry-after"]) >= 1


@pytest.mark.parametrize("kind", KINDS)
def test_two_server_processes_share_one_limit_through_redis(
    kind: str, database_servers: dict, redis_url: str
) -> None:
    env = {
        "OPENSMM_REDIS_URL": redis_url,
        "OPENSMM_RATE_LIMIT_PER_KEY": "4",
        "OPENSMM_RATE_LIMIT_PER_IP": "0",
        "OPENSMM_RATE_LIMIT_BAD_KEYS_PER_IP": "0",
    }
    with panel_with(kind, database_servers, **env) as first:
        second = type(first)(kind=kind, database_url=first.database_url, db=first.db)
        second.start(env=env)
        try:
            customer = first.customer()
            answers = [_get(server, customer.key).json() for server in (first, second) * 3]
        finally:
            second.stop()
    assert answers[:4] == [{"balance": "0.00", "currency": "USD"}] * 4
    assert all(answer["error"].startswith("Too many requests") for answer in answers[4:])
    # Each process alone would have allowed 4: the fifth and sixth were refused by the
    # shared count.


@pytest.mark.parametrize("kind", KINDS)
def test_default_limits_do_not_throttle_a_busy_reseller(kind: str, database_servers: dict) -> None:
    with panel_with(kind, database_servers) as panel:
        customer = panel.customer()
        answers = {str(_get(panel, customer.key).json()) for _ in range(300)}
    assert answers == {str({"balance": "0.00", "currency": "USD"})}
