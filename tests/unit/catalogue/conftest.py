"""Fixtures of the catalogue tests: the knowledge base loaded once per module and database.

Loading the whole demo catalogue (1,500 duties, 549 areas) takes about a second, too slow for
every test. It is loaded once per module inside a transaction on its own connection; each test
then runs in a SAVEPOINT on that connection, rolled back afterwards, and the module's
transaction is rolled back at the end, so nothing leaks into other tests.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parents[3]
LAWS = ROOT.parent / "shared" / "corpus" / "laws"
#: The regulations most duties cite; imported when the shared corpus is present.
CITED_LAWS = (
    "city-road-management-regulation.md",
    "urban-drainage-sewage-treatment-regulation.md",
    "city-water-supply-regulation.md",
    "zhejiang-comprehensive-administrative-enforcement-regulation.md",
    "property-management-regulation.md",
    "city-gas-management-regulation.md",
    "zhejiang-city-appearance-sanitation-regulation.md",
    "city-appearance-sanitation-regulation.md",
)


@pytest.fixture(scope="module")
def catalogue_laws() -> tuple[str, ...]:
    return CITED_LAWS


@pytest.fixture(scope="module")
def kb_connection(catalogue_connection) -> object:
    """The demo catalogue with the laws its duties cite (tests/conftest.py)."""
    return catalogue_connection


@pytest.fixture
def session(catalogue_session) -> Session:
    return catalogue_session
