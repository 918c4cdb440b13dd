"""Fixtures for the API v2 client tests: ``fake`` (a scriptable fake panel, see
``tests/fakepanel.py``) and ``api`` (runs each test through ``Client`` and ``AsyncClient``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.client.support import KEY, Api
from tests.fakepanel import FakePanel


@pytest.fixture
def fake() -> Iterator[FakePanel]:
    with FakePanel(key=KEY) as panel:
        yield panel
    assert not panel.errors, panel.errors


@pytest.fixture(params=["sync", "async"])
def api(request: pytest.FixtureRequest, fake: FakePanel) -> Api:
    return Api(request.param, fake.url)
