"""``python -m tests.reliability.skewed SECONDS ARGS...``: run ``opensmm ARGS`` as on a host
whose clock is SECONDS off (negative: behind).

Every ``utcnow`` opensmm calls in this process answers the host's time plus SECONDS, the way
a badly set clock would. It is a test tool, not a setting: it lives in ``tests/``, outside
the installed package, and nothing in opensmm reads a variable or option that turns it on,
so a production host cannot enable it by accident.
"""

from __future__ import annotations

import sys
from datetime import datetime, timedelta

import opensmm.db
from opensmm.db import types


def skew_clock(seconds: float) -> None:
    """Move ``utcnow`` by ``seconds`` in every module that has it, and in those imported
    later (they take it from ``opensmm.db``, patched here first)."""
    true_utcnow = types.utcnow
    offset = timedelta(seconds=seconds)

    def skewed() -> datetime:
        return true_utcnow() + offset

    for module in list(sys.modules.values()):
        if getattr(module, "utcnow", None) is true_utcnow:
            module.utcnow = skewed  # type: ignore[attr-defined]
    assert opensmm.db.utcnow is skewed and types.utcnow is skewed


if __name__ == "__main__":
    skew_clock(float(sys.argv[1]))
    from opensmm.cli.main import app

    sys.argv = ["opensmm", *sys.argv[2:]]
    app()
