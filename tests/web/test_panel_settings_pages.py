"""Staff → Settings and what the first settings change on the pages (issue 10): the panel's
name in titles and headers, sign-ups closed, the language switch limited to the enabled
languages; refusals shown on the page, never a 500, nothing written."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select

from opensmm.accounts.models import User
from opensmm.audit.actor import Actor
from opensmm.audit.models import AuditEntry
from opensmm.panel_settings import service as panel_settings
from opensmm.panel_settings.models import PanelSetting
from tests.support.panel import Panel
from tests.web.support import Person, WebClient, make_person


@pytest.fixture
def staff(panel: Panel, visitor: WebClient) -> Person:
    person = make_person(panel, staff=True)
    visitor.login(person)
    return person


@pytest.fixture(autouse=True)
def defaults_again(panel: Panel) -> Iterator[None]:
    """The panel is shared by the module: each test leaves the settings as it found them."""
    yield
    with panel.write() as session:
        for name, value in (("default_language", "en"), ("languages", "en,ar"),
                            ("panel_name", "opensmm"), ("signups", "open")):
            panel_settings.set_value(session, name, value, Actor.cli())


def counts(panel: Panel) -> tuple[int, int]:
    with panel.db.read() as session:
        return (session.scalar(select(func.count()).select_from(PanelSetting)) or 0,
                session.scalar(select(func.count()).select_from(AuditEntry)) or 0)


def test_staff_change_the_panel_name_and_every_page_shows_it(
    panel: Panel, visitor: WebClient, other_visitor: WebClient, staff: Person
) -> None:
    page = visitor.get("/admin/settings")
    assert page.status_code == 200
    assert 'href="/admin/settings"' in visitor.get("/admin").text  # in the staff navigation
    assert 'id="setting-panel_name"' in page.text and "signups" in page.text
    saved = visitor.post("/admin/settings", {"name": "panel_name", "value": "Acme <b>SMM</b>"})
    assert "panel_name set to Acme &lt;b&gt;SMM&lt;/b&gt;." in visitor.flash(saved)
    for client, path in ((visitor, "/admin"), (visitor, "/admin/settings"),
                         (other_visitor, "/services"), (other_visitor, "/login"),
                         (other_visitor, "/no-such-page")):
        html = client.get(path).text
        assert "· Acme &lt;b&gt;SMM&lt;/b&gt;</title>" in html, path
        assert "<b>SMM</b>" not in html, path
        # The brand: the visitors' top bar, or the signed-in sidebar's name.
        assert re.search(r'class="brand" href="/">(<span class="brand-name">)?'
                         r'Acme &lt;b&gt;SMM&lt;/b&gt;', html), path
    with panel.db.read() as session:
        row = session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc())).first()
        assert row is not None
        assert (row.action, row.actor, row.door, row.actor_id) == (
            "settings.set", staff.name, "web", staff.id)
    audit = visitor.get("/admin/audit", params={"action": "settings."}).text
    assert "Changed the setting panel_name from opensmm to Acme &lt;b&gt;SMM&lt;/b&gt;" in audit


@pytest.mark.parametrize(("name", "value", "message"), [
    ("panel_name", "", "The value must not be empty"),
    ("panel_name", "x" * 101, "at most 100 characters"),
    ("panel_name", "x" * 5000, "at most"),
    ("panel_name", "\u202eevil", "control characters"),
    ("signups", "maybe", "The value must be one of: open, closed"),
    ("default_language", "fr", "Unknown language"),
    ("languages", "ar", "must include the default language"),
    ("languages", "en, <script>", "Unknown language"),
    ("no_such_setting", "x", "Unknown setting"),
    ("", "", "Unknown setting"),
])
def test_a_bad_value_is_shown_on_the_page_and_changes_nothing(
    panel: Panel, visitor: WebClient, staff: Person, name: str, value: str, message: str
) -> None:
    before = counts(panel)
    answer = visitor.post("/admin/settings", {"name": name, "value": value})
    assert answer.status_code == 400
    assert message in answer.text
    assert "<script>" not in answer.text
    assert counts(panel) == before


def test_customers_cannot_see_or_change_settings(panel: Panel, visitor: WebClient) -> None:
    visitor.login(make_person(panel))
    assert visitor.get("/admin/settings").status_code == 403
    before = counts(panel)
    assert visitor.post("/admin/settings", {"name": "signups", "value": "closed"}
                        ).status_code == 403
    assert counts(panel) == before


def test_closed_signups_are_said_and_refused(
    panel: Panel, visitor: WebClient, other_visitor: WebClient, staff: Person
) -> None:
    visitor.post("/admin/settings", {"name": "signups", "value": "closed"})
    form = other_visitor.get("/signup").text
    assert "Sign-ups are closed on this panel." in form
    assert 'action="/signup"' not in form
    answer = other_visitor.post("/signup", {"name": "newcomer1", "email": "n1@example.test",
                                            "password": "a good password",
                                            "password2": "a good password"})
    assert answer.status_code == 400
    assert "Sign-ups are closed on this panel." in answer.text
    with panel.db.read() as session:
        assert session.scalar(select(User.id).where(User.name == "newcomer1")) is None
    visitor.post("/admin/settings", {"name": "signups", "value": "open"})
    assert 'action="/signup"' in other_visitor.get("/signup").text


def test_the_language_switch_offers_only_enabled_languages(
    panel: Panel, visitor: WebClient, other_visitor: WebClient, staff: Person
) -> None:
    assert 'href="/lang/ar' in other_visitor.get("/login").text
    saved = visitor.post("/admin/settings", {"name": "languages", "value": "en"})
    assert saved.status_code == 303
    assert 'href="/lang/ar' not in other_visitor.get("/login").text
