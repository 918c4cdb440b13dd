"""Staff announcements, and the catalog's changes as customers see them (Updates)."""
