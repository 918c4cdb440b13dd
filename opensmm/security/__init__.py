"""Defences of the front doors: rate limits, per-key IP allow-lists, the client's address."""
