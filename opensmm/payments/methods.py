"""Payment methods: a gateway account with its credentials, limits, fee, bonus and words.

Staff add them in the back office or with ``opensmm payment-method``; both doors call these
functions, which check everything and write the audit row. Credentials are encrypted at rest
under a key derived from the panel's secret and never shown back (``shown_settings``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from opensmm.audit import service as audit
from opensmm.audit.actor import Actor
from opensmm.db import utcnow
from opensmm.errors import DomainError, NotFound
from opensmm.i18n import N_
from opensmm.i18n.languages import LANGUAGES
from opensmm.money import MAX_AMOUNT, format_money
from opensmm.payments import secrets
from opensmm.payments.gateways import GATEWAYS, Gateway, GatewayConfigError, gateway_for
from opensmm.payments.models import PaymentMethod

NAME = re.compile(r"[a-z0-9][a-z0-9-]{1,39}")
SETTING_NAME = re.compile(r"[a-z_]{1,40}")
MAX_SETTING = 4000
MAX_INSTRUCTIONS = 5000
MAX_TITLE = 80
MAX_PERCENT = Decimal(100)


class MethodRefused(DomainError):
    pass


@dataclass(frozen=True)
class Limits:
    """A method's amounts and terms, as typed (``None``: leave as it is / not set)."""

    min_amount: Decimal | None = None
    max_amount: Decimal | None = None
    fee_percent: Decimal | None = None
    bonus_percent: Decimal | None = None
    bonus_from: Decimal | None = None


def check_name(name: str) -> str:
    name = name.strip().lower()
    if not NAME.fullmatch(name):
        raise MethodRefused(
            N_("A method's name is 2 to 40 lower-case letters, digits or dashes: it is "
               "part of the callback address")
        )
    return name


def _check_gateway(gateway: str) -> str:
    if gateway not in GATEWAYS:
        raise MethodRefused(N_("Unknown gateway {gateway}; the gateways are: {known}"),
                            gateway=gateway[:40], known=", ".join(sorted(GATEWAYS)))
    return gateway


def _check_settings(gateway: str, values: Mapping[str, str]) -> dict[str, str]:
    known = GATEWAYS[gateway].known_settings
    clean: dict[str, str] = {}
    for key, typed in values.items():
        if not SETTING_NAME.fullmatch(key) or key not in known:
            raise MethodRefused(N_("{gateway} has no setting {key}; its settings are: {known}"),
                                gateway=gateway, key=key[:40], known=", ".join(sorted(known)))
        value = typed.strip()
        if len(value) > MAX_SETTING or not all(ch.isprintable() or ch in "\n\r\t" for ch in value):
            raise MethodRefused(N_("The setting {key} is too long or holds control characters"),
                                key=key)
        clean[key] = value
    return clean


def _check_instructions(values: Mapping[str, str]) -> dict[str, str]:
    clean: dict[str, str] = {}
    for lang, typed in values.items():
        if lang not in LANGUAGES:
            raise MethodRefused(N_("Unknown language {language}"), language=lang[:8])
        text = typed.strip().replace("\r\n", "\n")
        if len(text) > MAX_INSTRUCTIONS:
            raise MethodRefused(N_("Instructions are at most {max} characters"),
                                max=MAX_INSTRUCTIONS)
        if not all(ch.isprintable() or ch in "\n\t" for ch in text):
            raise MethodRefused(N_("Instructions must not contain control characters"))
        if text:
            clean[lang] = text
    return clean


def _check_limits(method: PaymentMethod, limits: Limits) -> None:
    for value in (limits.min_amount, limits.max_amount, limits.bonus_from):
        if value is not None and not Decimal(0) <= value < MAX_AMOUNT:
            raise MethodRefused(N_("Amounts must be zero or more"))
    for value in (limits.fee_percent, limits.bonus_percent):
        if value is not None and not Decimal(0) <= value < MAX_PERCENT:
            raise MethodRefused(N_("A fee or bonus is a percentage from 0 to less than 100"))
    if limits.min_amount is not None:
        method.min_amount = limits.min_amount
    if limits.max_amount is not None:
        method.max_amount = limits.max_amount or None
    if limits.fee_percent is not None:
        method.fee_percent = limits.fee_percent
    if limits.bonus_percent is not None:
        method.bonus_percent = limits.bonus_percent
    if limits.bonus_from is not None:
        method.bonus_from = limits.bonus_from or None
    if method.min_amount <= 0:
        raise MethodRefused(N_("The minimum deposit must be more than zero"))
    if method.max_amount is not None and method.max_amount < method.min_amount:
        raise MethodRefused(N_("The maximum deposit must not be below the minimum"))


def _verify_configuration(method: PaymentMethod, panel_secret: str) -> None:
    """Build the gateway once: a missing credential is refused now, not at the first payment."""
    try:
        gateway_for(method.gateway, decrypted_settings(method, panel_secret)).close()
    except GatewayConfigError as exc:
        raise MethodRefused(N_("The gateway's settings are incomplete: {problem}"),
                            problem=exc.message) from None


def add_method(
    session: Session,
    actor: Actor,
    *,
    name: str,
    gateway: str,
    panel_secret: str,
    title: str = "",
    limits: Limits = Limits(),
    settings: Mapping[str, str] | None = None,
    instructions: Mapping[str, str] | None = None,
) -> PaymentMethod:
    name = check_name(name)
    gateway = _check_gateway(gateway.strip().lower())
    if session.scalar(select(PaymentMethod.id).where(PaymentMethod.name == name)) is not None:
        raise MethodRefused(N_("A payment method named {name} exists already"), name=name)
    method = PaymentMethod(name=name, gateway=gateway, title=_check_title(title),
                           min_amount=Decimal(1), fee_percent=Decimal(0),
                           bonus_percent=Decimal(0), settings={}, instructions={},
                           position=_next_position(session))
    _check_limits(method, limits)
    clean = _check_settings(gateway, settings or {})
    method.settings = secrets.encrypt_settings(
        {k: v for k, v in clean.items() if v}, GATEWAYS[gateway].secret_settings, panel_secret
    )
    method.instructions = _check_instructions(instructions or {})
    _verify_configuration(method, panel_secret)
    session.add(method)
    session.flush()
    audit.record(session, actor, "payment_method.create", f"payment_method:{method.id}",
                 method=name, gateway=gateway)
    return method


def edit_method(
    session: Session,
    actor: Actor,
    method: PaymentMethod,
    *,
    panel_secret: str,
    title: str | None = None,
    limits: Limits = Limits(),
    settings: Mapping[str, str] | None = None,
    instructions: Mapping[str, str] | None = None,
) -> PaymentMethod:
    """Change what is given: a setting given empty is removed; credentials not given stay."""
    if title is not None:
        method.title = _check_title(title)
    _check_limits(method, limits)
    changed = sorted(settings or {})
    if settings:
        clean = _check_settings(method.gateway, settings)
        secret_keys = GATEWAYS[method.gateway].secret_settings
        stored = dict(method.settings or {})
        for key, value in clean.items():
            if value:
                stored[key] = (secrets.encrypt(value, panel_secret) if key in secret_keys
                               else value)
            else:
                stored.pop(key, None)
        method.settings = stored
    if instructions is not None:
        method.instructions = _check_instructions(instructions)
    _verify_configuration(method, panel_secret)
    method.updated_at = utcnow()
    audit.record(session, actor, "payment_method.edit", f"payment_method:{method.id}",
                 method=method.name, settings=", ".join(changed) or "-",
                 min=format_money(method.min_amount),
                 fee=format_money(method.fee_percent), bonus=format_money(method.bonus_percent))
    return method


def set_enabled(session: Session, actor: Actor, method: PaymentMethod, enabled: bool) -> None:
    if method.enabled == enabled:
        return
    method.enabled = enabled
    method.updated_at = utcnow()
    code = "payment_method.enable" if enabled else "payment_method.disable"
    audit.record(session, actor, code, f"payment_method:{method.id}", method=method.name)


def _check_title(title: str) -> str:
    title = " ".join(title.split())
    if len(title) > MAX_TITLE:
        raise MethodRefused(N_("A title is at most {max} characters"), max=MAX_TITLE)
    return title


def _next_position(session: Session) -> int:
    last = session.scalar(select(PaymentMethod.position).order_by(
        PaymentMethod.position.desc()).limit(1))
    return (last or 0) + 1


def list_methods(session: Session, *, enabled_only: bool = False) -> list[PaymentMethod]:
    query = select(PaymentMethod).order_by(PaymentMethod.position, PaymentMethod.id)
    if enabled_only:
        query = query.where(PaymentMethod.enabled.is_(True))
    return list(session.scalars(query))


def find_method(session: Session, name: str, *, enabled_only: bool = False) -> PaymentMethod:
    method = session.scalar(select(PaymentMethod).where(PaymentMethod.name == name.strip()[:40]))
    if method is None or (enabled_only and not method.enabled):
        raise NotFound(N_("No payment method named {name}"), name=name.strip()[:40])
    return method


def decrypted_settings(method: PaymentMethod, panel_secret: str) -> dict[str, str]:
    """The method's settings with its credentials in clear: only to build its gateway."""
    try:
        return secrets.decrypt_settings(
            dict(method.settings or {}), GATEWAYS[method.gateway].secret_settings, panel_secret
        )
    except secrets.SecretError:
        raise MethodRefused(
            N_("The credentials of {name} cannot be read (was the panel's secret changed?): "
               "enter them again"), name=method.name,
        ) from None


def open_gateway(method: PaymentMethod, panel_secret: str) -> Gateway:
    try:
        return gateway_for(method.gateway, decrypted_settings(method, panel_secret))
    except GatewayConfigError as exc:
        raise MethodRefused(N_("The gateway's settings are incomplete: {problem}"),
                            problem=exc.message) from None


def shown_settings(method: PaymentMethod, panel_secret: str) -> dict[str, str]:
    """What staff see of the settings: credentials only as "set, ends in …abcd"."""
    secret_keys = GATEWAYS[method.gateway].secret_settings
    shown: dict[str, str] = {}
    for key, value in sorted((method.settings or {}).items()):
        if key not in secret_keys:
            shown[key] = value
            continue
        try:
            shown[key] = secrets.masked(secrets.decrypt(value, panel_secret))
        except secrets.SecretError:
            shown[key] = "set, unreadable"
    return shown


def callback_path(method: PaymentMethod) -> str:
    return f"/payments/callback/{method.name}"


def instructions_for(method: PaymentMethod, language: str, fallback: str) -> str:
    texts = method.instructions or {}
    return texts.get(language) or texts.get(fallback) or next(iter(texts.values()), "")
