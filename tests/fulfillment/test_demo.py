"""``opensmm demo``: one command, and the curl line it prints places an order that then
completes by itself.

The curl line is not run with curl (a fresh machine may have none): it is read as curl reads
it (``curl -s URL -d NAME=VALUE ...``: a POST of the ``-d`` parts joined with ``&``, sent
as they are, as a form) and that request is sent with httpx."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.support.panel import free_port, opensmm_env, wait_until_up


def curl_request(line: str) -> tuple[str, str]:
    """The URL and the body of a ``curl -s URL -d A=1 -d B=2`` line; any other option or
    shape fails the test (the demo's line would then need another reading)."""
    words = shlex.split(line)
    assert words[:2] == ["curl", "-s"], line
    url, rest = words[2], words[3:]
    assert url.startswith("http://") and len(rest) % 2 == 0, line
    assert all(flag == "-d" for flag in rest[::2]), line
    return url, "&".join(rest[1::2])


def test_curl_request_reads_the_line_as_curl_would() -> None:
    assert curl_request("curl -s http://h/api/v2 -d key=K -d link=https://x.test/a?b") == (
        "http://h/api/v2", "key=K&link=https://x.test/a?b"
    )
    with pytest.raises(AssertionError):
        curl_request("curl -s http://h/api/v2 -H 'X: 1' -d key=K")


def test_demo_seeds_serves_and_its_curl_line_completes_by_itself(
    database_url: str, tmp_path: Path
) -> None:
    port = free_port()
    log_path = tmp_path / "demo.log"
    env = opensmm_env("sqlite:///unused.db", OPENSMM_LOG_FORMAT="text")
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "opensmm.cli.main", "demo", "--port", str(port),
             "--database-url", database_url, "--speed", "0.3"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until_up(f"http://127.0.0.1:{port}", process, log_path, seconds=60)
        printed = log_path.read_text()
        assert f"http://127.0.0.1:{port}/api/v2" in printed
        assert "Staff login: demo-admin / " in printed
        curl = next(line.strip() for line in printed.splitlines() if "action=add" in line)
        key = next(line.split()[2] for line in printed.splitlines() if line.startswith("API key"))
        url, body = curl_request(curl)
        assert url == f"http://127.0.0.1:{port}/api/v2"
        placed = httpx.post(
            url, content=body,
            headers={"Content-Type": "application/x-www-form-urlencoded"}, timeout=30,
        ).json()
        order = placed["order"]
        deadline = time.monotonic() + 60
        seen: list[str] = []
        while time.monotonic() < deadline:
            status = httpx.post(f"http://127.0.0.1:{port}/api/v2",
                                data={"key": key, "action": "status", "order": order}).json()
            if not seen or seen[-1] != status["status"]:
                seen.append(status["status"])
            if status["status"] == "Completed":
                break
            time.sleep(0.1)
        assert seen[-1] == "Completed", seen
        assert status["remains"] == "0" and status["charge"] == "0.09"
        services = httpx.post(f"http://127.0.0.1:{port}/api/v2",
                              data={"key": key, "action": "services"}).json()
        assert {s["category"] for s in services} == {"Instagram", "TikTok", "YouTube"}
        listed = subprocess.run(
            [sys.executable, "-m", "opensmm.cli.main", "payment-method", "list", "--json"],
            env=opensmm_env(database_url), capture_output=True, text=True, timeout=60,
            check=True)
        [bank] = json.loads(listed.stdout)["methods"]  # Add funds works out of the box
        assert (bank["name"], bank["gateway"], bank["enabled"]) == ("bank", "manual", True)
    finally:
        process.terminate()
        process.wait(timeout=30)
