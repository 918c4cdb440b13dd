"""Alembic migrations; ``opensmm db upgrade`` applies them (see ``opensmm.db.migrate``)."""
