"""Categories and services: what the panel sells and at what rate."""

# Registers the flush hook that records catalog changes for the Updates page.
from opensmm.catalog import updates as _updates  # noqa: F401
