"""Fixtures shared by the whole suite; the plumbing lives in support.py."""

from __future__ import annotations

import pytest

from support import Soketi


@pytest.fixture(scope="session")
def soketi():
    """One soketi for the session (tests use their own channel names)."""
    server = Soketi().start()
    yield server
    server.stop()


@pytest.fixture
def fresh_soketi():
    """A soketi of this test's own, which the test may stop and start again on the same port."""
    server = Soketi().start()
    yield server
    server.stop()
