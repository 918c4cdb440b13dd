"""The fault campaign in its short (CI) size: see tests/campaign/run.py and docs/reliability.md."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_the_short_campaign_keeps_every_promise() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tests.campaign.run", "--short"],
        cwd=ROOT, capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    output = result.stdout[-8000:] + result.stderr[-4000:]
    lines = [line for line in result.stdout.splitlines() if line.startswith("CAMPAIGN-JSON ")]
    assert lines, output
    figures = json.loads(lines[-1].removeprefix("CAMPAIGN-JSON "))
    # The faults really happened, and the load really ran through them.
    assert figures["server_kills"] >= 1 and figures["worker_kills"] >= 1, output
    assert figures["postgres_stops"] == 1, output
    assert figures["restarts"] == figures["kills"], output
    assert figures["orders_acknowledged"] >= 100 and figures["sent_upstream"] >= 50, output
    # The promises.
    assert figures["orders_missing"] == 0, output
    assert figures["double_sends"] == 0, output
    assert figures["upstream_unknown"] == 0 and figures["upstream_id_mismatches"] == 0, output
    assert figures["ledger_differences"] == 0, output
    assert figures["money_difference"] in ("0", "0.00000"), output
    assert figures["pass"] and result.returncode == 0, output
