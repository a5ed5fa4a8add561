"""A populated portal for the standing reliability proofs (API fuzzing, the bad-input corpus).

The world is the demo catalogue with its cited laws, the demo experts and rulings, a few hundred
demo cases, a published bulletin and one user with every role and an API key: enough that every
route has real ids to answer for. It is loaded once per test module on ``catalogue_connection``
(tests/conftest.py) and rolled back at the module's end.

:class:`IsolatedApp` runs every request in its own SAVEPOINT on that connection, rolled back
afterwards: thousands of requests, some of them writes that succeed, all meet the same world, and
a request whose statement the database refused (PostgreSQL then refuses every further statement
of the transaction) cannot spoil the next one.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import transaction
from sqlalchemy import func, inspect, select, table
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parents[2]
DEMO_CASES = 120
DEMO_SEED = 20261206
CITED_LAWS = ("city-road-management-regulation.md", "city-water-supply-regulation.md")
ALL_ROLES = ("dispatcher", "editor", "expert", "clerk", "admin")

StartResponse = Callable[..., Any]


@dataclass
class World:
    """Real ids of the populated database, for filling route placeholders."""

    api_key: str
    ids: dict[str, str] = field(default_factory=dict)


def populate(connection: Connection, registry: Any) -> World:
    """Store the world on ``connection`` (inside its open transaction)."""
    from portal.accounts.services import DatabaseApiKeyService, DatabaseUserService
    from portal.arbitration.loader import load_arbitration
    from portal.bulletins.models import Bulletin
    from portal.bulletins.periods import Period
    from portal.bulletins.services import BulletinService, pdf_renderer_of
    from portal.cases import demo
    from portal.cases.importer import BulkImporter, ImportStats, batched, normalise_record
    from portal.cases.loader import demo_world
    from portal.cases.models import Case
    from portal.cases.places import Places

    session = Session(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False,
                      info={"actor_name": "fuzz-world"})
    load_arbitration(session, ROOT / "knowledge_base")
    places = Places.of(session)
    end = dt.date(2026, 10, 31)
    world = demo_world(places, session, {}, DEMO_SEED, end)
    importer = BulkImporter(places, source="demo", actor="demo-data")
    stats = ImportStats()
    records = ((n, normalise_record(r)) for n, r in
               enumerate(demo.generate(world, DEMO_CASES, DEMO_SEED, end=end), start=1))
    for batch in batched(records, 1000):
        importer.import_batch(session, batch, stats)
    session.flush()
    month = max(session.scalars(select(Case.reported_at)))
    period = Period(month.year, "month", month.month)
    bulletins = BulletinService(session, Places.of(session), {}, pdf_renderer_of(registry), actor="fuzz-world")
    bulletins.publish(bulletins.generate(period), "fuzz world")
    user = DatabaseUserService(session).create("fuzz-all-roles", "correct horse battery", ALL_ROLES,
                                               display_name="fuzz")
    _, secret = DatabaseApiKeyService(session).create(user, "fuzz key")
    session.commit()
    ids = _real_ids(session)
    ids["user"] = str(user.id)
    ids["period"] = period.code
    ids["bulletin_id"] = str(session.scalar(select(func.min(Bulletin.id))))
    session.close()
    return World(api_key=secret, ids=ids)


def _real_ids(session: Session) -> dict[str, str]:
    from portal.arbitration.models import Dispute, Evidence, Ruling
    from portal.cases.models import Case
    from portal.catalogue.models import Agency, Area, Duty, ItemType, Power
    from portal.regulations.models import Article

    article = session.scalars(select(Article).order_by(Article.id).limit(1)).one()
    evidence = session.scalars(select(Evidence).order_by(Evidence.id).limit(1)).first()
    case = session.scalars(select(Case).order_by(Case.id).limit(1)).one()
    return {
        "case": str(case.id),
        "case_external_id": case.external_id,
        "duty": str(session.scalar(select(func.min(Duty.id)))),
        "item_type": session.scalars(select(ItemType.code).order_by(ItemType.code).limit(1)).one(),
        "agency": session.scalars(select(Agency.code).order_by(Agency.code).limit(1)).one(),
        "area": session.scalars(select(Area.code).order_by(Area.code.desc()).limit(1)).one(),
        "power": session.scalars(select(Power.code).order_by(Power.code).limit(1)).one(),
        "regulation": str(article.regulation_id),
        "article": article.slug,
        "ruling": str(session.scalar(select(func.min(Ruling.id)))),
        "dispute": str(session.scalar(select(func.min(Dispute.id)))),
        "evidence": str(evidence.id) if evidence is not None else "1",
        "evidence_dispute": str(evidence.dispute_id) if evidence is not None else "1",
    }


class IsolatedApp:
    """The WSGI app with every request in its own SAVEPOINT on ``connection``, rolled back after."""

    def __init__(self, app: Any, connection: Connection, host: str = "example.com") -> None:
        self.app = app
        self.connection = connection
        self.host = host
        #: called with the request's environ, status and session after the app answered, before the rollback
        self.after_request: Callable[[dict[str, Any], int, Session], None] | None = None

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        nested = self.connection.begin_nested()
        session = Session(bind=self.connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
        manager = transaction.TransactionManager(explicit=True)
        manager.begin()
        manager.doom()
        environ.setdefault("REMOTE_ADDR", "10.0.0.1")
        environ.update({"HTTP_HOST": self.host, "tm.active": True, "tm.manager": manager, "app.dbsession": session})
        answered: list[int] = []

        def recording_start_response(status: str, headers: Any, exc_info: Any = None) -> Any:
            answered.append(int(status.split()[0]))
            return start_response(status, headers, exc_info) if exc_info else start_response(status, headers)

        try:
            body = b"".join(self.app(environ, recording_start_response))
            if self.after_request is not None:
                self.after_request(environ, answered[-1], session)
        finally:
            manager.abort()
            session.close()
            if nested.is_active:
                nested.rollback()
        return [body]


def row_counts(session: Session) -> dict[str, int]:
    """Rows in every table (the proof that a refused request stored nothing)."""
    names = inspect(session.connection()).get_table_names()
    return {name: session.scalar(select(func.count()).select_from(table(name))) or 0 for name in names}


@pytest.fixture(scope="module")
def world(app: Any, catalogue_connection: Connection) -> World:
    return populate(catalogue_connection, app.registry)


@pytest.fixture(scope="module")
def catalogue_laws() -> tuple[str, ...]:
    return CITED_LAWS


@pytest.fixture(scope="module")
def isolated_app(app: Any, catalogue_connection: Connection, world: World) -> Iterator[IsolatedApp]:
    yield IsolatedApp(app, catalogue_connection)
