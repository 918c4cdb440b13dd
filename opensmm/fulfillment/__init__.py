"""Fulfillment: how orders get done (manual, an upstream provider, the simulator), and the
worker that sends them, follows them and brings their statuses and refunds home."""
