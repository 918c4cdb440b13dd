"""The fault campaign: load, kills and a database outage, then the books are checked."""
