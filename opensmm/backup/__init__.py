"""Online backups and restores: SQLite's backup API, PostgreSQL's pg_dump and pg_restore."""
