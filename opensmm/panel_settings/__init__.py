"""Panel settings an owner changes without a restart: stored in the database, typed and
validated by one registry (``registry.SETTINGS``), cached per process behind a stamp, and
audited. Environment variables (``opensmm.settings``) keep what must be known before the
database is reachable."""
