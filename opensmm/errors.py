"""The one exception type that business rules raise.

Every refusal carries its public message as a template and its parameters:
``DomainError(N_("Quantity less than minimal {min}"), min=50)``. ``str(error)`` and
``error.message`` are the English the API answers as ``{"error": message}`` (spec §6: that
English never changes) and the CLI prints; the web pages show ``t(error.template,
**error.params)`` in the visitor's language. The template is marked with ``N_`` so Babel
puts it in the catalogs. Anything else that escapes a service is a bug: it is logged and
answered with a generic error.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from opensmm.i18n import N_


class DomainError(Exception):
    """A refusal that is safe to show to the person or script that asked."""

    message: str = N_("Incorrect request")

    def __init__(self, message: str | None = None, /, **params: Any) -> None:
        template = message if message is not None else type(self).message
        self.template: str = template
        self.params: dict[str, Any] = params
        if message is not None or params:
            self.message = template.format(**params) if params else template
        super().__init__(self.message)


class IncorrectRequest(DomainError):
    message = N_("Incorrect request")


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
        """Raise ``refusal`` with the reason and its parameters, if not allowed."""
        if not self.allowed:
            raise refusal(self.reason, **self.params)


ALLOWED = Decision(True)


def refused(reason: str, **params: object) -> Decision:
    return Decision(False, reason, params)
