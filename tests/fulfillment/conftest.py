"""Fixtures for fulfillment tests: a fake upstream on 127.0.0.1 and an in-process worker."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from opensmm.db import Database
from opensmm.fulfillment.worker import Worker
from tests.fakepanel import FakePanel
from tests.fulfillment.helpers import FAST
from tests.fulfillment.upstream import Book

KEY = "upstreamkey123"


@pytest.fixture
def fake() -> Iterator[FakePanel]:
    with FakePanel(key=KEY) as panel:
        yield panel
    assert not panel.errors, panel.errors


@pytest.fixture
def book(fake: FakePanel) -> Book:
    """A fake upstream that remembers its orders and answers from them."""
    upstream = Book()
    upstream.install(fake)
    return upstream


@pytest.fixture
def worker(db: Database) -> Iterator[Worker]:
    runner = Worker(db, FAST)
    yield runner
    runner.close()
