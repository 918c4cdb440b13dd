"""A client for any SMM panel speaking API v2, sync (:class:`Client`) and async
(:class:`AsyncClient`), over httpx. See docs/client.md.

    from opensmm.client import Client

    with Client("https://panel.example/api/v2", key) as panel:
        order_id = panel.add(service=1, link="https://instagram.com/p/x", quantity=100)
        print(panel.status(order_id).status)
"""

from opensmm.client.async_ import AsyncClient
from opensmm.client.errors import (
    ApiError,
    BadResponse,
    ClientError,
    ConnectError,
    ConnectionDropped,
    ConnectTimeout,
    DoubtfulError,
    DuplicateActiveOrder,
    HTTPServerError,
    HTTPStatusError,
    IncorrectRequest,
    InvalidArgument,
    InvalidKey,
    InvalidLink,
    NotEnoughFunds,
    OrderNotFound,
    QuantityOutOfRange,
    RefillNotFound,
    ServiceNotFound,
    Timeout,
    TransportError,
    UnknownStatusError,
    classify_api_error,
)
from opensmm.client.models import (
    Balance,
    ItemError,
    MalformedItem,
    OrderStatus,
    Service,
    SubscriptionStatus,
)
from opensmm.client.protocol import DEFAULT_TIMEOUT, MAX_IDS, USER_AGENT, AddFields
from opensmm.client.statuses import (
    OrderState,
    RefillState,
    SubscriptionState,
    UnknownStatus,
    parse_order_state,
    parse_refill_state,
    parse_subscription_state,
    require_known,
)
from opensmm.client.sync import Client

__all__ = [
    "DEFAULT_TIMEOUT",
    "MAX_IDS",
    "USER_AGENT",
    "AddFields",
    "ApiError",
    "AsyncClient",
    "BadResponse",
    "Balance",
    "Client",
    "ClientError",
    "ConnectError",
    "ConnectTimeout",
    "ConnectionDropped",
    "DoubtfulError",
    "DuplicateActiveOrder",
    "HTTPServerError",
    "HTTPStatusError",
    "IncorrectRequest",
    "InvalidArgument",
    "InvalidKey",
    "InvalidLink",
    "ItemError",
    "MalformedItem",
    "NotEnoughFunds",
    "OrderNotFound",
    "OrderState",
    "OrderStatus",
    "QuantityOutOfRange",
    "RefillNotFound",
    "RefillState",
    "Service",
    "ServiceNotFound",
    "SubscriptionState",
    "SubscriptionStatus",
    "Timeout",
    "TransportError",
    "UnknownStatus",
    "UnknownStatusError",
    "classify_api_error",
    "parse_order_state",
    "parse_refill_state",
    "parse_subscription_state",
    "require_known",
]
