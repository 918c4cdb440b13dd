"""Status webhooks for resellers (spec §7): a signed POST when an order or refill changes."""
