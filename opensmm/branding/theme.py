"""The theme's colours as CSS variables, and what every page shows of the branding.

The colours reach the browser only through ``/theme.css``, generated here from the settings
(each one a checked ``#rrggbb``): no inline style, so the Content-Security-Policy keeps
``style-src 'self'``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from opensmm.panel_settings.registry import ON, SIGNUPS_OPEN, THEME_AUTO

WHITE = "#ffffff"
DARK_INK = "#111827"


def _luminance(colour: str) -> float:
    def channel(hex_pair: str) -> float:
        c = int(hex_pair, 16) / 255
        return c / 12.92 if c <= 0.03928 else float(((c + 0.055) / 1.055) ** 2.4)

    r, g, b = (channel(colour[i:i + 2]) for i in (1, 3, 5))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    """The WCAG contrast ratio of two ``#rrggbb`` colours (1 to 21)."""
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def ink_on(colour: str) -> str:
    """White or near-black, whichever reads better on ``colour``."""
    return WHITE if contrast(colour, WHITE) >= contrast(colour, DARK_INK) else DARK_INK


def _variables(primary: str, accent: str) -> str:
    return f"--primary: {primary}; --primary-ink: {ink_on(primary)}; --topbar: {accent};"


# The dark pages (``theme_mode`` auto, on a device in dark mode): the stylesheet's palette
# turned dark, then the few surfaces it paints white.
DARK_PALETTE = (
    "--bg: #0b1020; --card: #151b2e; --ink: #e5e7eb; --muted: #a3acbd; --line: #2a3350; "
    "--primary-soft: #1e1b4b; --ok: #4ade80; --ok-soft: #052e16; --err-soft: #450a0a; "
    "--danger: #fca5a5; --warn: #fbbf24; --warn-soft: #451a03;"
)
DARK_SURFACES = (
    "  input, select, textarea, .button, .tab, .new-key .key { background: var(--card); "
    "color: var(--ink); border-color: var(--line); }\n"
    "  .button:hover, .table th, .table tbody tr:hover { background: #1c2438; }\n"
    "  .button.primary { background: var(--primary); color: var(--primary-ink); }\n"
)


def stylesheet(values: Mapping[str, Any]) -> str:
    """``/theme.css``: the owner's colours over the stylesheet's defaults; with
    ``theme_mode`` auto, dark pages (and the dark colours) on devices set to dark mode."""
    css = (
        "/* opensmm: the panel's colours, from its settings */\n"
        f":root {{ {_variables(values['theme_primary'], values['theme_accent'])} }}\n"
    )
    if values["theme_mode"] == THEME_AUTO:
        dark = _variables(values["theme_primary_dark"], values["theme_accent_dark"])
        css += (
            "@media (prefers-color-scheme: dark) {\n"
            f"  :root {{ {DARK_PALETTE} {dark} color-scheme: dark; }}\n{DARK_SURFACES}}}\n"
        )
    return css


THEME_KEYS = ("theme_mode", "theme_primary", "theme_accent", "theme_primary_dark",
              "theme_accent_dark")


@dataclass(frozen=True)
class Brand:
    """What the header, the footer and ``<head>`` of every page show."""

    logo: str  # the logo's hash for its URL; "" when there is none
    favicon: str
    theme: str  # the theme's hash for the URL of /theme.css
    signups_open: bool
    maintenance: bool
    footer: tuple[tuple[str, str], ...] = ()


def brand_of(values: Mapping[str, Any], footer: tuple[tuple[str, str], ...] = ()) -> Brand:
    theme = hashlib.sha256(
        "|".join(str(values[key]) for key in THEME_KEYS).encode()
    ).hexdigest()[:12]
    return Brand(
        logo=str(values["logo"]), favicon=str(values["favicon"]), theme=theme,
        signups_open=values["signups"] == SIGNUPS_OPEN, maintenance=values["maintenance"] == ON,
        footer=footer,
    )
