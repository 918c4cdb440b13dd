"""Scorecards: how services and providers perform (average time per 1000, partial, cancel
and refill rates, stuck orders), refreshed by the worker and stored. See
docs/fulfillment.md."""
