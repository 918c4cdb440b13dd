"""Support tickets: a customer's question, its thread with staff, and staff's actions on
the orders it names (refill, cancel) through the same services as the API."""
