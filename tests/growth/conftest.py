"""The web tests' visitors and browser panel, for the coupon and affiliate pages."""

from tests.web.conftest import fast_panel, other_visitor, visitor

__all__ = ["fast_panel", "other_visitor", "visitor"]
