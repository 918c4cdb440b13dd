"""``opensmm demo``: one command, and the curl line it prints places an order that then
completes by itself."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.support.panel import free_port, opensmm_env, wait_until_up


@pytest.mark.skipif(shutil.which("curl") is None, reason="the demo prints a curl line")
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
        placed = json.loads(subprocess.run(["bash", "-c", curl], capture_output=True,
                                           text=True, timeout=30, check=True).stdout)
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
    finally:
        process.terminate()
        process.wait(timeout=30)
