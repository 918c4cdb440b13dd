"""The admin API's requests and answers as Pydantic models.

The same classes validate what comes in (bodies strictly: JSON types as declared, no unknown
fields) and make the OpenAPI document (``opensmm.adminapi.openapi``), so the two cannot drift.
Money travels as decimal strings (``"12.50"``), never as JSON numbers (binary floats).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from opensmm.db.pagination import MAX_PAGE
from opensmm.db.types import MAX_ID

# At most twelve whole digits and five decimals: what the ledger holds exactly.
MONEY_PATTERN = r"^-?[0-9]{1,12}(\.[0-9]{1,5})?$"
POSITIVE_MONEY_PATTERN = r"^[0-9]{1,12}(\.[0-9]{1,5})?$"
MAX_COUNT = 2_000_000_000
# No control characters (PostgreSQL cannot even bind a NUL); TEXT keeps tabs and line breaks.
LINE = r"^[^\x00-\x1f\x7f]*$"
TEXT = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"

Id = Annotated[int, Field(ge=1, le=MAX_ID)]
Count = Annotated[int, Field(ge=0, le=MAX_COUNT)]
Page = Annotated[int, Field(ge=1, le=MAX_PAGE)]
Money = Annotated[str, Field(description="A decimal string with at most five decimals.")]
OrderStatus = Literal[
    "Pending", "In progress", "Processing", "Completed", "Partial", "Canceled", "Active",
    "Paused", "Expired",
]
RefillStatus = Literal["Pending", "In progress", "Completed", "Rejected", "Error"]
PaymentState = Literal["pending", "paid", "partially_paid", "expired", "failed", "refunded",
                       "disputed"]
CancelState = Literal["requested", "sent", "refused"]
Fulfillment = Literal["manual", "provider", "simulator"]
# (tests/adminapi checks these against opensmm.orders.statuses, refills.statuses and
# payments.models.STATES)


class Query(BaseModel):
    """Query strings: numbers come as text and are converted; unknown names are refused."""

    model_config = ConfigDict(extra="forbid")


class Body(BaseModel):
    """JSON bodies: strict types, unknown fields refused."""

    model_config = ConfigDict(extra="forbid", strict=True)


class Answer(BaseModel):
    pass


# --- errors ---------------------------------------------------------------------------------
class Problem(BaseModel):
    loc: list[str | int]
    message: str


class ErrorDetail(BaseModel):
    code: Literal["unauthorized", "forbidden", "not_found", "method_not_allowed", "invalid",
                  "refused", "too_large", "rate_limited", "internal"]
    message: str
    problems: list[Problem] = Field(default_factory=list)


class ErrorAnswer(BaseModel):
    """Every refusal: ``{"error": {"code": ..., "message": ...}}`` with its HTTP status."""

    error: ErrorDetail


# --- lists ----------------------------------------------------------------------------------
class Listing(Answer):
    page: int
    per_page: int
    total: int
    pages: int


class PageQuery(Query):
    page: Page = 1


# --- orders ---------------------------------------------------------------------------------
class OrderQuery(PageQuery):
    status: OrderStatus | None = None
    user: Id | None = Field(default=None, description="A customer's id.")
    service: Id | None = Field(default=None, description="A service's id.")
    search: Annotated[str, Field(max_length=200, pattern=LINE)] = Field(
        default="", description="An order id, or a piece of the link."
    )
    fulfillment: Fulfillment | None = None
    cancel_state: CancelState | None = None


class CancelsQuery(PageQuery):
    state: CancelState | None = Field(
        default=None, description="Only this state of the customer's cancel (default: any)."
    )


class OrderOut(Answer):
    id: int
    user_id: int
    user: str
    service_id: int
    service: str
    link: str
    quantity: int
    units: int
    charge: Money
    refunded: Money
    status: str
    start_count: int | None
    remains: int
    runs: int | None
    interval: int | None
    fulfillment: str
    provider_id: int | None
    send_state: str | None
    upstream_id: int | None
    held_reason: str | None
    alert: str | None
    cancel_state: str | None
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None


class OrderList(Listing):
    items: list[OrderOut]


class OrderChange(Body):
    """Set any of status, start count and remains. Partial and Canceled refund exactly once
    (Partial: the remains' share; Canceled: all that was not refunded yet)."""

    status: OrderStatus | None = None
    start_count: Count | None = None
    remains: Count | None = None


class PartialBody(Body):
    remains: Annotated[int, Field(ge=1, le=MAX_COUNT)] = Field(
        description="What was not delivered: its share of the charge is refunded."
    )


# --- refills --------------------------------------------------------------------------------
class RefillQuery(PageQuery):
    status: RefillStatus | None = None


class RefillOut(Answer):
    id: int
    order_id: int
    user_id: int
    user: str
    link: str
    status: str
    send_state: str | None
    upstream_id: int | None
    held_reason: str | None
    created_at: datetime
    updated_at: datetime


class RefillList(Listing):
    items: list[RefillOut]


class RefillChange(Body):
    status: RefillStatus


# --- users ----------------------------------------------------------------------------------
class UserQuery(PageQuery):
    search: Annotated[str, Field(max_length=254, pattern=LINE)] = Field(
        default="", description="A piece of the name or email."
    )


class UserOut(Answer):
    id: int
    name: str
    email: str | None
    is_admin: bool
    status: str
    balance: Money
    discount_percent: Money
    created_at: datetime


class UserList(Listing):
    items: list[UserOut]


class BalanceChange(Body):
    """Add to (or, negative, take from) a balance through the ledger, once per key."""

    amount: Annotated[str, Field(pattern=MONEY_PATTERN, max_length=19)] = Field(
        description="A decimal string, not zero; negative takes funds back.",
        examples=["12.50"],
    )
    memo: Annotated[str, Field(min_length=1, max_length=500, pattern=TEXT)] = Field(
        description="Shown to the customer with the movement."
    )
    idempotency_key: Annotated[str, Field(pattern=r"^[A-Za-z0-9._:-]{8,100}$")] = Field(
        description="Chosen by the caller: the same key again moves nothing (a safe retry)."
    )


class BalanceChanged(Answer):
    user_id: int
    amount: Money
    idempotency_key: str
    replayed: bool = Field(description="True: this key had already moved the money.")
    balance: Money


# --- payments -------------------------------------------------------------------------------
class PaymentQuery(PageQuery):
    state: PaymentState | None = None
    user: Annotated[str, Field(max_length=64, pattern=LINE)] | None = Field(
        default=None, description="A customer's name."
    )
    method: Annotated[str, Field(max_length=40, pattern=LINE)] | None = None
    needs_review: bool = False


class PaymentOut(Answer):
    id: int
    user_id: int
    user: str
    method: str
    gateway: str
    state: str
    amount: Money
    currency: str
    paid: Money
    fee: Money
    bonus: Money
    reference: str | None
    needs_review: bool
    note: str
    created_at: datetime
    settled_at: datetime | None


class PaymentList(Listing):
    items: list[PaymentOut]


class Approval(Body):
    amount: Annotated[str, Field(pattern=POSITIVE_MONEY_PATTERN, max_length=18)] | None = Field(
        default=None,
        description="What really came, when it differs from the amount asked (then the "
        "payment is flagged for review).",
    )


class Rejection(Body):
    reason: Annotated[str, Field(min_length=3, max_length=500, pattern=TEXT)] = Field(
        description="Shown to the customer."
    )
