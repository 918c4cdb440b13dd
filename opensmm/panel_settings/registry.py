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
    kind: str  # "text", "choice", "language", "languages": how the page shows its input
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


def _hours(raw: str) -> int:
    """A whole number of hours, from 1 to ``MAX_STUCK_HOURS``."""
    value = raw.strip()
    if not (value.isascii() and value.isdigit()) or not 1 <= int(value[:6]) <= MAX_STUCK_HOURS:
        raise SettingRefused(N_("Enter a whole number of hours from 1 to {max}"),
                             max=MAX_STUCK_HOURS)
    return int(value)


MAX_STUCK_HOURS = 720
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
