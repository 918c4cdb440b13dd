"""The one exception type that business rules raise.

Every refusal carries its public, human message: the API answers it as
``{"error": message}``, the web pages flash it, the CLI prints it. Anything else that
escapes a service is a bug: it is logged and answered with a generic error.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


class DomainError(Exception):
    """A refusal that is safe to show to the person or script that asked."""

    message: str = "Incorrect request"

    def __init__(self, message: str | None = None) -> None:
        if message is not None:
            self.message = message
        super().__init__(self.message)


class IncorrectRequest(DomainError):
    message = "Incorrect request"


class NotFound(DomainError):
    """Something named by the caller does not exist (or is not theirs)."""


@dataclass(frozen=True)
class Decision:
    """A service's answer to "may this be done?": ``allowed``, or the reason it is not.

    ``reason`` is an English message (marked with ``N_``) and ``params`` its values: the
    API answers ``message``; pages show ``ctx.t(reason, **params)``. A decision is truthy
    when allowed, so that a template may ask ``{% if can_cancel(order, service) %}``.
    """

    allowed: bool
    reason: str = ""
    params: Mapping[str, object] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return self.allowed

    @property
    def message(self) -> str:
        return self.reason.format(**self.params) if self.params else self.reason

    def check(self, refusal: type[DomainError]) -> None:
        """Raise ``refusal`` with the reason, if not allowed."""
        if not self.allowed:
            raise refusal(self.message)


ALLOWED = Decision(True)


def refused(reason: str, **params: object) -> Decision:
    return Decision(False, reason, params)
