"""Branding on SQLite and PostgreSQL, through the services: the new settings (colours,
maintenance), the logo and favicon checked by their bytes, the theme's stylesheet, and the
content pages: Markdown rendered and sanitized, hostile text neutralised or refused, the
language fallback and the terms' version."""

from __future__ import annotations

import struct
import zlib
from html.parser import HTMLParser
from pathlib import Path

import pytest
from sqlalchemy import func, select

from opensmm.audit.actor import Actor
from opensmm.audit.models import AuditEntry
from opensmm.branding import assets, content, theme
from opensmm.branding.models import ContentPage, PanelAsset
from opensmm.db import Database
from opensmm.errors import DomainError
from opensmm.panel_settings import service as panel_settings
from opensmm.panel_settings.registry import SettingRefused
from tests.api.test_cli import in_process_runner, refused

ACTOR = Actor.cli()


def png(width: int = 2, height: int = 2) -> bytes:
    """A real, minimal PNG."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    raw = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


ICO = b"\x00\x00\x01\x00\x01\x00\x10\x10\x00\x00\x01\x00\x20\x00" + b"\x00" * 64
WEBP = b"RIFF\x24\x00\x00\x00WEBPVP8 " + b"\x00" * 32
SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'


def rows(db: Database) -> tuple[int, int, int]:
    with db.read() as session:
        return tuple(  # type: ignore[return-value]
            session.scalar(select(func.count()).select_from(table)) or 0
            for table in (PanelAsset, ContentPage, AuditEntry)
        )


def set_value(db: Database, name: str, raw: str) -> object:
    with db.write() as session:
        return panel_settings.set_value(session, name, raw, ACTOR)


def colours_and_maintenance_settings_are_checked(db: Database) -> None:
    assert set_value(db, "theme_primary", " #06C ") == "#0066cc"  # #rgb, widened
    assert set_value(db, "theme_primary", "#1d4ed8") == "#1d4ed8"
    assert set_value(db, "theme_accent", "#0F172A") == "#0f172a"
    assert set_value(db, "maintenance", "ON") == "on"
    assert set_value(db, "maintenance_message", "Back at 18:00 UTC") == "Back at 18:00 UTC"
    before = rows(db)
    for name, raw, message in [
        ("theme_primary", "red", "#rrggbb"),
        ("theme_primary", "#12345g", "#rrggbb"),
        ("theme_primary", "#fff; } body { display:none", "#rrggbb"),
        ("theme_primary", "#ffff00", "does not contrast enough"),  # yellow links on white
        ("theme_accent", "#e5e7eb", "does not contrast enough"),  # the top bar's text vanishes
        ("theme_mode", "dark", "one of: light, auto"),
        ("maintenance", "maybe", "one of: off, on"),
        ("maintenance_message", "x" * 301, "at most 300"),
        ("logo", "https://evil.example/logo.png", "Upload a picture"),
    ]:
        with pytest.raises(SettingRefused) as refused, db.write() as session:
            panel_settings.set_value(session, name, raw, ACTOR)
        assert message in refused.value.message.format(**refused.value.params), name
    assert rows(db) == before
    with db.read() as session:
        values = panel_settings.values(session)
        assert panel_settings.maintenance(session)
    assert values["theme_primary"] == "#1d4ed8"
    assert values["maintenance_message"] == "Back at 18:00 UTC"
    assert panel_settings.maintenance_message(db) == "Back at 18:00 UTC"
    assert panel_settings.maintenance_known(db) == (True, "Back at 18:00 UTC")
    set_value(db, "maintenance", "off")
    assert panel_settings.maintenance_message(db) is None


def the_theme_stylesheet_holds_only_checked_colours(db: Database) -> None:
    with db.read() as session:
        defaults = panel_settings.values(session)
    css = theme.stylesheet(defaults)
    assert "--primary: #4f46e5; --primary-ink: #ffffff; --topbar: #111827;" in css
    assert "prefers-color-scheme" not in css  # light pages until the owner opts in
    set_value(db, "theme_mode", "auto")
    set_value(db, "theme_primary", "#0e7490")
    set_value(db, "theme_primary_dark", "#fde047")
    with db.read() as session:
        values = panel_settings.values(session)
    css = theme.stylesheet(values)
    assert "--primary: #0e7490;" in css and "prefers-color-scheme: dark" in css
    assert "--primary: #fde047; --primary-ink: #111827;" in css  # dark ink on yellow
    assert theme.brand_of(values).theme != theme.brand_of(defaults).theme
    assert theme.contrast("#000000", "#ffffff") == pytest.approx(21)


def a_logo_and_a_favicon_are_checked_by_their_bytes(db: Database) -> None:
    with db.write() as session:
        stored = assets.store(session, "logo", png(), ACTOR)
    with db.read() as session:
        assert panel_settings.values(session)["logo"] == stored.etag
        loaded = assets.load(session, "logo")
    assert loaded == assets.Asset("image/png", png(), stored.etag)
    with db.write() as session:
        assert assets.store(session, "logo", WEBP, ACTOR).content_type == "image/webp"
        assert assets.store(session, "favicon", ICO, ACTOR).content_type == "image/x-icon"
    before = rows(db)
    for name, data, message in [
        ("logo", SVG, "PNG, JPEG or WebP"),
        ("logo", b"<html><script>alert(1)</script></html>", "PNG, JPEG or WebP"),
        ("logo", b"GIF89a" + b"\x00" * 40, "PNG, JPEG or WebP"),
        ("logo", b"\x89PNG\r\n\x1a\n", "PNG, JPEG or WebP"),  # a signature and nothing else
        ("logo", png() + b"\x00" * (512 * 1024), "at most 512 KB"),
        ("logo", b"", "Choose a file"),
        ("favicon", WEBP, "ICO or PNG"),
        ("favicon", ICO + b"\x00" * (100 * 1024), "at most 100 KB"),
        ("banner", png(), "Unknown picture"),
    ]:
        with pytest.raises(DomainError) as refused, db.write() as session:
            assets.store(session, name, data, ACTOR)
        assert message in refused.value.message.format(**refused.value.params), name
    assert rows(db) == before
    with db.write() as session:
        assets.remove(session, "logo", ACTOR)
    with db.read() as session:
        assert assets.load(session, "logo") is None
        assert panel_settings.values(session)["logo"] == ""
        assert assets.load(session, "favicon") is not None


HOSTILE = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "[click](javascript:alert(1))",
    "[click](JaVaScRiPt:alert(1))",
    "[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "[click](vbscript:msgbox)",
    "<a href=\"javascript:alert(1)\">x</a>",
    "![x](javascript:alert(1))",
    "<iframe src=https://evil.example></iframe>",
    "<style>body{display:none}</style>",
    "[x](https://ok.example \"t\" onmouseover=alert(1))",
    "<div style=\"background:url(javascript:alert(1))\">x</div>",
    "<svg/onload=alert(1)>",
]


class Elements(HTMLParser):
    """Every element and attribute of some HTML, as a browser would read them."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.found: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, attrs))


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_markdown_is_neutralised(text: str) -> None:
    html = str(content.render(text))
    for tag, attrs in Elements(html).found:
        assert tag in {"p", "a", "h1", "h2"}, (text, html)
        for name, value in attrs:
            assert name in {"href", "rel", "title"}, (text, html)
            if name == "href":
                assert (value or "").startswith(("https://", "http://")), (text, html)


def test_markdown_renders_and_links_are_safe() -> None:
    html = str(content.render(
        "# Terms\n\n**Bold** and *it*, a [link](https://example.test/a?b=1&c=2).\n\n"
        "| a | b |\n|---|---|\n| 1 | 2 |\n\n- one\n- two\n\n<b>raw</b>"
    ))
    assert "<h1>Terms</h1>" in html and "<strong>Bold</strong>" in html
    assert '<a href="https://example.test/a?b=1&amp;c=2" rel="noopener noreferrer nofollow">' \
        in html
    assert "<table>" in html and "<li>one</li>" in html
    assert "&lt;b&gt;raw&lt;/b&gt;" in html  # raw HTML is shown as text
    assert [str(card).count("<h2>") for card in content.cards(
        "## Fast\nStarts at once.\n\n```\n## not a card\n```\n## Fair\nRefunds.")] == [1, 1]


def content_pages_fall_back_and_version_the_terms(db: Database) -> None:
    with db.read() as session:
        assert content.shown(session, "terms", "ar", "en") is None
        assert content.current_terms_version(session) is None
        assert content.footer_links(session) == []
    with db.write() as session:
        assert content.save(session, "terms", "en", "# Terms\r\nBe nice.\x00", ACTOR) == 1
        content.save(session, "faq", "ar", "## سؤال\nجواب", ACTOR)
    with db.read() as session:
        english = content.shown(session, "terms", "ar", "en")
        assert english is not None and english.language == "en"
        assert "<h1>Terms</h1>" in english.html and english.version == 1
        assert content.source(session, "terms", "en") == "# Terms\nBe nice."
        faq = content.shown(session, "faq", "en", "en")  # only in Arabic: shown in Arabic
        assert faq is not None and faq.language == "ar"
        assert content.footer_links(session) == [("/terms", "Terms of service"), ("/faq", "FAQ")]
    with db.write() as session:
        assert content.save(session, "terms", "ar", "# الشروط", ACTOR) == 2
    with db.read() as session:
        arabic = content.shown(session, "terms", "ar", "en")
        assert arabic is not None and arabic.language == "ar" and arabic.version == 2
        assert content.current_terms_version(session) == 2
    before = rows(db)
    for slug, language, body, message in [
        ("terms", "en", "x" * (content.MAX_BODY + 1), "at most 50000 characters"),
        ("terms", "xx", "text", "Unknown language"),
        ("../etc", "en", "text", "does not exist"),
    ]:
        with pytest.raises(DomainError) as refused, db.write() as session:
            content.save(session, slug, language, body, ACTOR)
        assert message in refused.value.message.format(**refused.value.params)
    assert rows(db) == before
    with db.write() as session:
        # Empty: the language is removed; the version still grows (never reused).
        assert content.save(session, "terms", "ar", "   ", ACTOR) == 3
    with db.read() as session:
        shown = content.shown(session, "terms", "ar", "en")
        assert shown is not None and shown.language == "en" and shown.version == 3
        assert content.written(session) == {"faq": ["ar"], "terms": ["en"]}
        assert content.current_terms_version(session) == 3
    with db.write() as session:
        content.save(session, "terms", "en", "", ACTOR)
    with db.read() as session:
        assert content.shown(session, "terms", "en", "en") is None
        assert content.current_terms_version(session) is None
        assert content.footer_links(session) == [("/faq", "FAQ")]


def the_cli_uploads_and_removes_the_pictures(
    db: Database, database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    logo, page = tmp_path / "logo.png", tmp_path / "logo.svg"
    logo.write_bytes(png())
    page.write_bytes(SVG)
    with in_process_runner(database_url, monkeypatch) as run:
        done = run("settings", "logo", str(logo))
        assert done.exit_code == 0, done.stderr
        with db.read() as session:
            stored = assets.load(session, "logo")
        assert stored is not None and done.stdout.strip() == f"logo = {stored.etag}"
        refused(run("settings", "favicon", str(page)), "A favicon is an ICO or PNG picture")
        refused(run("settings", "favicon", str(tmp_path / "missing.ico")), "cannot read", 2)
        refused(run("settings", "logo"), "give a FILE, or --remove", 2)
        refused(run("settings", "set", "logo", "x.png"), "Upload a picture")
        assert run("settings", "logo", "--remove").stdout.strip() == "logo removed"
    with db.read() as session:
        assert assets.load(session, "logo") is None and assets.load(session, "favicon") is None


# One database per test is the costly part: the checks above share two.
def test_settings_the_theme_and_the_pictures(db: Database) -> None:
    the_theme_stylesheet_holds_only_checked_colours(db)
    colours_and_maintenance_settings_are_checked(db)
    a_logo_and_a_favicon_are_checked_by_their_bytes(db)


def test_content_pages_and_the_pictures_cli(
    db: Database, database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    content_pages_fall_back_and_version_the_terms(db)
    the_cli_uploads_and_removes_the_pictures(db, database_url, monkeypatch, tmp_path)
