"""The audit log: every staff action, from every door (back office, CLI, API), one row each.

Services record the row inside the caller's unit of work, with the ``Actor`` the door passes
in, so the row commits (or rolls back) with the action itself.
"""
