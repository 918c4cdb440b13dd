"""The Telegram channel against a fake Bot API on 127.0.0.1: ok, a refusal (400), flood
control (429 with retry_after), a server that is down (retried, then given up), and the bot's
token never in an error, a stored row or the logs."""

from __future__ import annotations

import json
import logging
import socket
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlalchemy import select, update

from opensmm.db import Database, utcnow
from opensmm.notifications.models import FAILED, QUEUED, SENT, TelegramMessage
from opensmm.notifications.telegram import (
    TelegramConfig,
    TelegramFailed,
    TelegramSender,
    send,
)
from opensmm.settings import Settings

TOKEN = "123456:SECRET-bot-token-never-shown"


class FakeBotApi:
    """Answers ``sendMessage`` with the scripted (status, body) pairs, then ok."""

    def __init__(self) -> None:
        self.script: list[tuple[int, dict[str, Any]]] = []
        self.requests: list[tuple[str, dict[str, Any]]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                fake.requests.append((self.path, body))
                status, answer = (fake.script.pop(0) if fake.script else
                                  (200, {"ok": True, "result": {"message_id": 1}}))
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def bot() -> Iterator[FakeBotApi]:
    fake = FakeBotApi()
    yield fake
    fake.close()


def config(base: str, **changes: Any) -> TelegramConfig:
    values: dict[str, Any] = {"token": TOKEN, "chat_id": "-1001", "api_base": base,
                              "max_attempts": 3, "backoff_seconds": 0.0, "timeout": 5.0}
    values.update(changes)
    return TelegramConfig(**values)


def closed_port() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def queue_message(db: Database, text: str = "Order 1 is held") -> int:
    with db.write() as session:
        row = TelegramMessage(text=text, status=QUEUED, attempts=0, next_attempt_at=utcnow(),
                              created_at=utcnow())
        session.add(row)
        session.flush()
        return row.id


def row(db: Database, message_id: int) -> TelegramMessage:
    with db.read() as session:
        found = session.get(TelegramMessage, message_id)
        assert found is not None
        session.expunge(found)
        return found


def due_now(db: Database, message_id: int) -> None:
    with db.write() as session:
        session.execute(update(TelegramMessage).where(TelegramMessage.id == message_id)
                        .values(next_attempt_at=utcnow()))


def test_send_posts_the_documented_request(bot: FakeBotApi) -> None:
    send(config(bot.url), "Hello staff")
    [(path, body)] = bot.requests
    assert path == f"/bot{TOKEN}/sendMessage"
    assert body == {"chat_id": "-1001", "text": "Hello staff"}


def test_a_refusal_is_permanent_and_its_description_never_holds_the_token(
    bot: FakeBotApi,
) -> None:
    bot.script.append((400, {"ok": False, "error_code": 400,
                             "description": f"Bad Request: chat not found for {TOKEN}"}))
    with pytest.raises(TelegramFailed) as caught:
        send(config(bot.url), "x")
    assert caught.value.permanent
    assert "chat not found" in caught.value.reason
    assert TOKEN not in caught.value.reason and TOKEN not in str(caught.value)


def test_the_sender_waits_retry_after_then_retries_then_sends(
    db: Database, bot: FakeBotApi, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    bot.script += [
        (429, {"ok": False, "error_code": 429, "description": "Too Many Requests: retry after 7",
               "parameters": {"retry_after": 7}}),
        (502, {"ok": False, "error_code": 502, "description": "Bad Gateway"}),
    ]
    sender = TelegramSender(db, config(bot.url), "worker-a")
    message_id = queue_message(db)
    before = utcnow()
    assert sender.run_once() == 1
    first = row(db, message_id)
    assert (first.status, first.attempts) == (QUEUED, 1)
    assert first.next_attempt_at >= before + timedelta(seconds=7)
    assert "429" in (first.last_error or "")
    assert sender.run_once() == 0  # not due yet
    due_now(db, message_id)
    sender.run_once()
    assert (row(db, message_id).status, row(db, message_id).attempts) == (QUEUED, 2)
    due_now(db, message_id)
    sender.run_once()
    done = row(db, message_id)
    assert (done.status, done.attempts, done.last_error) == (SENT, 3, None)
    assert len(bot.requests) == 3
    assert TOKEN not in caplog.text


def test_a_server_that_is_down_is_retried_then_given_up(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    sender = TelegramSender(db, config(closed_port()), "worker-a")
    message_id = queue_message(db)
    for _ in range(3):
        due_now(db, message_id)
        sender.run_once()
    gone = row(db, message_id)
    assert (gone.status, gone.attempts) == (FAILED, 3)
    assert "network error" in (gone.last_error or "")
    assert TOKEN not in (gone.last_error or "") and TOKEN not in caplog.text
    due_now(db, message_id)
    assert sender.run_once() == 0  # given up: staff see it on Staff → Emails


def test_a_400_ends_the_message_at_once(db: Database, bot: FakeBotApi) -> None:
    bot.script.append((400, {"ok": False, "error_code": 400, "description": "Bad Request"}))
    sender = TelegramSender(db, config(bot.url), "worker-a")
    message_id = queue_message(db)
    sender.run_once()
    assert (row(db, message_id).status, row(db, message_id).attempts) == (FAILED, 1)


def test_not_configured_means_no_channel(db: Database) -> None:
    assert TelegramConfig.from_settings(Settings(telegram_bot_token=TOKEN)) is None
    assert TelegramConfig.from_settings(Settings(telegram_chat_id="-1")) is None
    made = TelegramConfig.from_settings(Settings(
        telegram_bot_token=TOKEN, telegram_chat_id="-1",
        telegram_api_base="http://127.0.0.1:1/"))
    assert made is not None and made.api_base == "http://127.0.0.1:1"
    assert TOKEN not in repr(made)
    assert TelegramSender(db, None, "w").run_once() == 0
    with db.read() as session:
        assert session.scalars(select(TelegramMessage)).all() == []
