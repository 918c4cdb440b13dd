"""Rate limits: one algorithm, two stores behind one protocol.

The algorithm is GCRA (the "generic cell rate algorithm", a leaky bucket that keeps a single
number per bucket): a limit of N per minute lets a burst of N through, then one request every
60/N seconds. Each bucket stores its "theoretical arrival time" (TAT); a request is allowed
when ``TAT + interval - period <= now``.

``MemoryStore`` keeps the TATs in this process (the default: no I/O, no database). ``RedisStore``
keeps them in Redis, computed by a Lua script with the Redis server's clock, so that several
server processes share one limit. If Redis cannot be reached, requests are let through and the
failure is logged: a panel that stops taking orders because its limiter is down does its
customers more harm than a minute without limits.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

log = logging.getLogger("opensmm.security")

PERIOD_SECONDS = 60.0


class Limit(NamedTuple):
    """At most ``per_minute`` requests per minute in ``bucket``.

    ``spend=False`` only asks whether there is room for one more, without taking it (used to
    refuse an address that has used up its budget of invalid keys before looking up the key).
    A tuple, not a dataclass: three are built per request, and a tuple is built in C.
    """

    bucket: str
    per_minute: int
    spend: bool = True

    @property
    def interval(self) -> float:
        return PERIOD_SECONDS / self.per_minute


@dataclass(frozen=True, slots=True)
class Refusal:
    index: int  # which of the limits asked for refused
    retry_after: float  # seconds until that bucket has room again


class RateStore(Protocol):
    async def take(self, limits: Sequence[Limit]) -> Refusal | None:
        """Check the limits in order, spending one unit in each that spends; stop at the
        first without room and say which it was (units already spent stay spent)."""
        ...

    async def close(self) -> None: ...


class MemoryStore:
    """Buckets in this process. Safe from the event loop and from threads."""

    # Buckets past their TAT are as good as absent; sweep them now and then so that a flood
    # of made-up keys cannot grow the table without bound.
    SWEEP_EVERY = 10_000

    def __init__(self, clock: Any = time.monotonic) -> None:
        self._tat: dict[str, float] = {}
        self._lock = threading.Lock()
        self._clock = clock
        self._inserts = 0

    def take_now(self, limits: Sequence[Limit]) -> Refusal | None:
        now = self._clock()
        with self._lock:
            for index, limit in enumerate(limits):
                tat = max(self._tat.get(limit.bucket, now), now)
                new_tat = tat + limit.interval
                allow_at = new_tat - PERIOD_SECONDS
                if allow_at > now:
                    return Refusal(index, allow_at - now)
                if limit.spend:
                    if limit.bucket not in self._tat:
                        self._inserts += 1
                        if self._inserts >= self.SWEEP_EVERY:
                            self._sweep(now)
                    self._tat[limit.bucket] = new_tat
        return None

    def _sweep(self, now: float) -> None:
        self._inserts = 0
        self._tat = {bucket: tat for bucket, tat in self._tat.items() if tat > now}

    async def take(self, limits: Sequence[Limit]) -> Refusal | None:
        return self.take_now(limits)

    async def close(self) -> None:
        self._tat.clear()

    def __len__(self) -> int:
        return len(self._tat)


# KEYS: the buckets. ARGV: the period, then an (interval, spend) pair per key; times in
# microseconds (doubles hold them exactly until the year 2255).
# Returns {0, 0} when every limit has room, else {index (1-based), microseconds to wait}.
GCRA_LUA = """
local period = tonumber(ARGV[1])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
for i, key in ipairs(KEYS) do
  local interval = tonumber(ARGV[i * 2])
  local spend = ARGV[i * 2 + 1] == '1'
  local tat = tonumber(redis.call('GET', key) or now)
  if tat < now then tat = now end
  local new_tat = tat + interval
  local allow_at = new_tat - period
  if allow_at > now then
    return {i, math.ceil(allow_at - now)}
  end
  if spend then
    local ttl_ms = math.ceil((new_tat - now) / 1000) + 1
    redis.call('SET', key, string.format('%.0f', new_tat), 'PX', ttl_ms)
  end
end
return {0, 0}
"""

REDIS_PREFIX = "opensmm:rl:"
# How often a Redis outage is logged (it may last for thousands of requests).
OUTAGE_LOG_SECONDS = 30.0


class RedisStore:
    """Buckets in Redis, shared by every process that uses the same Redis."""

    def __init__(self, url: str, *, timeout: float = 0.5) -> None:
        import redis.asyncio as aioredis

        self.url = url
        self._client: Any = aioredis.Redis.from_url(
            url, socket_timeout=timeout, socket_connect_timeout=timeout
        )
        self._script: Any = self._client.register_script(GCRA_LUA)
        self._last_outage_log = 0.0
        self.errors = 0

    async def take(self, limits: Sequence[Limit]) -> Refusal | None:
        import redis

        args: list[float | int | str] = [int(PERIOD_SECONDS * 1_000_000)]
        for limit in limits:
            args.append(int(limit.interval * 1_000_000))
            args.append("1" if limit.spend else "0")
        try:
            index, wait = await self._script(
                keys=[REDIS_PREFIX + limit.bucket for limit in limits], args=args
            )
        except (redis.RedisError, OSError) as exc:
            self._outage(exc)
            return None
        if int(index) == 0:
            return None
        return Refusal(int(index) - 1, int(wait) / 1_000_000)

    def _outage(self, exc: BaseException) -> None:
        from opensmm.observability import metrics

        self.errors += 1
        metrics.RATE_LIMIT_BACKEND_ERRORS.inc()
        now = time.monotonic()
        if now - self._last_outage_log >= OUTAGE_LOG_SECONDS:
            self._last_outage_log = now
            log.warning(
                "rate limits are off: Redis is unreachable (%s); requests are let through",
                type(exc).__name__,
            )

    async def close(self) -> None:
        await self._client.aclose()


def make_store(redis_url: str | None) -> RateStore:
    return RedisStore(redis_url) if redis_url else MemoryStore()
