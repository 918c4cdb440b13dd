"""The platform of a category: the guess from its name (words, several scripts, the first
platform named), staff's choice, the refusals; the icons shipped with the package and their
sprite kept up to date; the landing page's summary from the catalog (both databases)."""

from __future__ import annotations

import tomllib
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select, update

from opensmm.audit.actor import Actor
from opensmm.catalog import platforms, storefront
from opensmm.catalog import service as catalog
from opensmm.catalog import staff as catalog_staff
from opensmm.catalog.models import Category
from opensmm.db import Database
from opensmm.errors import DomainError

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Instagram Followers [Real]", "instagram"),
        ("instagram likes", "instagram"),
        ("🇺🇸 IG Reels Views", "instagram"),
        ("IGTV", "instagram"),
        ("TikTok Views", "tiktok"),
        ("Tik Tok - Likes", "tiktok"),
        ("YT Subscribers", "youtube"),
        ("Youtube Watch Time (4000h)", "youtube"),
        ("X (Twitter) Followers", "x"),
        ("Twitter Retweets", "x"),
        ("Telegram Members | Channel", "telegram"),
        ("Google Maps Reviews", "googlemaps"),  # the longer name wins over "Google"
        ("Google Reviews", "google"),
        ("Apple Music Plays", "applemusic"),
        ("Подписчики Инстаграм", "instagram"),
        ("Ютуб просмотры", "youtube"),
        ("ВК Друзья", "vk"),
        ("متابعين انستقرام", "instagram"),
        ("مشاهدات تيك توك", "tiktok"),
        ("यूट्यूब व्यूज़", "youtube"),
        ("इंस्टाग्राम फॉलोअर्स", "instagram"),
        ("Facebook + Instagram bundle", "facebook"),  # the platform named first
        ("Spotify/SoundCloud plays", "spotify"),
    ],
)
def test_the_platform_is_guessed_from_the_words_of_the_name(name: str, expected: str) -> None:
    assert platforms.guess(name) == expected


@pytest.mark.parametrize(
    "name",
    ["Website Traffic", "Digital", "Sigma followers", "Tiktoker", "Instagrammers' pack",
     "Boxes", "Lining", "", "    ", "Premium 2x"],
)
def test_no_platform_unless_a_whole_word_names_it(name: str) -> None:
    assert platforms.guess(name) is None


def test_staff_choice_beats_the_guess_and_none_means_the_generic_icon() -> None:
    assert platforms.platform_of("Instagram Likes", "") == "instagram"
    assert platforms.platform_of("Instagram Likes", "facebook") == "facebook"
    assert platforms.platform_of("Instagram Likes", "none") is None
    assert platforms.parse_choice(" TikTok ") == "tiktok"
    for hostile in ("myspace", "<script>", "../../etc/passwd", "instagram\x00", "generic", 7):
        with pytest.raises(DomainError):
            platforms.parse_choice(hostile)


def test_every_platform_has_its_icon_in_the_package_and_the_sprite_is_current() -> None:
    static = ROOT / "opensmm" / "web" / "static" / "platforms"
    for slug in [*platforms.PLATFORMS, platforms.GENERIC]:
        text = (static / f"{slug}.svg").read_text(encoding="utf-8")
        assert platforms.glyph(slug) in text
    readme = (static / "README.md").read_text(encoding="utf-8")
    assert "simple-icons" in readme and "16.37.0" in readme and "CC0-1.0" in readme
    sprite = (static / "sprite.svg").read_text(encoding="utf-8")
    assert sprite == platforms.sprite(), "run: python -m opensmm.catalog.platforms"
    package_data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = package_data["tool"]["setuptools"]["package-data"]["opensmm"]
    assert "web/static/**/*" in patterns  # the icons' folder ships with the package


def test_landing_summary_counts_enabled_services_and_takes_the_cheapest_rate(
    db: Database,
) -> None:
    staff = Actor(user_id=None, name="test", door="cli")
    with db.write() as session:
        cheap = catalog.add_service(session, name="A", category="Instagram Followers",
                                    rate=Decimal("0.12"), min_quantity=10, max_quantity=100)
        catalog.add_service(session, name="B", category="Instagram Likes",
                            rate=Decimal("0.50"), min_quantity=10, max_quantity=100)
        catalog.add_service(session, name="Off", category="Instagram Likes",
                            rate=Decimal("0.01"), min_quantity=10, max_quantity=100,
                            enabled=False)
        catalog.add_service(session, name="Pack", category="Instagram Likes", type="Package",
                            rate=Decimal("0.05"), min_quantity=1, max_quantity=1)
        catalog.add_service(session, name="C", category="TikTok Views",
                            rate=Decimal("2"), min_quantity=10, max_quantity=100)
        catalog.add_service(session, name="Hidden", category="YouTube Views",
                            rate=Decimal("1"), min_quantity=10, max_quantity=100, enabled=False)
        catalog.add_service(session, name="D", category="Website Traffic",
                            rate=Decimal("3"), min_quantity=10, max_quantity=100)
    with db.read() as session:
        offers = storefront.offers(session)
        assert [(o.platform, o.services, o.cheapest) for o in offers] == [
            ("instagram", 3, Decimal("0.12")),  # the package counts, its price is per order
            ("tiktok", 1, Decimal("2")),
            (None, 1, Decimal("3")),
        ]
        assert storefront.offers(session) is offers  # the same stamp: no new read
    with db.write() as session:
        # Staff move the traffic category to a platform: the stamp changes, so does the page.
        traffic = session.scalar(
            select(Category).where(Category.name == "Website Traffic"))
        assert traffic is not None
        catalog_staff.set_category_platform(session, staff, traffic.id, "google")
        session.execute(update(type(cheap)).where(type(cheap).id == cheap.id)
                        .values(enabled=False))
    with db.read() as session:
        assert [(o.platform, o.services, o.cheapest) for o in storefront.offers(session)] == [
            ("instagram", 2, Decimal("0.50")),
            ("tiktok", 1, Decimal("2")),
            ("google", 1, Decimal("3")),
        ]
        assert storefront.icons(session)["Website Traffic"] == "google"
        assert storefront.icons(session)["YouTube Views"] == "youtube"
