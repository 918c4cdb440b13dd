"""Categories and services: what the panel sells and at what rate."""
