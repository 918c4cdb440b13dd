"""Customers, staff and their API keys."""
