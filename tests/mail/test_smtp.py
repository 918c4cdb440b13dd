"""The mail outbox against a real SMTP server on 127.0.0.1 (aiosmtpd), on both databases:
delivery, STARTTLS, SMTPS, AUTH, a server that is down (retried with back-off), a refusal
(failed at once), Arabic mail, several workers, and no SMTP at all."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update

from opensmm.db import Database, utcnow
from opensmm.mail import render as mail_templates
from opensmm.mail import service as mail
from opensmm.mail.models import FAILED, QUEUED, SENT, MailOutbox
from opensmm.mail.sender import MailConfig, MailSender
from opensmm.mail.smtp import IMPLICIT_TLS, PLAIN, STARTTLS, SmtpConfig, parse_smtp_url
from opensmm.settings import Settings
from tests.support.smtp_server import Certificate, free_port, self_signed, smtp_server

SENDER = "Panel <noreply@panel.example>"


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    return self_signed(tmp_path_factory.mktemp("smtp-tls"))


def queue_reset(db: Database, *, to: str = "erin@example.test", language: str = "en",
                name: str = "erin") -> int:
    with db.write() as session:
        return mail.queue(session, to=to, template=mail_templates.PASSWORD_RESET,
                          language=language, name=name,
                          link="https://panel.example/password/reset?token=abc")


def row(db: Database, mail_id: int) -> MailOutbox:
    with db.read() as session:
        found = session.get(MailOutbox, mail_id)
        assert found is not None
        session.expunge(found)
        return found


def sender(db: Database, smtp: SmtpConfig | None, **config: object) -> MailSender:
    return MailSender(db, MailConfig(smtp=smtp, sender=SENDER, **config),  # type: ignore[arg-type]
                      owner="test-worker")


def plain(port: int, **fields: object) -> SmtpConfig:
    return SmtpConfig(host="127.0.0.1", port=port, security=PLAIN, timeout=10,
                      **fields)  # type: ignore[arg-type]


def test_a_queued_mail_is_delivered_with_its_text_and_html(db: Database) -> None:
    mail_id = queue_reset(db)
    with smtp_server() as (port, inbox):
        assert sender(db, plain(port)).run_once() == 1
    [(envelope_from, recipients, message)] = inbox.received
    assert envelope_from == "noreply@panel.example"
    assert recipients == ["erin@example.test"]
    assert message["Subject"] == "Reset your password on opensmm"
    assert message["From"] == SENDER
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None and html is not None
    assert "https://panel.example/password/reset?token=abc" in text.get_content()
    assert '<a href="https://panel.example/password/reset?token=abc">' in html.get_content()
    stored = row(db, mail_id)
    assert stored.status == SENT
    assert stored.attempts == 1
    assert stored.sent_at is not None
    assert stored.last_error is None
    assert stored.lease_owner is None


def test_starttls_with_a_certificate_the_panel_is_told_to_trust(
    db: Database, certificate: Certificate
) -> None:
    mail_id = queue_reset(db)
    with smtp_server(starttls=certificate) as (port, inbox):
        config = SmtpConfig(host="127.0.0.1", port=port, security=STARTTLS, timeout=10,
                            ca_file=str(certificate.cert))
        sender(db, config).run_once()
    assert row(db, mail_id).status == SENT
    assert len(inbox.received) == 1


def test_starttls_refuses_a_certificate_nobody_trusts(
    db: Database, certificate: Certificate
) -> None:
    mail_id = queue_reset(db)
    with smtp_server(starttls=certificate) as (port, inbox):
        config = SmtpConfig(host="127.0.0.1", port=port, security=STARTTLS, timeout=10)
        sender(db, config).run_once()
    stored = row(db, mail_id)
    assert stored.status == QUEUED  # retried later: staff may fix the setting
    assert stored.attempts == 1
    assert "TLS" in (stored.last_error or "")
    assert inbox.received == []


def test_smtps_implicit_tls(db: Database, certificate: Certificate) -> None:
    mail_id = queue_reset(db)
    with smtp_server(implicit_tls=certificate) as (port, inbox):
        config = SmtpConfig(host="127.0.0.1", port=port, security=IMPLICIT_TLS, timeout=10,
                            ca_file=str(certificate.cert))
        sender(db, config).run_once()
    assert row(db, mail_id).status == SENT
    assert len(inbox.received) == 1


def test_auth_over_starttls_with_an_url_encoded_password(
    db: Database, certificate: Certificate
) -> None:
    mail_id = queue_reset(db)
    password = "p@ss:w/rd%"
    with smtp_server(starttls=certificate, auth=("mailer@panel.example", password)) as (
        port, inbox
    ):
        config = parse_smtp_url(
            f"smtp://mailer%40panel.example:p%40ss%3Aw%2Frd%25@127.0.0.1:{port}",
            timeout=10, ca_file=str(certificate.cert),
        )
        assert config.password == password
        assert password not in repr(config)
        sender(db, config).run_once()
    assert row(db, mail_id).status == SENT
    assert inbox.logins == ["mailer@panel.example"]


def test_a_wrong_password_is_retried_and_never_written_down(db: Database) -> None:
    mail_id = queue_reset(db)
    with smtp_server(auth=("mailer", "right-password")) as (port, inbox):
        config = plain(port, user="mailer", password="wrong-password-123")
        sender(db, config).run_once()
    stored = row(db, mail_id)
    assert stored.status == QUEUED
    assert "authentication failed" in (stored.last_error or "")
    assert "wrong-password-123" not in (stored.last_error or "")
    assert inbox.received == []


def test_a_server_that_is_down_is_retried_with_a_doubling_back_off(db: Database) -> None:
    mail_id = queue_reset(db)
    port = free_port()  # nothing listens there
    down = sender(db, plain(port), max_attempts=3, backoff_seconds=60,
                  backoff_max_seconds=600)
    before = utcnow()
    assert down.run_once() == 1
    first = row(db, mail_id)
    assert first.status == QUEUED
    assert first.attempts == 1
    assert "refused" in (first.last_error or "")
    assert first.next_attempt_at >= before + timedelta(seconds=60)
    assert first.next_attempt_at <= utcnow() + timedelta(seconds=60)
    assert down.run_once() == 0  # not due yet
    make_due(db, mail_id)
    down.run_once()
    second = row(db, mail_id)
    assert second.attempts == 2
    assert second.next_attempt_at >= utcnow() + timedelta(seconds=110)  # 120 s now
    make_due(db, mail_id)
    down.run_once()
    given_up = row(db, mail_id)
    assert given_up.status == FAILED
    assert given_up.attempts == 3
    # ... and once the server is back, a mail still queued goes out.
    other = queue_reset(db)
    with smtp_server() as (back_port, inbox):
        assert sender(db, plain(back_port)).run_once() == 1
    assert row(db, other).status == SENT
    assert row(db, mail_id).status == FAILED
    assert len(inbox.received) == 1


def make_due(db: Database, mail_id: int) -> None:
    with db.write() as session:
        session.execute(update(MailOutbox).where(MailOutbox.id == mail_id)
                        .values(next_attempt_at=utcnow() - timedelta(seconds=1)))


def test_a_refused_recipient_fails_at_once(db: Database) -> None:
    mail_id = queue_reset(db)
    with smtp_server() as (port, inbox):
        inbox.refuse_recipients = True
        sender(db, plain(port), max_attempts=5).run_once()
    stored = row(db, mail_id)
    assert stored.status == FAILED
    assert stored.attempts == 1
    assert "550" in (stored.last_error or "")


def test_staff_retry_sends_a_failed_mail_again(db: Database) -> None:
    from opensmm.audit.actor import Actor
    from opensmm.audit.models import AuditEntry

    mail_id = queue_reset(db)
    with smtp_server() as (port, inbox):
        inbox.refuse_recipients = True
        sender(db, plain(port)).run_once()
        assert row(db, mail_id).status == FAILED
        with db.write() as session:
            mail.retry(session, Actor.cli(), mail_id)
        inbox.refuse_recipients = False
        sender(db, plain(port)).run_once()
    assert row(db, mail_id).status == SENT
    with db.read() as session:
        audit = session.query(AuditEntry).filter_by(action="mail.retry").one()
        assert audit.target == f"mail:{mail_id}"


def test_an_arabic_mail(db: Database) -> None:
    mail_id = queue_reset(db, language="ar", name="سارة")
    with smtp_server() as (port, inbox):
        sender(db, plain(port)).run_once()
    [(_, _, message)] = inbox.received
    stored = row(db, mail_id)
    assert stored.language == "ar"
    assert message["Subject"] == stored.subject
    assert "opensmm" in stored.subject
    assert any("\u0600" <= ch <= "\u06ff" for ch in stored.subject)
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None and html is not None
    assert "سارة" in text.get_content()
    assert 'dir="rtl"' in html.get_content()
    assert 'lang="ar"' in html.get_content()


def test_with_no_smtp_mails_stay_queued(db: Database) -> None:
    mail_id = queue_reset(db)
    assert sender(db, None).run_once() == 0
    assert row(db, mail_id).status == QUEUED
    config = MailConfig.from_settings(Settings(smtp_url=""))
    assert config.smtp is None


def test_two_workers_never_send_one_mail_twice(db: Database) -> None:
    ids = [queue_reset(db, to=f"u{n}@example.test") for n in range(3)]
    with smtp_server() as (port, inbox):
        first = sender(db, plain(port))
        claimed = first._claim()  # the first worker holds them, mid-conversation
        second = MailSender(db, MailConfig(smtp=plain(port), sender=SENDER), owner="other")
        assert second.run_once() == 0
        for item in claimed:
            first._record(item, None)
    assert [row(db, i).status for i in ids] == [SENT] * 3
    assert inbox.received == []  # only recorded here: nobody else sent them


# --- queue() and the URL, with hostile input ---------------------------------------------


def test_queue_escapes_html_and_refuses_bad_input(db: Database) -> None:
    with db.write() as session:
        mail_id = mail.queue(session, to="a@example.test", template="password_reset",
                             language="xx", name="<script>alert(1)</script>", link="x" * 10_000)
    stored = row(db, mail_id)
    assert "<script>" not in stored.html_body
    assert "&lt;script&gt;" in stored.html_body
    assert "<script>alert(1)</script>" in stored.text_body  # plain text: as typed
    assert stored.language == "en"  # an unknown language: the panel's default
    for bad in ("a@example.test\r\nBcc: x@evil.example", "no-at-sign", "a@b@c", "",
                "x" * 300 + "@example.test", "a\x00@example.test"):
        with db.write() as session, pytest.raises(mail.MailRefused):
            mail.queue(session, to=bad, template="password_reset", language="en",
                       name="n", link="l")
    with db.write() as session, pytest.raises(mail.MailRefused):
        mail.queue(session, to="a@example.test", template="../../etc/passwd", language="en")


@pytest.mark.parametrize(
    ("url", "security", "port", "user", "password"),
    [
        ("smtp://u:p@mail.example", STARTTLS, 587, "u", "p"),
        ("smtp://u:p@mail.example:2525?tls=off", PLAIN, 2525, "u", "p"),
        ("smtp+plain://localhost", PLAIN, 25, "", ""),
        ("smtps://a%20b:c%2Fd@mail.example", IMPLICIT_TLS, 465, "a b", "c/d"),
    ],
)
def test_smtp_urls(url: str, security: str, port: int, user: str, password: str) -> None:
    config = parse_smtp_url(url)
    assert (config.security, config.port, config.user, config.password) == (
        security, port, user, password)
    assert f":{password}@" not in config.describe()


@pytest.mark.parametrize("url", ["http://mail.example", "smtp://", "smtp://h:99999999",
                                 "mail.example:25"])
def test_bad_smtp_urls_are_refused_and_leave_mail_queued(url: str) -> None:
    from opensmm.mail.smtp import SmtpUrlRefused

    with pytest.raises(SmtpUrlRefused):
        parse_smtp_url(url)
    assert MailConfig.from_settings(Settings(smtp_url=url)).smtp is None


# --- the worker loop, and `opensmm serve` end to end ---------------------------------------


def test_the_worker_pass_sends_the_outbox(db: Database) -> None:
    from opensmm.fulfillment.config import WorkerConfig
    from opensmm.fulfillment.worker import Worker

    mail_id = queue_reset(db)
    with smtp_server() as (port, inbox):
        worker = Worker(db, WorkerConfig(), mail=MailConfig(smtp=plain(port), sender=SENDER))
        try:
            tally = worker.run_once()
        finally:
            worker.close()
    assert tally.mails == 1
    assert tally.busy()
    assert row(db, mail_id).status == SENT
    assert len(inbox.received) == 1


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_serve_mails_a_reset_link_that_works(database_servers: dict, kind: str) -> None:
    """``opensmm serve`` with OPENSMM_SMTP_URL: "Forgot password?" reaches the SMTP server
    through the in-process worker, and the mailed link sets the password."""
    import re
    import time

    from tests.support.panel import running_panel
    from tests.web.support import PASSWORD, Person, WebClient, make_person

    with smtp_server() as (port, inbox), running_panel(database_servers, kind, env={
        "OPENSMM_SMTP_URL": f"smtp+plain://127.0.0.1:{port}",
        "OPENSMM_MAIL_FROM": SENDER,
        "OPENSMM_PUBLIC_URL": "https://panel.example",
        "OPENSMM_WORKER_IDLE_SECONDS": "0.2",
        "OPENSMM_LOG_LEVEL": "warning",
    }) as panel:
        person = make_person(panel)
        visitor = WebClient(panel.url)
        try:
            assert visitor.post("/password/forgot", {"login": person.name}).status_code == 200
            deadline = time.monotonic() + 60
            while not inbox.received:
                assert time.monotonic() < deadline, "the worker never sent the mail"
                time.sleep(0.2)
            [(_, recipients, message)] = inbox.received
            assert recipients == [f"{person.name}@example.test"]
            body = message.get_body(("plain",))
            assert body is not None
            found = re.search(r"https://panel\.example(/password/reset\?token=[\w-]+)",
                              body.get_content())
            assert found, body.get_content()
            token = found.group(1).split("token=")[1]
            done = visitor.post("/password/reset", {"token": token, "password": "via smtp 123",
                                                    "password2": "via smtp 123"})
            assert done.headers["location"] == "/login"
            visitor.login(Person(person.id, person.name, "via smtp 123"))
            assert PASSWORD not in panel.server_log()
        finally:
            visitor.close()
