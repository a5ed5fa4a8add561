"""Fixtures shared by functional test modules: the catalogue's, and the browser tests' (tests/functional/browser.py)."""

from __future__ import annotations

from collections.abc import Generator, Iterator

import pytest
import transaction
import webtest
from sqlalchemy.orm import Session

from tests.functional.browser import browser, chromium, served_portal  # noqa: F401 - fixtures


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]
                               ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Keep the test's own outcome on the item, so the ``browser`` fixture can photograph a failure."""
    report: pytest.TestReport = yield
    if report.when == "call":
        item.report_call = report  # type: ignore[attr-defined]
    return report


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
