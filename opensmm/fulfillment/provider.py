"""The ``provider`` mode: orders are forwarded to an upstream panel over API v2.

Every client failure is sorted by one question: could the upstream have acted? The
client answers it (``ClientError.outcome_unknown``); this module turns the answer into a
:class:`~opensmm.fulfillment.protocol.SendOutcome` or an
:class:`~opensmm.fulfillment.protocol.UpstreamFailure`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Any

from opensmm.catalog.types import Units, service_type
from opensmm.client import (
    ApiError,
    Client,
    ClientError,
    InvalidArgument,
    InvalidKey,
    ItemError,
    MalformedItem,
    NotEnoughFunds,
    ServiceNotFound,
    SubscriptionStatus,
)
from opensmm.fulfillment.protocol import (
    Accepted,
    CancelAnswer,
    InDoubt,
    ItemProblem,
    NotSent,
    Observation,
    Outbound,
    OutboundRefill,
    RefillObservation,
    SendOutcome,
    Tracked,
    TrackedRefill,
    UpstreamFailure,
)
from opensmm.fulfillment.statuses import (
    order_observation,
    refill_observation,
    subscription_observation,
)

log = logging.getLogger("opensmm.fulfillment")

# Fields of an order's ``fields`` that are ours, not the upstream's.
_LOCAL_FIELDS = frozenset({"type"})
_LINE_FIELDS = frozenset({"comments", "usernames", "groups"})


def add_fields(order: Outbound) -> dict[str, Any]:
    """The ``add`` fields beyond service/link/quantity: drip-feed and the type's own."""
    fields: dict[str, Any] = {}
    for name, value in order.fields.items():
        if name in _LOCAL_FIELDS or value in (None, ""):
            continue
        if name in _LINE_FIELDS and isinstance(value, str):
            # One per line, blank lines dropped: the upstream counts what we charged for.
            fields[name] = [line.strip() for line in value.splitlines() if line.strip()]
        else:
            fields[name] = value
    if order.runs is not None and order.interval is not None:
        fields["runs"] = order.runs
        fields["interval"] = order.interval
    if order.idempotency_key:
        fields["idempotency_key"] = order.idempotency_key
    return fields


def quantity_to_send(order_type: str, quantity: int) -> int | None:
    """Types charged by quantity send it; packages and line-counted types do not."""
    units = service_type(order_type).units
    return quantity if units is Units.QUANTITY else None


# "Service is disabled", "service not active", "Service unavailable": the upstream turned
# the service off (an unknown service id is ``ServiceNotFound``).
_SERVICE_OFF = re.compile(
    r"\bservice( id)?( \d+)? (is )?(currently )?(disabled|inactive|not active|unavailable|"
    r"not available|off|closed|paused|stopped)\b"
)


def refuses_the_service(exc: ApiError) -> bool:
    """The refusal is about the service at this provider, not about the order: another
    provider's service may well take the same order."""
    if isinstance(exc, ServiceNotFound):
        return True
    return _SERVICE_OFF.search(" ".join(exc.message.casefold().split())) is not None


def _failure(exc: ClientError) -> UpstreamFailure:
    return UpstreamFailure(
        str(exc) or type(exc).__name__,
        funds=isinstance(exc, NotEnoughFunds),
        in_doubt=exc.outcome_unknown,
    )


class ProviderFulfillment:
    """One upstream panel. ``client`` is shared by the worker's threads (httpx pools)."""

    mode = "provider"
    remote = True

    def __init__(self, provider_id: int, name: str, client: Client) -> None:
        self.provider_id = provider_id
        self.name = f"provider:{name}"
        self.client = client

    def close(self) -> None:
        self.client.close()

    # --- orders --------------------------------------------------------------------

    def send(self, order: Outbound) -> SendOutcome:
        # A subscription has no link at most panels; the client insists on one.
        link = order.link or str(order.fields.get("username") or "")
        try:
            upstream_id = self.client.add(order.service, link, order.quantity, **add_fields(order))
        except NotEnoughFunds as exc:
            return NotSent(
                f"Not enough funds at the provider: {exc}",
                retry=True,
                provider_problem=True,
                funds=True,
                reroute=True,
            )
        except InvalidKey as exc:
            return NotSent(
                f"The provider refused our API key: {exc}", retry=True, provider_problem=True,
                reroute=True,
            )
        except ApiError as exc:
            return NotSent(
                f"The provider refused the order: {exc}", retry=False,
                reroute=refuses_the_service(exc),
            )
        except InvalidArgument as exc:
            return NotSent(f"The order cannot be sent as it is: {exc}", retry=False)
        except ClientError as exc:
            if exc.outcome_unknown:
                return InDoubt(f"The provider may or may not have created it: {exc}")
            return NotSent(f"The provider could not be reached: {exc}", retry=True,
                           provider_problem=True)
        return Accepted(upstream_id)

    def poll(self, orders: Sequence[Tracked]) -> dict[int, Observation | ItemProblem]:
        result: dict[int, Observation | ItemProblem] = {}
        plain = [order for order in orders if not order.subscription]
        if plain:
            result.update(self._poll(plain, subscriptions=False))
        subscriptions = [order for order in orders if order.subscription]
        if subscriptions:
            # Read as subscriptions: their ``posts`` count makes our posts' orders.
            result.update(self._poll(subscriptions, subscriptions=True))
        return result

    def _poll(
        self, orders: Sequence[Tracked], *, subscriptions: bool
    ) -> dict[int, Observation | ItemProblem]:
        by_upstream = {order.upstream_id: order for order in orders}
        try:
            answers: dict[int, Any] = dict(
                self.client.subscription_status_many(list(by_upstream))
                if subscriptions
                else self.client.status_many(list(by_upstream))
            )
        except ClientError as exc:
            raise _failure(exc) from exc
        result: dict[int, Observation | ItemProblem] = {}
        for upstream_id, order in by_upstream.items():
            answer = answers.get(upstream_id)
            if answer is None:
                result[order.order_id] = ItemProblem("The provider's answer left this order out")
            elif isinstance(answer, MalformedItem):
                result[order.order_id] = _malformed("order", upstream_id, answer)
            elif isinstance(answer, ItemError):
                result[order.order_id] = ItemProblem(f"The provider answered: {answer.message}")
            elif isinstance(answer, SubscriptionStatus):
                result[order.order_id] = subscription_observation(answer)
            else:
                result[order.order_id] = order_observation(answer, subscription=order.subscription)
        return result

    def cancel(self, orders: Sequence[Tracked]) -> dict[int, CancelAnswer]:
        by_upstream = {order.upstream_id: order for order in orders}
        try:
            answers = self.client.cancel(list(by_upstream))
        except ClientError as exc:
            raise _failure(exc) from exc
        result: dict[int, CancelAnswer] = {}
        for upstream_id, order in by_upstream.items():
            answer = answers.get(upstream_id)
            if isinstance(answer, MalformedItem):
                # Accepted or not, nobody can tell: the cancel stays requested, and is
                # forwarded again (a second cancel of an order is harmless upstream).
                log.error("ALERT order %s: %s", order.order_id,
                          _malformed("cancel of order", upstream_id, answer).reason)
                continue
            if answer is True:
                result[order.order_id] = CancelAnswer(accepted=True)
            elif isinstance(answer, ItemError):
                result[order.order_id] = CancelAnswer(accepted=False, reason=answer.message)
            else:
                result[order.order_id] = CancelAnswer(
                    accepted=False, reason="The provider did not accept the cancel"
                )
        return result

    # --- refills -------------------------------------------------------------------

    def send_refill(self, refill: OutboundRefill) -> SendOutcome:
        try:
            upstream_id = self.client.refill(refill.order_upstream_id)
        except NotEnoughFunds as exc:
            return NotSent(f"Not enough funds at the provider: {exc}", retry=True,
                           provider_problem=True, funds=True)
        except InvalidKey as exc:
            return NotSent(
                f"The provider refused our API key: {exc}", retry=True, provider_problem=True
            )
        except ApiError as exc:
            return NotSent(f"The provider refused the refill: {exc}", retry=False)
        except ClientError as exc:
            if exc.outcome_unknown:
                return InDoubt(f"The provider may or may not have opened the refill: {exc}")
            return NotSent(f"The provider could not be reached: {exc}", retry=True,
                           provider_problem=True)
        return Accepted(upstream_id)

    def poll_refills(
        self, refills: Sequence[TrackedRefill]
    ) -> dict[int, RefillObservation | ItemProblem]:
        by_upstream = {refill.upstream_id: refill for refill in refills}
        try:
            answers = self.client.refill_status_many(list(by_upstream))
        except ClientError as exc:
            raise _failure(exc) from exc
        result: dict[int, RefillObservation | ItemProblem] = {}
        for upstream_id, refill in by_upstream.items():
            answer = answers.get(upstream_id)
            if answer is None:
                result[refill.refill_id] = ItemProblem("The provider's answer left this refill out")
            elif isinstance(answer, MalformedItem):
                result[refill.refill_id] = _malformed("refill", upstream_id, answer)
            elif isinstance(answer, ItemError):
                result[refill.refill_id] = ItemProblem(f"The provider answered: {answer.message}")
            else:
                result[refill.refill_id] = refill_observation(answer)
        return result


def _malformed(what: str, upstream_id: int, answer: MalformedItem) -> ItemProblem:
    """A broken entry of an otherwise good answer: it names the upstream id, says what was
    wrong and shows the entry, so a person can take it to the provider."""
    return ItemProblem(
        f"the provider's entry for its {what} {upstream_id} is unreadable "
        f"({answer.message.removeprefix('unreadable entry: ')}): {answer.entry}"
    )
