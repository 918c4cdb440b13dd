"""The API's access log: the shape of its lines, and when they are written."""

from __future__ import annotations

import asyncio
import io
import json
import re

import pytest

from opensmm.observability import access
from opensmm.observability.access import AccessLog
from opensmm.settings import Settings

FIELDS = {"ip": "127.0.0.1", "key_id": 7, "action": "status", "outcome": "ok", "error": None,
          "ms": 1.25}


def _log(**settings: object) -> tuple[AccessLog, io.StringIO]:
    stream = io.StringIO()
    return AccessLog(Settings(**settings), stream=stream), stream  # type: ignore[arg-type]


def test_a_json_line_has_the_shape_of_every_other_log_line() -> None:
    log, stream = _log(log_format="json")
    log.write(FIELDS)  # no event loop here: written at once
    [line] = stream.getvalue().splitlines()
    data = json.loads(line)
    assert data.pop("ts").endswith("+00:00")
    assert data == {"level": "info", "logger": "opensmm.access", "msg": "api", **FIELDS}


def test_a_text_line_reads_like_the_text_formatter() -> None:
    log, stream = _log(log_format="text")
    log.write(FIELDS)
    line = stream.getvalue().rstrip("\n")
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO opensmm\.access: api ip=127\.0\.0\.1 "
        r"key_id=7 action=status outcome=ok error=None ms=1\.25",
        line,
    ), line


@pytest.mark.parametrize("settings", [{"access_log": False}, {"log_level": "warning"}])
def test_no_line_when_the_log_is_off_or_above_info(settings: dict[str, object]) -> None:
    log, _ = _log(**settings)
    assert not log.enabled


def test_lines_made_in_an_event_loop_are_written_together_a_moment_later(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(access, "FLUSH_SECONDS", 0.2)
    log, stream = _log()

    async def requests() -> tuple[str, float, str]:
        loop = asyncio.get_running_loop()
        started = loop.time()
        for n in range(3):
            log.write({**FIELDS, "key_id": n})
        held = stream.getvalue()
        # Wait for the written lines themselves (a deadline, not a guessed delay).
        deadline = started + 30
        while not stream.getvalue() and loop.time() < deadline:
            await asyncio.sleep(0.01)
        return held, loop.time() - started, stream.getvalue()

    held, waited, written = asyncio.run(requests())
    assert held == ""
    assert [json.loads(line)["key_id"] for line in written.splitlines()] == [0, 1, 2]
    # Written by the timer the first line set (the loop's clock may fire a tick early).
    assert waited >= access.FLUSH_SECONDS - 0.01


def test_a_full_batch_is_written_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(access, "FLUSH_SECONDS", 60.0)
    log, stream = _log()

    async def requests() -> int:
        for _ in range(access.MAX_LINES):
            log.write(FIELDS)
        return len(stream.getvalue().splitlines())

    assert asyncio.run(requests()) == access.MAX_LINES


def test_flush_writes_what_is_waiting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(access, "FLUSH_SECONDS", 60.0)
    log, stream = _log()

    async def one_request() -> None:
        log.write(FIELDS)

    asyncio.run(one_request())
    assert stream.getvalue() == ""
    log.flush()  # what the app does when the server stops
    assert len(stream.getvalue().splitlines()) == 1
    log.flush()
    assert len(stream.getvalue().splitlines()) == 1
