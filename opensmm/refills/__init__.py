"""Refills: re-delivery of what dropped from a completed order."""
