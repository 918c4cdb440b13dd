"""The deploy recipe's files (``deploy/``), as the tests read them."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
UNITS = DEPLOY / "systemd"
SYSTEMD_ANALYZE = Path("/usr/bin/systemd-analyze")
CADDY = Path("/usr/bin/caddy")
# Where docs/deploy.md installs opensmm: a venv, and the source checkout beside it.
INSTALLED_OPENSMM = "/opt/opensmm/venv/bin/opensmm"
INSTALLED_SOURCE = "/opt/opensmm/src"
# What the shipped files name, for the tests to replace (and nothing else).
SHIPPED_DOMAIN = "panel.example.com"
SHIPPED_PORT = "8000"


def debian_program(path: Path, package: str) -> str:
    """``path``, which must be there: a missing program fails the test, never skips it."""
    assert path.is_file(), (
        f"{path} is missing: apt-get install {package} (./dev test installs it as root)"
    )
    return str(path)


def unit_setting(unit: str, name: str) -> list[str]:
    """Every value of ``name=`` in the [Service] of ``deploy/systemd/<unit>``."""
    values = []
    for line in (UNITS / unit).read_text().splitlines():
        key, _, value = line.partition("=")
        if key.strip() == name:
            values.append(value.strip())
    return values


def environment_file(**overrides: str) -> dict[str, str]:
    """``deploy/opensmm.env`` as systemd reads it (``KEY=VALUE`` lines, # comments)."""
    env = {}
    for raw in (DEPLOY / "opensmm.env").read_text().splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            value = value.strip()
            if len(value) > 1 and value[0] == value[-1] == '"':  # systemd drops the quotes
                value = value[1:-1]
            env[key.strip()] = value
    env.update(overrides)
    return env


def exec_start(unit: str, env: dict[str, str]) -> list[str]:
    """The unit's ExecStart as systemd runs it: the Environment= defaults, then ``env`` (the
    environment file's values win), substituted for ``${NAME}``."""
    values: dict[str, str] = {}
    for line in unit_setting(unit, "Environment"):
        for pair in shlex.split(line):
            key, _, value = pair.partition("=")
            values[key] = value
    values.update(env)
    (command,) = unit_setting(unit, "ExecStart")

    def substitute(match: re.Match[str]) -> str:
        assert match.group(1) in values, f"{unit}: ${{{match.group(1)}}} is never set"
        return values[match.group(1)]

    return shlex.split(re.sub(r"\$\{(\w+)\}", substitute, command))
