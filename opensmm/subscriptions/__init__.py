"""Subscriptions (spec §3, §4): each new post of an account becomes a charged child order."""
