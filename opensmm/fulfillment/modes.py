"""Which :class:`~opensmm.fulfillment.protocol.Fulfillment` handles an order."""

from __future__ import annotations

import threading

from opensmm.catalog.service import MANUAL, PROVIDER, SIMULATOR
from opensmm.client import Client
from opensmm.fulfillment.config import WorkerConfig
from opensmm.fulfillment.health import ProviderView
from opensmm.fulfillment.manual import ManualFulfillment
from opensmm.fulfillment.protocol import Fulfillment
from opensmm.fulfillment.provider import ProviderFulfillment
from opensmm.fulfillment.simulator import SimulatorFulfillment


class Modes:
    """One instance of each mode; one client per provider, rebuilt if its URL or key change."""

    def __init__(self, config: WorkerConfig) -> None:
        self.config = config
        self.manual = ManualFulfillment()
        self.simulator = SimulatorFulfillment(config.simulator)
        self._providers: dict[int, tuple[tuple[str, str], ProviderFulfillment]] = {}
        self._lock = threading.Lock()

    def provider(self, view: ProviderView) -> ProviderFulfillment:
        identity = (view.url, view.api_key)
        with self._lock:
            known = self._providers.get(view.id)
            if known is not None and known[0] == identity:
                return known[1]
            client = Client(view.url, view.api_key, timeout=self.config.http_timeout)
            mode = ProviderFulfillment(view.id, view.name, client)
            self._providers[view.id] = (identity, mode)
        if known is not None:
            known[1].close()
        return mode

    def get(self, fulfillment: str, provider: ProviderView | None) -> Fulfillment:
        if fulfillment == SIMULATOR:
            return self.simulator
        if fulfillment == PROVIDER and provider is not None:
            return self.provider(provider)
        if fulfillment == MANUAL:
            return self.manual
        raise LookupError(f"no fulfillment for mode {fulfillment!r}")

    def close(self) -> None:
        with self._lock:
            modes = [mode for _, mode in self._providers.values()]
            self._providers.clear()
        for mode in modes:
            mode.close()
