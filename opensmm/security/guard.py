"""The limits every API request passes, with their public messages.

(Web log-ins have their own, stored in the database: ``opensmm.web.sessions``.)
"""

from __future__ import annotations

import math

from opensmm.errors import DomainError
from opensmm.security.ratelimit import Limit, MemoryStore, RateStore, make_store
from opensmm.settings import Settings


class RateLimited(DomainError):
    """A refusal that tells the caller when to come back (also sent as ``Retry-After``)."""

    def __init__(self, message: str, retry_after: float) -> None:
        self.retry_after = max(1, math.ceil(retry_after))
        super().__init__(message.format(seconds=self.retry_after))


def _per_minute(limit: int, what: str) -> str:
    return f"Too many requests: at most {limit} per minute {what}; try again in {{seconds}} seconds"


class Guard:
    """Rate limits for one process; shared between processes when the store is Redis."""

    def __init__(self, settings: Settings, store: RateStore | None = None) -> None:
        self.store = store or make_store(settings.redis_url)
        self._memory = self.store if isinstance(self.store, MemoryStore) else None
        self.per_key = settings.rate_limit_per_key
        self.per_ip = settings.rate_limit_per_ip
        self.bad_keys_per_ip = settings.rate_limit_bad_keys_per_ip
        # The message of a refusal, by the kind of bucket that refused (its name's prefix).
        self._messages = {
            "ip": _per_minute(self.per_ip, "from this address"),
            "badkey": _per_minute(
                self.bad_keys_per_ip, "with an invalid API key from this address"
            ),
            "key": _per_minute(self.per_key, "for this key"),
        }

    def _limits(self, ip: str, key_hash: str | None) -> list[Limit]:
        limits: list[Limit] = []
        if self.per_ip > 0:
            limits.append(Limit("ip:" + ip, self.per_ip))
        if self.bad_keys_per_ip > 0:
            limits.append(Limit("badkey:" + ip, self.bad_keys_per_ip, spend=False))
        if self.per_key > 0 and key_hash is not None:
            # The hash of what was sent, not a database id: no lookup before the limit.
            limits.append(Limit("key:" + key_hash[:32], self.per_key))
        return limits

    async def admit(self, ip: str, key_hash: str | None) -> None:
        """Raise ``RateLimited`` when the address or the key is over its limit (``key_hash``
        None: what was sent cannot be a key; only the address's limits apply)."""
        limits = self._limits(ip, key_hash)
        if not limits:
            return
        if self._memory is not None:  # plain code: no coroutine to create and await
            refusal = self._memory.take_now(limits)
        else:
            refusal = await self.store.take(limits)
        if refusal is not None:
            kind = limits[refusal.index].bucket.partition(":")[0]
            raise RateLimited(self._messages[kind], refusal.retry_after)

    async def count_invalid_key(self, ip: str) -> None:
        """An answer of "Invalid API key" (or a key used outside its allow-list) spends one
        unit of the address's budget; once it is spent, the address is refused for a while."""
        if self.bad_keys_per_ip > 0:
            await self.store.take([Limit("badkey:" + ip, self.bad_keys_per_ip)])

    async def close(self) -> None:
        await self.store.close()
