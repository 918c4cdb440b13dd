"""The one exception type that business rules raise.

Every refusal carries its public, human message: the API answers it as
``{"error": message}``, the web pages flash it, the CLI prints it. Anything else that
escapes a service is a bug: it is logged and answered with a generic error.
"""

from __future__ import annotations


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
