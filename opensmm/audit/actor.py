"""Who acts: a staff user in the back office, a person at the command line, an API token."""

from __future__ import annotations

import getpass
from dataclasses import dataclass

from opensmm.audit.models import DOOR_API, DOOR_CLI, DOOR_WEB


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no user name in the environment nor the password file
        return "unknown"


@dataclass(frozen=True)
class Actor:
    """Passed into the services by each door; the services write the audit row with it."""

    name: str  # as shown in the audit log
    door: str
    user_id: int | None = None
    ip: str = ""

    @classmethod
    def staff(cls, user_id: int, name: str, ip: str = "") -> Actor:
        """A staff user logged in to the back office."""
        return cls(name=name, door=DOOR_WEB, user_id=user_id, ip=ip)

    @classmethod
    def own(cls, user_id: int, name: str, ip: str = "") -> Actor:
        """A user acting on their own account from its pages (two-factor log-in)."""
        return cls(name=name, door=DOOR_WEB, user_id=user_id, ip=ip)

    @classmethod
    def cli(cls) -> Actor:
        """The person running ``opensmm`` on the server, by their OS user name."""
        return cls(name=f"cli:{_os_user()}"[:64], door=DOOR_CLI)

    @classmethod
    def token(cls, token_id: int, token_name: str, ip: str = "") -> Actor:
        """An admin API token (``opensmm.adminapi``), by its id and name."""
        return cls(name=f"token:{token_id}:{token_name}"[:64], door=DOOR_API, ip=ip)

    @property
    def label(self) -> str:
        """How the actor signs ledger memos and order histories."""
        return f"staff:{self.name}" if self.door == DOOR_WEB else self.name
