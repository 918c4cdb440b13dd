"""Benchmarks of the API v2 endpoint and the worker: ``python -m bench.run``.

See docs/performance.md.
"""
