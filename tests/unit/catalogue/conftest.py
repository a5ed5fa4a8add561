"""Fixtures of the catalogue tests: the knowledge base loaded once per module and database.

Loading the whole demo catalogue (1,500 duties, 549 areas) takes about a second, too slow for
every test. It is loaded once per module inside a transaction on its own connection; each test
then runs in a SAVEPOINT on that connection, rolled back afterwards, and the module's
transaction is rolled back at the end, so nothing leaks into other tests.
"""

from __future__ import annotations

from collections.abc import Iterator
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
)


def load_catalogue_fixture(connection, *, with_laws: bool = True) -> None:
    from portal.catalogue.loader import load_catalogue

    session = Session(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
    if with_laws and LAWS.is_dir():
        from portal.regulations.importing import import_paths

        import_paths(session, [LAWS / name for name in CITED_LAWS], manifest=LAWS / "MANIFEST.tsv",
                     source="corpus")
    load_catalogue(session, ROOT / "knowledge_base")
    session.commit()
    session.close()


@pytest.fixture(scope="module")
def kb_connection(engine) -> Iterator[object]:
    connection = engine.connect()
    outer = connection.begin()
    load_catalogue_fixture(connection)
    yield connection
    outer.rollback()
    connection.close()


@pytest.fixture
def session(kb_connection) -> Iterator[Session]:
    nested = kb_connection.begin_nested()
    session = Session(bind=kb_connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
    yield session
    session.close()
    if nested.is_active:
        nested.rollback()
