"""Sending the outbox: claimed in a short transaction, sent with no transaction open, the
outcome recorded in another.

Several workers may run at once: a mail is claimed with a lease (``FOR UPDATE SKIP LOCKED``
on PostgreSQL; SQLite's single writer elsewhere), so no two send it at the same moment. A
worker that dies in the middle of a conversation leaves its claim to run out; the mail is
then sent again (mail is at-least-once: a rare duplicate beats a lost reset link).

A failed attempt is retried after a doubling back-off; a refusal of the mail itself (a 5xx
answer to the sender, the recipient or the data) or the last of ``max_attempts`` ends it as
``failed``, shown to staff (Staff → Emails), who may retry it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import ColumnElement, or_, select

from opensmm.db import Database
from opensmm.mail import smtp
from opensmm.mail.models import FAILED, QUEUED, SENT, MailOutbox
from opensmm.settings import Settings, get_settings

log = logging.getLogger("opensmm.mail")


@dataclass(frozen=True)
class MailConfig:
    smtp: smtp.SmtpConfig | None  # None: no SMTP configured, mails stay queued
    sender: str = ""
    max_attempts: int = 8
    backoff_seconds: float = 60.0
    backoff_max_seconds: float = 3600.0
    batch: int = 20

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> MailConfig:
        settings = settings or get_settings()
        config: smtp.SmtpConfig | None = None
        if settings.smtp_url.strip():
            try:
                config = smtp.parse_smtp_url(
                    settings.smtp_url, timeout=settings.smtp_timeout,
                    ca_file=settings.smtp_ca_file,
                )
            except smtp.SmtpUrlRefused as exc:
                log.error("ALERT OPENSMM_SMTP_URL is not usable (%s): mails stay queued", exc)
        return cls(
            smtp=config,
            sender=smtp.default_sender(settings.mail_from, config) if config else "",
            max_attempts=max(1, settings.mail_max_attempts),
            backoff_seconds=max(0.0, settings.mail_backoff_seconds),
            backoff_max_seconds=max(0.0, settings.mail_backoff_max_seconds),
        )

    def backoff(self, attempts: int) -> timedelta:
        """The wait after the ``attempts``-th failed attempt: doubling, capped."""
        exponent = min(max(attempts, 1) - 1, 30)
        return timedelta(seconds=min(self.backoff_seconds * 2**exponent,
                                     self.backoff_max_seconds))

    @property
    def lease(self) -> timedelta:
        """Long enough for a whole batch of conversations that each time out."""
        timeout = self.smtp.timeout if self.smtp else 30.0
        return timedelta(seconds=(timeout + 10.0) * self.batch)


@dataclass(frozen=True)
class _Claimed:
    id: int
    attempts: int
    mail: smtp.Outgoing


class MailSender:
    def __init__(self, db: Database, config: MailConfig, owner: str) -> None:
        self.db = db
        self.config = config
        self.owner = owner[:64]

    def run_once(self) -> int:
        """Send the mails that are due; how many were attempted."""
        if self.config.smtp is None:
            return 0
        claimed = self._claim()
        for item in claimed:
            try:
                smtp.send(self.config.smtp, self.config.sender, item.mail)
            except smtp.SendFailed as exc:
                self._record(item, exc)
            else:
                self._record(item, None)
        return len(claimed)

    def _due(self) -> list[ColumnElement[bool]]:
        now = self.db.now()
        return [
            MailOutbox.status == QUEUED,
            MailOutbox.next_attempt_at <= now,
            or_(MailOutbox.lease_until.is_(None), MailOutbox.lease_until < now),
        ]

    def _claim(self) -> list[_Claimed]:
        with self.db.read() as session:
            if session.scalar(select(MailOutbox.id).where(*self._due()).limit(1)) is None:
                return []
        claimed: list[_Claimed] = []
        with self.db.write() as session:
            rows = session.scalars(
                select(MailOutbox).where(*self._due()).order_by(MailOutbox.id)
                .limit(self.config.batch).with_for_update(skip_locked=True)
            ).all()
            until = self.db.now() + self.config.lease
            for row in rows:
                row.lease_owner = self.owner
                row.lease_until = until
                claimed.append(_Claimed(row.id, row.attempts, smtp.Outgoing(
                    recipient=row.recipient, subject=row.subject, text=row.text_body,
                    html=row.html_body,
                )))
        return claimed

    def _record(self, item: _Claimed, failure: smtp.SendFailed | None) -> None:
        now = self.db.now()
        with self.db.write() as session:
            row = session.get(MailOutbox, item.id, with_for_update=True)
            if row is None or row.lease_owner != self.owner or row.status != QUEUED:
                return  # taken back meanwhile (staff, another worker after our lease)
            row.attempts += 1
            row.lease_owner = row.lease_until = None
            if failure is None:
                row.status, row.sent_at, row.last_error = SENT, now, None
                log.info("mail %s sent (%s)", row.id, row.template)
                return
            row.last_error = failure.reason
            if failure.permanent or row.attempts >= self.config.max_attempts:
                row.status = FAILED
                log.error("ALERT mail %s failed after %d attempts: %s", row.id, row.attempts,
                          failure.reason)
            else:
                row.next_attempt_at = now + self.config.backoff(row.attempts)
                log.warning("mail %s not sent (attempt %d), tried again at %s: %s", row.id,
                            row.attempts, row.next_attempt_at.isoformat(), failure.reason)
