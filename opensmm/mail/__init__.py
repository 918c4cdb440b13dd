"""Email: templates rendered in the recipient's language, an outbox table, and a sender the
worker runs (docs/email.md)."""
