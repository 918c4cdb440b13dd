"""Reading and changing panel settings.

Reads go through a per-process cache keyed by the database and checked against
``settings_stamp`` (one tiny query): a change committed by any process, through any door,
is seen by the next read everywhere.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from opensmm.audit import service as audit
from opensmm.audit.actor import Actor
from opensmm.db import Database, utcnow
from opensmm.errors import DomainError
from opensmm.i18n import N_
from opensmm.panel_settings.models import PanelSetting, SettingsStamp
from opensmm.panel_settings.registry import (
    ON,
    SETTINGS,
    SIGNUPS_OPEN,
    VERIFICATION_REQUIRED,
    SettingRefused,
    get_setting,
)

MAX_RAW = 2000


@dataclass(frozen=True)
class _Cached:
    stamp: int
    values: dict[str, Any]


_cache: dict[str, _Cached] = {}
_lock = threading.Lock()


def _engine_key(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


def _key(session: Session) -> str:
    return _engine_key(session.get_bind().engine)


def _stored(session: Session) -> dict[str, Any]:
    values = {name: setting.default for name, setting in SETTINGS.items()}
    for row in session.scalars(select(PanelSetting)):
        if row.name in SETTINGS:
            values[row.name] = row.value
    return values


def values(session: Session) -> dict[str, Any]:
    """Every setting's value (a copy): stored, else its default."""
    stamp = session.scalar(select(SettingsStamp.stamp)) or 0
    key = _key(session)
    cached = _cache.get(key)
    if cached is None or cached.stamp != stamp:
        cached = _Cached(stamp, _stored(session))
        if not session.new and not session.dirty:
            with _lock:
                _cache[key] = cached
    return dict(cached.values)


def last_known(database: Database) -> dict[str, Any]:
    """The values this process last read, without a query (for pages shown without the
    database: error pages); the defaults before the first read."""
    cached = _cache.get(_engine_key(database.read_engine))
    if cached is None:
        return {name: setting.default for name, setting in SETTINGS.items()}
    return dict(cached.values)


def get(session: Session, name: str) -> Any:
    get_setting(name)
    return values(session)[name]


def set_value(session: Session, name: str, raw: str, actor: Actor) -> Any:
    """Parse, validate, store and audit one setting. Refusals change nothing."""
    setting = get_setting(name)
    if not isinstance(raw, str) or len(raw) > MAX_RAW:
        raise SettingRefused(N_("The value is at most {n} characters"), n=MAX_RAW)
    value = setting.parse(raw)
    current = _stored(session)
    before = current[name]
    current[name] = value
    for other in SETTINGS.values():
        if other.check is not None:
            other.check(current[other.name], current)
    row = session.get(PanelSetting, name)
    if row is None:
        session.add(PanelSetting(name=name, value=value, updated_at=utcnow()))
    else:
        row.value = value
        row.updated_at = utcnow()
    session.flush()
    audit.record(session, actor, "settings.set", f"setting:{name}", name=name,
                 before=setting.show(before), after=setting.show(value))
    return value


# --- typed readers for the rest of the panel ---------------------------------------------
def panel_name(session: Session) -> str:
    return str(values(session)["panel_name"])


def signups_open(session: Session) -> bool:
    return bool(values(session)["signups"] == SIGNUPS_OPEN)


class SignupsClosed(DomainError):
    message = N_("Sign-ups are closed on this panel.")


def check_signups_open(session: Session) -> None:
    """Refuse a sign-up while ``signups`` is ``closed`` (every door that creates accounts
    for visitors asks this; staff create accounts whatever it says)."""
    if not signups_open(session):
        raise SignupsClosed()


def email_verification_required(session: Session) -> bool:
    """Whether customers must confirm their email before placing orders."""
    return bool(values(session)["email_verification"] == VERIFICATION_REQUIRED)


def default_language(session: Session) -> str:
    return str(values(session)["default_language"])


def languages(session: Session) -> list[str]:
    """The enabled language codes, the default among them."""
    return [str(code) for code in values(session)["languages"]]


def staff_2fa_required(session: Session) -> bool:
    """Whether staff must have two-factor log-in on before any staff page opens."""
    return bool(values(session)["staff_2fa_required"] == ON)
