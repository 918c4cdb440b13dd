"""A bounded atheris run over the HTTP surface (tests/fuzz/atheris_api.py), as CI does it.

The long runs are by hand (docs/reliability.md gives the command and what they found); this
one runs a fixed number of inputs from a fixed seed, so that CI repeats the same exploration.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from opensmm.db import Database
from opensmm.ledger import service as ledger

HARNESS = Path(__file__).with_name("atheris_api.py")
ROOT = Path(__file__).resolve().parents[2]
RUNS = int(os.environ.get("OPENSMM_FUZZ_RUNS", "3000"))


def test_a_bounded_atheris_run_finds_no_crash(tmp_path: Path) -> None:
    database = tmp_path / "fuzz.db"
    (tmp_path / "corpus").mkdir()
    env = {key: value for key, value in os.environ.items() if not key.startswith("OPENSMM_")}
    env.update(OPENSMM_FUZZ_DB=str(database), PYTHONPATH=str(ROOT))
    result = subprocess.run(
        [sys.executable, str(HARNESS), f"-runs={RUNS}", "-seed=20261127",
         f"-artifact_prefix={tmp_path}/crash-", str(tmp_path / "corpus")],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    output = result.stderr[-6000:]
    assert result.returncode == 0, output
    assert f"Done {RUNS} runs" in result.stderr, output
    assert not list(tmp_path.glob("crash-*")), output
    db = Database(f"sqlite:///{database}")
    try:
        with db.read() as session:
            assert ledger.check(session) == []
    finally:
        db.dispose()
