"""The Telegram channel for staff alerts: the Bot API's ``sendMessage``, and the worker's
sender of the Telegram outbox (claimed with a lease, retried with a doubling back-off, given
up after ``max_attempts``; failures shown to staff on Staff → Emails).

The bot's token is part of every address of the Bot API; it is never logged, stored nor
shown: errors carry the API's description or the kind of the network error only.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import timedelta

import httpx
from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session

from opensmm.audit import service as audit
from opensmm.audit.actor import Actor
from opensmm.db import Database, utcnow
from opensmm.errors import DomainError, NotFound
from opensmm.i18n import N_
from opensmm.notifications.models import FAILED, QUEUED, SENT, TelegramMessage
from opensmm.settings import Settings, get_settings

log = logging.getLogger("opensmm.notifications.telegram")

_BOT_PATH = re.compile(r"/bot[^/\s\"']+/")


class _HideBotToken(logging.Filter):
    """httpx logs every request's address at INFO, and a Bot API address holds the token:
    the ``/bot<token>/`` part of any such record is masked before a handler sees it."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            text = record.getMessage()
        except (TypeError, ValueError):
            return True
        if "/bot" in text:
            record.msg, record.args = _BOT_PATH.sub("/bot***/", text), None
        return True


_HIDE = _HideBotToken()
for _name in ("httpx", "httpcore"):
    if _HIDE not in logging.getLogger(_name).filters:
        logging.getLogger(_name).addFilter(_HIDE)


@dataclass(frozen=True)
class TelegramConfig:
    token: str
    chat_id: str
    api_base: str = "https://api.telegram.org"
    max_attempts: int = 6
    backoff_seconds: float = 30.0
    backoff_max_seconds: float = 3600.0
    timeout: float = 15.0
    batch: int = 20

    def __repr__(self) -> str:  # never the token
        return f"TelegramConfig(chat_id={self.chat_id!r}, api_base={self.api_base!r})"

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> TelegramConfig | None:
        """None unless both the token and the chat are set."""
        settings = settings or get_settings()
        token, chat = settings.telegram_bot_token.strip(), settings.telegram_chat_id.strip()
        if not token or not chat:
            return None
        return cls(token=token, chat_id=chat,
                   api_base=settings.telegram_api_base.strip().rstrip("/")
                   or "https://api.telegram.org",
                   max_attempts=max(1, settings.telegram_max_attempts),
                   backoff_seconds=max(0.0, settings.telegram_backoff_seconds))

    def backoff(self, attempts: int, retry_after: float | None = None) -> timedelta:
        exponent = min(max(attempts, 1) - 1, 30)
        wait = min(self.backoff_seconds * 2**exponent, self.backoff_max_seconds)
        if retry_after is not None:
            wait = max(wait, min(retry_after, self.backoff_max_seconds))
        return timedelta(seconds=wait)


class TelegramFailed(Exception):
    def __init__(self, reason: str, *, permanent: bool = False,
                 retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason[:500]
        self.permanent = permanent
        self.retry_after = retry_after


def send(config: TelegramConfig, text: str, client: httpx.Client | None = None) -> None:
    """One ``sendMessage``; raises :class:`TelegramFailed` (never with the token in it)."""
    url = f"{config.api_base}/bot{config.token}/sendMessage"
    own = client is None
    http = client or httpx.Client(timeout=config.timeout, follow_redirects=False)
    try:
        response = http.post(url, json={"chat_id": config.chat_id, "text": text})
    except httpx.HTTPError as exc:
        # The exception's text may hold the address, hence the token: its kind only.
        raise TelegramFailed(f"network error ({type(exc).__name__})") from None
    finally:
        if own:
            http.close()
    try:
        answer = response.json()
    except ValueError:
        answer = None
    if isinstance(answer, dict) and answer.get("ok") is True:
        return
    status = response.status_code
    description = ""
    retry_after: float | None = None
    if isinstance(answer, dict):
        description = str(answer.get("description") or "")[:300]
        code = answer.get("error_code")
        status = code if isinstance(code, int) else status
        parameters = answer.get("parameters")
        if isinstance(parameters, dict) and isinstance(parameters.get("retry_after"),
                                                       (int, float)):
            retry_after = float(parameters["retry_after"])
    description = description.replace(config.token, "***")
    reason = f"{status} {description}".strip()
    # 429 and 5xx pass; any other 4xx (bad chat, bad token, bad text) will not by retrying.
    permanent = 400 <= status < 500 and status != 429
    raise TelegramFailed(reason, permanent=permanent, retry_after=retry_after)


@dataclass(frozen=True)
class _Claimed:
    id: int
    text: str


class TelegramSender:
    def __init__(self, db: Database, config: TelegramConfig | None, owner: str) -> None:
        self.db = db
        self.config = config
        self.owner = owner[:64]

    def _due(self) -> list[ColumnElement[bool]]:
        now = self.db.now()
        return [
            TelegramMessage.status == QUEUED,
            TelegramMessage.next_attempt_at <= now,
            or_(TelegramMessage.lease_until.is_(None), TelegramMessage.lease_until < now),
        ]

    def run_once(self) -> int:
        """Send the messages that are due; how many were attempted."""
        if self.config is None:
            return 0
        claimed = self._claim(self.config)
        if not claimed:
            return 0
        with httpx.Client(timeout=self.config.timeout, follow_redirects=False) as client:
            for item in claimed:
                try:
                    send(self.config, item.text, client)
                except TelegramFailed as exc:
                    self._record(self.config, item, exc)
                else:
                    self._record(self.config, item, None)
        return len(claimed)

    def _claim(self, config: TelegramConfig) -> list[_Claimed]:
        with self.db.read() as session:
            if session.scalar(select(TelegramMessage.id).where(*self._due()).limit(1)) is None:
                return []
        claimed: list[_Claimed] = []
        with self.db.write() as session:
            rows = session.scalars(
                select(TelegramMessage).where(*self._due()).order_by(TelegramMessage.id)
                .limit(config.batch).with_for_update(skip_locked=True)
            ).all()
            until = self.db.now() + timedelta(seconds=(config.timeout + 10.0) * config.batch)
            for row in rows:
                row.lease_owner = self.owner
                row.lease_until = until
                claimed.append(_Claimed(row.id, row.text))
        return claimed

    def _record(self, config: TelegramConfig, item: _Claimed,
                failure: TelegramFailed | None) -> None:
        now = self.db.now()
        with self.db.write() as session:
            row = session.get(TelegramMessage, item.id, with_for_update=True)
            if row is None or row.lease_owner != self.owner or row.status != QUEUED:
                return
            row.attempts += 1
            row.lease_owner = row.lease_until = None
            if failure is None:
                row.status, row.sent_at, row.last_error = SENT, now, None
                return
            row.last_error = failure.reason
            if failure.permanent or row.attempts >= config.max_attempts:
                row.status = FAILED
                log.error("ALERT telegram message %s failed after %d attempts: %s", row.id,
                          row.attempts, failure.reason)
            else:
                row.next_attempt_at = now + config.backoff(row.attempts, failure.retry_after)
                log.warning("telegram message %s not sent (attempt %d): %s", row.id,
                            row.attempts, failure.reason)


def recent(session: Session, limit: int = 20) -> list[TelegramMessage]:
    """The latest Telegram messages, for Staff → Emails."""
    return list(session.scalars(
        select(TelegramMessage).order_by(TelegramMessage.id.desc()).limit(limit)))


class MessageNotFound(NotFound):
    message = N_("Telegram message not found")


class RetryRefused(DomainError):
    message = N_("Only a failed Telegram message can be retried")


def retry(session: Session, actor: Actor, message_id: int) -> TelegramMessage:
    """Staff: send a failed message again, now, with a fresh count of attempts."""
    row = session.get(TelegramMessage, message_id, with_for_update=True)
    if row is None:
        raise MessageNotFound()
    if row.status != FAILED:
        raise RetryRefused()
    row.status, row.attempts, row.next_attempt_at = QUEUED, 0, utcnow()
    row.lease_owner = row.lease_until = None
    audit.record(session, actor, "telegram.retry", f"telegram:{row.id}", message=row.id)
    return row
