"""The platform of a category (Instagram, TikTok…): guessed from its name, or set by staff;
its icon (from Simple Icons, CC0-1.0: see ``opensmm/web/static/platforms/README.md``).

A category's ``platform`` column is ``""`` (guess from the name), ``"none"`` (no platform:
the generic icon) or one of :data:`PLATFORMS`' slugs. The guess reads the name's words
(case-insensitive, whole words, also in Cyrillic, Arabic and Devanagari spellings) and takes
the platform named first: "Instagram Followers [Real]" is Instagram, "YT views" YouTube.

``python -m opensmm.catalog.platforms`` writes the icons' sprite
(``static/platforms/sprite.svg``) from the Simple Icons files beside it: each platform a
rounded tile in its brand colour with the glyph in white or near-black, white where it reads at
3:1 on it, else near-black (so the icons read the same on light and dark pages).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from opensmm.errors import DomainError
from opensmm.i18n import N_

AUTO = ""
NONE = "none"
GENERIC = "generic"
ICONS = Path(__file__).resolve().parent.parent / "web" / "static" / "platforms"


@dataclass(frozen=True)
class Platform:
    slug: str  # the Simple Icons file name (without ".svg")
    name: str  # a brand name: the same in every language
    colour: str  # the brand's colour, from Simple Icons' data
    words: tuple[str, ...] = ()  # what names it in a category's name (casefolded words)


_LIST = (
    Platform("instagram", "Instagram", "#FF0069", (
        "instagram", "insta", "ig", "igtv", "инстаграм", "инстаграмм", "инста", "انستقرام",
        "انستغرام", "إنستغرام", "انستجرام", "إنستجرام", "انستا", "इंस्टाग्राम")),
    Platform("tiktok", "TikTok", "#000000", (
        "tiktok", "tik tok", "tt", "тикток", "тик ток", "تيك توك", "تيكتوك", "टिकटॉक",
        "टिक टॉक")),
    Platform("youtube", "YouTube", "#FF0000", (
        "youtube", "yt", "ютуб", "ютюб", "يوتيوب", "यूट्यूब", "यूट्यूब")),
    Platform("facebook", "Facebook", "#0866FF", (
        "facebook", "fb", "фейсбук", "فيسبوك", "فيس بوك", "फेसबुक")),
    Platform("x", "X (Twitter)", "#000000", (
        "twitter", "x", "tweet", "tweets", "retweets", "твиттер", "твитер", "تويتر", "ट्विटर")),
    Platform("telegram", "Telegram", "#26A5E4", (
        "telegram", "tg", "телеграм", "телеграмм", "тг", "تيليجرام", "تلغرام", "تليجرام",
        "تيلجرام", "टेलीग्राम")),
    Platform("whatsapp", "WhatsApp", "#25D366", (
        "whatsapp", "ватсап", "вотсап", "واتساب", "واتس اب", "व्हाट्सएप")),
    Platform("spotify", "Spotify", "#1ED760", ("spotify", "спотифай", "سبوتيفاي", "स्पॉटिफाई")),
    Platform("twitch", "Twitch", "#9146FF", ("twitch", "твич", "تويتش")),
    Platform("kick", "Kick", "#53FC19", ("kick",)),
    Platform("discord", "Discord", "#5865F2", ("discord", "дискорд", "ديسكورد")),
    Platform("snapchat", "Snapchat", "#FFFC00", ("snapchat", "снэпчат", "سناب شات", "سناب")),
    Platform("threads", "Threads", "#000000", ("threads",)),
    Platform("pinterest", "Pinterest", "#BD081C", ("pinterest", "пинтерест")),
    Platform("reddit", "Reddit", "#FF4500", ("reddit", "реддит")),
    Platform("soundcloud", "SoundCloud", "#FF5500", ("soundcloud", "sound cloud")),
    Platform("applemusic", "Apple Music", "#FA243C", ("apple music", "itunes")),
    Platform("applepodcasts", "Apple Podcasts", "#9933CC", ("apple podcasts", "apple podcast")),
    Platform("deezer", "Deezer", "#A238FF", ("deezer",)),
    Platform("audiomack", "Audiomack", "#FFA200", ("audiomack",)),
    Platform("mixcloud", "Mixcloud", "#5000FF", ("mixcloud",)),
    Platform("tidal", "Tidal", "#000000", ("tidal",)),
    Platform("shazam", "Shazam", "#0088FF", ("shazam",)),
    Platform("vk", "VK", "#0077FF", ("vk", "vkontakte", "вк", "вконтакте")),
    Platform("odnoklassniki", "Odnoklassniki", "#EE8208", ("odnoklassniki", "одноклассники")),
    Platform("quora", "Quora", "#B92B27", ("quora",)),
    Platform("tumblr", "Tumblr", "#36465D", ("tumblr",)),
    Platform("vimeo", "Vimeo", "#1AB7EA", ("vimeo",)),
    Platform("dailymotion", "Dailymotion", "#0A0A0A", ("dailymotion",)),
    Platform("rumble", "Rumble", "#85C742", ("rumble",)),
    Platform("bilibili", "Bilibili", "#00A1D6", ("bilibili",)),
    Platform("bluesky", "Bluesky", "#1185FE", ("bluesky",)),
    Platform("mastodon", "Mastodon", "#6364FF", ("mastodon",)),
    Platform("clubhouse", "Clubhouse", "#FFE450", ("clubhouse",)),
    Platform("kakaotalk", "KakaoTalk", "#FFCD00", ("kakaotalk", "kakao")),
    Platform("onlyfans", "OnlyFans", "#00AFF0", ("onlyfans",)),
    Platform("patreon", "Patreon", "#000000", ("patreon",)),
    Platform("github", "GitHub", "#181717", ("github",)),
    Platform("behance", "Behance", "#1769FF", ("behance",)),
    Platform("dribbble", "Dribbble", "#EA4C89", ("dribbble",)),
    Platform("steam", "Steam", "#000000", ("steam",)),
    Platform("trustpilot", "Trustpilot", "#00B67A", ("trustpilot",)),
    Platform("googlemaps", "Google Maps", "#4285F4", ("google maps", "google business")),
    Platform("googleplay", "Google Play", "#414141", ("google play", "play store")),
    Platform("appstore", "App Store", "#0D96F6", ("app store", "appstore")),
    Platform("google", "Google", "#4285F4", ("google", "гугл", "جوجل")),
)
PLATFORMS: dict[str, Platform] = {p.slug: p for p in _LIST}
GENERIC_COLOUR = "#475467"

# Every keyword as a tuple of words, longest first (so "google maps" wins over "google").
_PHRASES = sorted(
    ((tuple(word.casefold().split()), p.slug) for p in _LIST for word in p.words),
    key=lambda item: -len(item[0]),
)


class PlatformRefused(DomainError):
    message = N_("Unknown platform {platform!r}")


def words(name: str) -> list[str]:
    """The words of a category name, casefolded: letters, digits and their combining marks
    (Devanagari vowel signs are marks), anything else separates."""
    found: list[str] = []
    current: list[str] = []
    for ch in unicodedata.normalize("NFC", name.casefold()):
        if ch.isalnum() or unicodedata.category(ch).startswith("M"):
            current.append(ch)
        elif current:
            found.append("".join(current))
            current = []
    if current:
        found.append("".join(current))
    return found


def guess(name: str) -> str | None:
    """The platform a category name names first (its slug), or None."""
    said = words(name[:200])
    for index in range(len(said)):
        for phrase, slug in _PHRASES:
            if tuple(said[index:index + len(phrase)]) == phrase:
                return slug
    return None


def platform_of(name: str, chosen: str) -> str | None:
    """A category's platform: staff's choice, else the guess; None: the generic icon."""
    if chosen == NONE:
        return None
    if chosen in PLATFORMS:
        return chosen
    return guess(name)


def parse_choice(raw: object) -> str:
    """Staff's choice as typed: "" (guess), "none" or a known platform's slug."""
    text = raw.strip().casefold() if isinstance(raw, str) else None
    if text is None or (text not in (AUTO, NONE) and text not in PLATFORMS):
        shown = raw if isinstance(raw, str) else repr(raw)
        raise PlatformRefused(platform=shown[:40])
    return text


# --- the icons' sprite ---------------------------------------------------------------------
_PATH = re.compile(r'<path d="([^"]+)"\s*/>')


def glyph(slug: str) -> str:
    """The path data of one icon file (each Simple Icons file is one path on 24 × 24)."""
    found = _PATH.search((ICONS / f"{slug}.svg").read_text(encoding="utf-8"))
    if found is None:
        raise ValueError(f"{slug}.svg has no single path")
    return found.group(1)


def _tile(slug: str, colour: str) -> str:
    import opensmm.web.i18n  # noqa: F401  (loaded before the theme: their imports go round)
    from opensmm.branding.theme import DARK_INK, WHITE, contrast

    # White on the tile when it reads at 3:1 (WCAG's ratio for graphics), else near-black.
    ink = WHITE if contrast(colour.lower(), WHITE) >= 3 else DARK_INK
    return (
        f'<symbol id="{slug}" viewBox="0 0 24 24">'
        f'<rect width="24" height="24" rx="5.5" fill="{colour}"/>'
        f'<path transform="translate(5 5) scale(.5833)" fill="{ink}" '
        f'd="{glyph(slug)}"/></symbol>'
    )


def sprite() -> str:
    """Every platform's tile (and the generic one) as ``<symbol>``s, for ``<use>``."""
    tiles = [_tile(p.slug, p.colour) for p in _LIST] + [_tile(GENERIC, GENERIC_COLOUR)]
    return (
        '<svg xmlns="http://www.w3.org/2000/svg">\n'
        "<!-- Generated by `python -m opensmm.catalog.platforms` from the files beside it "
        "(Simple Icons, CC0-1.0; see README.md). -->\n" + "\n".join(tiles) + "\n</svg>\n"
    )


if __name__ == "__main__":
    (ICONS / "sprite.svg").write_text(sprite(), encoding="utf-8")
