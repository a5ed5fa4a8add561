"""Fixtures shared by the catalogue's functional test modules."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import transaction
import webtest
from sqlalchemy.orm import Session


@pytest.fixture
def session(catalogue_session) -> Session:
    """The demo catalogue, each test in its own SAVEPOINT (tests/conftest.py)."""
    return catalogue_session


@pytest.fixture
def app_(app, session) -> Iterator[webtest.TestApp]:
    """The WSGI app on that session, as a browser or client system meets it."""
    manager = transaction.TransactionManager(explicit=True)
    manager.begin()
    manager.doom()
    test_app = webtest.TestApp(app, extra_environ={
        "HTTP_HOST": "example.com", "REMOTE_ADDR": "10.0.0.1", "tm.active": True, "tm.manager": manager,
        "app.dbsession": session,
    })
    yield test_app
    manager.abort()
