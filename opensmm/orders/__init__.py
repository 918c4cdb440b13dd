"""Orders: placing them, pricing them, and moving them through their statuses."""
