"""Structured logs, the per-request log line, and Prometheus metrics."""
