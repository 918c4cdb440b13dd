"""Every panel setting: name, type, default, validation and help text for staff.

A later issue adds a setting by adding one ``Setting`` to ``SETTINGS``. ``parse`` turns the
text a person typed (a form field, a CLI argument) into the typed value or refuses it with
a ``SettingRefused`` naming the problem; ``check`` sees every value, for rules between
settings (``languages`` must include ``default_language``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlsplit

from opensmm.errors import DomainError
from opensmm.i18n import N_
from opensmm.money import MoneyError, parse_money
from opensmm.web.i18n import LANGUAGES


class SettingRefused(DomainError):
    message = N_("Incorrect setting")


class UnknownSetting(SettingRefused):
    pass


MAX_TEXT = 100


@dataclass(frozen=True)
class Setting:
    name: str
    # "text", "choice", "language", "languages", "colour", "image": how the page shows
    # its input (an "image" is uploaded, its value is the stored picture's hash)
    kind: str
    default: Any
    help: str
    parse: Callable[[str], Any]
    choices: tuple[str, ...] = ()
    check: Callable[[Any, Mapping[str, Any]], None] | None = None

    def show(self, value: Any) -> str:
        """The value as a person types it."""
        if isinstance(value, list):
            return ", ".join(str(v) for v in value)
        return str(value)


def _printable(raw: str) -> bool:
    return all(ch.isprintable() for ch in raw)


def _text(max_length: int) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        value = raw.strip()
        if not value:
            raise SettingRefused(N_("The value must not be empty"))
        if len(value) > max_length:
            raise SettingRefused(N_("The value is at most {n} characters"), n=max_length)
        if not _printable(value):
            raise SettingRefused(N_("The value must not contain control characters"))
        return value

    return parse


def _choice(choices: tuple[str, ...]) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        value = raw.strip().lower()
        if value not in choices:
            raise SettingRefused(
                N_("The value must be one of: {choices}"), choices=", ".join(choices)
            )
        return value

    return parse


def _language(raw: str) -> str:
    code = raw.strip().lower()
    if code not in LANGUAGES:
        raise SettingRefused(N_("Unknown language; known: {codes}"), codes=", ".join(LANGUAGES))
    return code


def _languages(raw: str) -> list[str]:
    codes: list[str] = []
    for part in raw.replace(" ", ",").split(","):
        if part.strip():
            code = _language(part)
            if code not in codes:
                codes.append(code)
    if not codes:
        raise SettingRefused(N_("At least one language is required"))
    return codes


def _default_is_enabled(value: Any, values: Mapping[str, Any]) -> None:
    if values["default_language"] not in values["languages"]:
        raise SettingRefused(N_("The enabled languages must include the default language"))


OFF = "off"
ON = "on"


def _percent(raw: str) -> str:
    """A percent from 0 to 50, kept as its exact digits ("2.5")."""
    try:
        value = Decimal(raw.strip())
    except (InvalidOperation, ValueError):
        raise SettingRefused(N_("Enter a percent, like 5 or 2.5")) from None
    if not value.is_finite() or not Decimal(0) <= value <= MAX_AFFILIATE_PERCENT:
        raise SettingRefused(N_("The percent must be from 0 to {max}"),
                             max=MAX_AFFILIATE_PERCENT)
    if value != value.quantize(Decimal("0.01")):
        raise SettingRefused(N_("A percent has at most 2 decimals"))
    return format(value.normalize() + 0, "f")


def _amount(raw: str) -> str:
    """An amount of money, zero or more, kept as its exact digits."""
    try:
        value = parse_money(raw)
    except MoneyError:
        raise SettingRefused(N_("Enter an amount, like 25 or 25.50")) from None
    if value < 0:
        raise SettingRefused(N_("The amount must be zero or more"))
    return format(value.normalize() + 0, "f")


_HEX = frozenset("0123456789abcdef")


def _colour(raw: str) -> str:
    """A colour as CSS hex, ``#rrggbb`` (``#rgb`` is widened): nothing else can reach the
    served stylesheet."""
    value = raw.strip().lower()
    if len(value) == 4 and value.startswith("#"):
        value = "#" + "".join(ch * 2 for ch in value[1:])
    if len(value) != 7 or not value.startswith("#") or not set(value[1:]) <= _HEX:
        raise SettingRefused(N_("Enter a colour as #rrggbb, like #4f46e5"))
    return value


def _readable_on(background: str) -> Callable[[str], str]:
    """A colour that reads (WCAG AA, 4.5:1) against ``background``: links on the pages'
    cards, the top bar under its light text."""

    def parse(raw: str) -> str:
        from opensmm.branding.theme import contrast

        value = _colour(raw)
        if contrast(value, background) < MIN_CONTRAST:
            raise SettingRefused(
                N_("This colour does not contrast enough with the text or page around it "
                   "(contrast {ratio}:1, at least 4.5:1 needed)"),
                ratio=f"{contrast(value, background):.1f}",
            )
        return value

    return parse


def _uploaded(raw: str) -> str:
    raise SettingRefused(N_("Upload a picture for this setting (the settings page, or "
                            "opensmm settings logo FILE / favicon FILE)"))


MIN_CONTRAST = 4.5
THEME_LIGHT = "light"
THEME_AUTO = "auto"
MAX_MAINTENANCE_MESSAGE = 300
DEFAULT_MAINTENANCE_MESSAGE = N_("The panel is down for maintenance. Please come back soon.")
def _hours(raw: str) -> int:
    """A whole number of hours, from 1 to ``MAX_STUCK_HOURS``."""
    value = raw.strip()
    if not (value.isascii() and value.isdigit()) or not 1 <= int(value[:6]) <= MAX_STUCK_HOURS:
        raise SettingRefused(N_("Enter a whole number of hours from 1 to {max}"),
                             max=MAX_STUCK_HOURS)
    return int(value)


MAX_STUCK_HOURS = 720
MAX_URL = 500


def _rates_url(raw: str) -> str:
    """An http(s) address, or "" (none)."""
    url = raw.strip()
    if not url:
        return ""
    parts = urlsplit(url)
    try:
        port_ok = parts.port is None or parts.port > 0
    except ValueError:
        port_ok = False
    if (len(url) > MAX_URL or not port_ok or parts.scheme not in ("http", "https")
            or not parts.hostname or any(ch.isspace() or not ch.isprintable() for ch in url)):
        raise SettingRefused(N_("The value must be an http(s) address of at most {n} "
                                "characters"), n=MAX_URL)
    return url


MAX_AFFILIATE_PERCENT = Decimal(50)
SIGNUPS_OPEN = "open"
SIGNUPS_CLOSED = "closed"
VERIFICATION_OFF = "off"
VERIFICATION_REQUIRED = "required"

SETTINGS: dict[str, Setting] = {
    s.name: s
    for s in (
        Setting(
            "panel_name", "text", "opensmm",
            N_("The panel's name, shown in page titles and the header of every page."),
            _text(MAX_TEXT),
        ),
        Setting(
            "logo", "image", "",
            N_("A picture shown in the header of every page: PNG, JPEG or WebP, at most "
               "512 KB."),
            _uploaded,
        ),
        Setting(
            "favicon", "image", "",
            N_("The icon browsers show in tabs: ICO or PNG, at most 100 KB."),
            _uploaded,
        ),
        Setting(
            "theme_mode", "choice", THEME_LIGHT,
            N_("light: light pages for everyone; auto: dark pages, in the dark colours "
               "below, for visitors whose device is in dark mode."),
            _choice((THEME_LIGHT, THEME_AUTO)), choices=(THEME_LIGHT, THEME_AUTO),
        ),
        Setting(
            "theme_primary", "colour", "#4f46e5",
            N_("The colour of buttons and links (#rrggbb), readable on white."),
            _readable_on("#ffffff"),
        ),
        Setting(
            "theme_accent", "colour", "#111827",
            N_("The colour of the top bar and the sidebar (#rrggbb), dark enough for their "
              "light text."),
            _readable_on("#d0d5dd"),
        ),
        Setting(
            "theme_primary_dark", "colour", "#a5b4fc",
            N_("The colour of buttons and links on dark pages (#rrggbb)."),
            _readable_on("#151b2e"),
        ),
        Setting(
            "theme_accent_dark", "colour", "#000000",
            N_("The colour of the top bar and the sidebar on dark pages (#rrggbb)."),
            _readable_on("#d0d5dd"),
        ),
        Setting(
            "maintenance", "choice", OFF,
            N_("on: customers see a maintenance page and the API answers with the message "
               "below; staff pages, staff log-in and payment callbacks keep working."),
            _choice((OFF, ON)), choices=(OFF, ON),
        ),
        Setting(
            "maintenance_message", "text", DEFAULT_MAINTENANCE_MESSAGE,
            N_("What customers and API clients read while maintenance is on."),
            _text(MAX_MAINTENANCE_MESSAGE),
        ),
        Setting(
            "signups", "choice", SIGNUPS_OPEN,
            N_("open: anyone may create an account; closed: the sign-up page refuses."),
            _choice((SIGNUPS_OPEN, SIGNUPS_CLOSED)), choices=(SIGNUPS_OPEN, SIGNUPS_CLOSED),
        ),
        Setting(
            "email_verification", "choice", VERIFICATION_OFF,
            N_("off: customers order without confirming their email; required: a customer "
               "must open the link mailed to them before placing orders."),
            _choice((VERIFICATION_OFF, VERIFICATION_REQUIRED)),
            choices=(VERIFICATION_OFF, VERIFICATION_REQUIRED),
        ),
        Setting(
            "default_language", "language", "en",
            N_("The language of visitors whose account and browser name none we have."),
            _language, choices=tuple(LANGUAGES), check=_default_is_enabled,
        ),
        Setting(
            "languages", "languages", list(LANGUAGES),
            N_("The languages visitors may choose, comma-separated codes; must include the "
               "default."),
            _languages, choices=tuple(LANGUAGES), check=_default_is_enabled,
        ),
        Setting(
            "staff_2fa_required", "choice", OFF,
            N_("on: staff must set up two-factor log-in before any staff page opens; off: "
               "it is their choice."),
            _choice((OFF, ON)), choices=(OFF, ON),
        ),
        Setting(
            "affiliate_percent", "text", "0",
            N_("The commission, in percent, that a referred customer's paid deposits earn "
               "their referrer (0: affiliates are off); staff may set another per customer."),
            _percent,
        ),
        Setting(
            "affiliate_min_transfer", "text", "0",
            N_("The smallest amount a customer may move from their affiliate balance to "
               "their panel balance (0: any amount)."),
            _amount,
        ),
        Setting(
            "currency_rates_url", "text", "",
            N_("Where the worker fetches the display currencies' exchange rates every hour "
               "(JSON, see docs/currencies.md); empty: rates are typed in only."),
            _rates_url,
        ),
        Setting(
            "stuck_hours", "text", 24,
            N_("A running order with no progress (status, remains or start count) for this "
               "many hours counts as stuck: staff are alerted and the scorecards count it."),
            _hours,
        ),
    )
}


def get_setting(name: str) -> Setting:
    setting = SETTINGS.get(name)
    if setting is None:
        raise UnknownSetting(N_("Unknown setting {name!r}; known: {known}"), name=name[:64],
                             known=", ".join(SETTINGS))
    return setting
