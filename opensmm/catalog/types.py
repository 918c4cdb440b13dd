"""The service types of the API v2 (spec §3) and what each needs on ``add``."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Units(Enum):
    """How an order of a type counts the units it is charged for."""

    QUANTITY = "quantity"  # the ``quantity`` field (× runs for drip-feed)
    FLAT = "flat"  # a package: the charge is the rate itself
    COMMENT_LINES = "comment_lines"  # non-empty lines of ``comments``
    USERNAME_LINES = "username_lines"  # non-empty lines of ``usernames``
    SUBSCRIPTION = "subscription"  # max × posts


@dataclass(frozen=True)
class ServiceType:
    name: str
    units: Units
    required: tuple[str, ...] = ()
    needs_link: bool = True


SERVICE_TYPES: dict[str, ServiceType] = {
    t.name: t
    for t in (
        ServiceType("Default", Units.QUANTITY),
        ServiceType("Package", Units.FLAT),
        ServiceType("Custom Comments", Units.COMMENT_LINES, ("comments",)),
        ServiceType("Custom Comments Package", Units.FLAT, ("comments",)),
        ServiceType("Mentions", Units.QUANTITY, ("usernames",)),
        ServiceType("Mentions with Hashtags", Units.QUANTITY, ("usernames", "hashtags")),
        ServiceType("Mentions Custom List", Units.USERNAME_LINES, ("usernames",)),
        ServiceType("Mentions Hashtag", Units.QUANTITY, ("hashtag",)),
        ServiceType("Mentions User Followers", Units.QUANTITY, ("username",)),
        ServiceType("Mentions Media Likers", Units.QUANTITY, ("media",)),
        ServiceType("Comment Likes", Units.QUANTITY, ("username",)),
        ServiceType("Comment Replies", Units.COMMENT_LINES, ("username", "comments")),
        ServiceType("Poll", Units.QUANTITY, ("answer_number",)),
        ServiceType("Invites from Groups", Units.QUANTITY, ("groups",)),
        ServiceType(
            "Subscriptions", Units.SUBSCRIPTION, ("username", "min", "max", "delay"), False
        ),
    )
}


def service_type(name: str) -> ServiceType:
    try:
        return SERVICE_TYPES[name]
    except KeyError:
        known = ", ".join(SERVICE_TYPES)
        raise ValueError(f"Unknown service type {name!r}; known types: {known}") from None
