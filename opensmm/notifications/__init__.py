"""Notifications: customers' and staff's choices, the periodic scan that finds what to tell
(each notice recorded once under a unique key), and the Telegram channel for staff alerts.
See docs/notifications.md."""
