"""The back office: staff pages over the same domain services as the API and the CLI."""
