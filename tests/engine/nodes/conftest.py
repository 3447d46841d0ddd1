"""Fixtures for node-type tests: a `harness` that runs one node's run() with real services."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.engine.nodes.helpers import NodeHarness


@pytest.fixture
async def harness(tmp_path) -> AsyncIterator[NodeHarness]:  # type: ignore[no-untyped-def]
    h = NodeHarness(base_dir=tmp_path)
    yield h
    await h.aclose()
