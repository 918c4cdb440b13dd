"""Reading and changing panel settings.

Reads go through a per-process cache keyed by the database and checked against
``settings_stamp`` (one tiny query): a change committed by any process, through any door,
is seen by the next read everywhere.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from opensmm.audit import service as audit
from opensmm.audit.actor import Actor
from opensmm.db import Database, utcnow
from opensmm.db.statements import Statement
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


# An engine's URL rendered once: the API asks ``maintenance_known`` on every request, and
# rendering (quoting every part) cost more than the rest of that check.
_engine_keys: WeakKeyDictionary[Engine, str] = WeakKeyDictionary()


def _engine_key(engine: Engine) -> str:
    key = _engine_keys.get(engine)
    if key is None:
        key = _engine_keys[engine] = engine.url.render_as_string(hide_password=False)
    return key


def _key(session: Session) -> str:
    return _engine_key(session.get_bind().engine)


def _stored(session: Session) -> dict[str, Any]:
    values = {name: setting.default for name, setting in SETTINGS.items()}
    for row in session.scalars(select(PanelSetting)):
        if row.name in SETTINGS:
            values[row.name] = row.value
    return values


# The stamp is read by every unit that asks a setting (placing an order asks one): compiled
# once, not built by the ORM each time: `values` took 47 µs of CPU, now 4.4 (SQLite).
_STAMP = Statement(lambda: select(SettingsStamp.stamp))


def values(session: Session) -> dict[str, Any]:
    """Every setting's value (a copy): stored, else its default."""
    rows = _STAMP.run(session)
    stamp = (rows[0].stamp if rows else 0) or 0
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
    return _store(session, name, setting.parse(raw), actor)


def set_uploaded(session: Session, name: str, digest: str, actor: Actor) -> None:
    """Record the hash of the picture just stored for the ``image`` setting ``name``
    ("": removed); ``opensmm.branding.assets`` stores the bytes."""
    setting = get_setting(name)
    if setting.kind != "image":
        raise SettingRefused(N_("This setting does not take a picture"))
    _store(session, name, digest, actor)


def _store(session: Session, name: str, value: Any, actor: Actor) -> Any:
    setting = get_setting(name)
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


def maintenance(session: Session) -> bool:
    """Whether maintenance mode is on (customers and API clients are turned away)."""
    return bool(values(session)["maintenance"] == ON)


# The API's hot path asks at most this often per process (one read, not one per request).
MAINTENANCE_RECHECK_SECONDS = 1.0
_maintenance_seen: dict[str, tuple[float, str | None]] = {}


def maintenance_known(database: Database) -> tuple[bool, str | None]:
    """Without a query: (whether this process checked within the last second, the owner's
    message if maintenance was on then)."""
    seen = _maintenance_seen.get(_engine_key(database.read_engine))
    if seen is None or time.monotonic() - seen[0] >= MAINTENANCE_RECHECK_SECONDS:
        return False, None
    return True, seen[1]


def maintenance_message(database: Database) -> str | None:
    """The owner's message while maintenance is on, else None (read now, and remembered
    for ``maintenance_known``)."""
    with database.read() as session:
        current = values(session)
    message = str(current["maintenance_message"]) if current["maintenance"] == ON else None
    _maintenance_seen[_engine_key(database.read_engine)] = (time.monotonic(), message)
    return message


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
