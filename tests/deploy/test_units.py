"""The systemd units of ``deploy/systemd`` pass ``systemd-analyze verify`` and its offline
security review, on a copy of the system's units (no systemd needed as PID 1); the backup
script keeps the newest backups only; opensmm-admin runs the CLI as the units do."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

from tests.deploy.support import (
    DEPLOY,
    INSTALLED_OPENSMM,
    INSTALLED_SOURCE,
    SYSTEMD_ANALYZE,
    UNITS,
    debian_program,
    environment_file,
    exec_start,
    unit_setting,
)
from tests.support.panel import opensmm_env

SERVICES = ("opensmm.service", "opensmm-worker.service", "opensmm-backup.service")
ALL_UNITS = (*SERVICES, "opensmm-backup.timer")
# systemd's exposure score, 0 (locked down) to 10 (none of it): the three are at 1.4.
# --threshold counts in tenths: 20 is 2.0.
EXPOSURE_AT_MOST = 20


def _machine(root: Path) -> Path:
    """A root with the system's units, ours in /etc/systemd/system, and the files the units
    name where docs/deploy.md puts them (opensmm itself a stand-in: verify only checks that
    it is an executable)."""
    shutil.copytree("/usr/lib/systemd/system", root / "usr/lib/systemd/system", symlinks=True)
    shutil.copytree(UNITS, root / "etc/systemd/system")
    (root / "etc/opensmm").mkdir(parents=True)
    shutil.copy(DEPLOY / "opensmm.env", root / "etc/opensmm/opensmm.env")
    shutil.copytree(DEPLOY, root / INSTALLED_SOURCE.lstrip("/") / "deploy")
    program = root / INSTALLED_OPENSMM.lstrip("/")
    program.parent.mkdir(parents=True)
    program.write_text("#!/bin/sh\n")
    program.chmod(0o755)
    return root


def _analyze(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [debian_program(SYSTEMD_ANALYZE, "systemd"), *args, f"--root={root}"],
        capture_output=True, text=True, timeout=60, check=False,
    )


def test_the_units_verify_cleanly_and_are_locked_down(tmp_path: Path) -> None:
    root = _machine(tmp_path / "root")
    assert sorted(path.name for path in UNITS.iterdir()) == sorted(ALL_UNITS)
    verified = _analyze(root, "verify", *ALL_UNITS)
    # verify exits 0 on a setting it ignores: any word from it is a failure.
    assert (verified.returncode, verified.stdout + verified.stderr) == (0, "")
    for service in SERVICES:
        review = _analyze(
            root, "security", "--offline=true", f"--threshold={EXPOSURE_AT_MOST}", service
        )
        assert review.returncode == 0, review.stdout + review.stderr
        assert f"Overall exposure level for {service}: 1." in review.stdout

    # What they run (opensmm.service's command is run for real by test_caddy.py).
    settings = environment_file()
    assert exec_start("opensmm-worker.service", settings) == [INSTALLED_OPENSMM, "worker"]
    assert exec_start("opensmm-backup.service", settings) == [
        f"{INSTALLED_SOURCE}/deploy/opensmm-backup"
    ]
    for service in SERVICES:
        assert unit_setting(service, "User") == ["opensmm"]
        assert unit_setting(service, "EnvironmentFile") == ["/etc/opensmm/opensmm.env"]

    # The check can fail: a misspelt value, and an ExecStart that is not there.
    unit = root / "etc/systemd/system/opensmm.service"
    unit.write_text(unit.read_text().replace("ProtectSystem=strict", "ProtectSystem=strict-ish"))
    (root / INSTALLED_SOURCE.lstrip("/") / "deploy/opensmm-backup").unlink()
    broken = _analyze(root, "verify", *ALL_UNITS)
    assert "Failed to parse protect system value, ignoring: strict-ish" in broken.stderr
    assert "Command /opt/opensmm/src/deploy/opensmm-backup is not executable" in broken.stderr


def _backup_script(
    directory: Path, database_url: str, keep: str, program: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = opensmm_env(
        database_url,
        OPENSMM_BACKUP_DIR=str(directory),
        OPENSMM_BACKUP_KEEP=keep,
        OPENSMM_BIN=program or str(Path(sys.executable).parent / "opensmm"),
    )
    return subprocess.run(
        ["/bin/sh", str(DEPLOY / "opensmm-backup")],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )


def test_the_backup_script_writes_one_and_keeps_the_newest(
    tmp_path: Path, database_servers: dict
) -> None:
    server = database_servers["sqlite"]
    url = server.new_database()
    try:
        backups = tmp_path / "backups"
        backups.mkdir()
        old = [f"opensmm-2026010{day}T031500Z.backup" for day in (1, 2, 3)]
        for name in (*old, "notes.txt", "opensmm-manual.backup"):
            (backups / name).write_text("older")

        for bad in ("0", "-1", "many", "07"):
            refused = _backup_script(backups, url, bad)
            assert refused.returncode == 2, refused.stderr
            assert "OPENSMM_BACKUP_KEEP must be a whole number" in refused.stderr
        assert len(os.listdir(backups)) == 5  # nothing written, nothing removed

        done = _backup_script(backups, url, "2")
        assert done.returncode == 0, done.stdout + done.stderr
        left = sorted(os.listdir(backups))
        new = [name for name in left if name.startswith("opensmm-2026") and name not in old]
        assert len(new) == 1 and new[0] > old[-1]
        # The newest two of ours stay; files the script did not write are never touched.
        assert left == sorted([old[-1], new[0], "notes.txt", "opensmm-manual.backup"])
        assert done.stdout.count("removed the old backup") == 2
        assert (backups / new[0]).stat().st_mode & 0o077 == 0
        copy = sqlite3.connect(backups / new[0])
        try:
            assert copy.execute("SELECT count(*) FROM alembic_version").fetchone() == (1,)
        finally:
            copy.close()

        # A backup that fails removes nothing.
        failing = _backup_script(backups, url, "1", program="/bin/false")
        assert failing.returncode == 1
        assert sorted(os.listdir(backups)) == left
    finally:
        server.drop(url)


def test_the_environment_file_reads_the_same_in_systemd_and_sh() -> None:
    shell = subprocess.run(
        ["/bin/sh", "-c", 'set -a; . "$1"; env -0', "sh", str(DEPLOY / "opensmm.env")],
        env={"PATH": "/usr/bin:/bin"}, capture_output=True, text=True, timeout=30, check=True,
    )
    seen = dict(entry.split("=", 1) for entry in shell.stdout.split("\0") if "=" in entry)
    expected = environment_file()
    assert {name: seen.get(name) for name in expected} == expected
    assert expected["OPENSMM_TRUSTED_PROXIES"] == "127.0.0.1"


def test_opensmm_admin_runs_the_command_line_with_the_services_settings(
    tmp_path: Path, database_servers: dict
) -> None:
    settings = (DEPLOY / "opensmm.env").read_text().replace(
        environment_file()["OPENSMM_DATABASE_URL"], "sqlite:///panel.db"
    )
    (tmp_path / "opensmm.env").write_text(settings)
    home = tmp_path / "home"
    home.mkdir()
    shutil.copyfile(database_servers["sqlite"].template, home / "panel.db")  # migrated
    env = opensmm_env(
        "unused",
        OPENSMM_USER=subprocess.run(["id", "-un"], capture_output=True, text=True,
                                    check=True).stdout.strip(),
        OPENSMM_ENV_FILE=str(tmp_path / "opensmm.env"),
        OPENSMM_HOME=str(home),
        OPENSMM_BIN=str(Path(sys.executable).parent / "opensmm"),
    )
    del env["OPENSMM_DATABASE_URL"]  # from the file only
    done = subprocess.run(
        [str(DEPLOY / "opensmm-admin"), "db", "upgrade"], cwd=tmp_path,
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )
    # The relative path is the services' working directory's: no other database was made.
    assert (done.returncode, done.stdout) == (0, "Database is up to date\n"), done.stderr
    assert sorted(path.name for path in home.iterdir() if path.suffix == ".db") == ["panel.db"]
    assert not list(tmp_path.glob("*.db"))
