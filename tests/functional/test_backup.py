"""``portal backup`` / ``portal restore``: a populated portal comes back with identical content.

One SQLite portal is populated once (demo catalogue with its area and agency hierarchies, demo
cases with reporters, steps and feedback, accounts and an API key, a published bulletin with its
PDF bytes, audit rows with SQL NULL and JSON null, an evidence file). Its backup is restored into an
empty SQLite database and an empty PostgreSQL database (the migration path from the embedded
default to production); each restored database is backed up again and restored once more, on the
same engine. Every step must give the same content hash (:func:`portal.backup.database_content`,
the function the commands use), the same row counts and byte-identical table files.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import hashlib
import time
import uuid
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from portal.backup import FILES_PREFIX, database_content, read_manifest, snapshot
from portal.cli import main
from portal.db import get_engine
from portal.settings import normalise_database_url
from tests.conftest import ROOT, empty_database, load_demo_catalogue

EVIDENCE = "arbitration/evidence/1/0f3a-现场照片.png"
EVIDENCE_BYTES = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
PDF_BYTES = b"%PDF-1.7 \xff\xfe\x00 not text at all \x80"


@dataclasses.dataclass(frozen=True)
class Portal:
    url: str
    var_dir: Path
    ini: Path

    def engine(self) -> Engine:
        return get_engine({"sqlalchemy.url": normalise_database_url(self.url)})

    def cli(self, *args: str) -> Result:
        return CliRunner().invoke(main, ["--config", str(self.ini), *args], catch_exceptions=False)

    def content(self) -> Any:
        engine = self.engine()
        try:
            with snapshot(engine) as connection:
                return database_content(connection)
        finally:
            engine.dispose()


NewPortal = Callable[[str], Portal]


@pytest.fixture(scope="module")
def new_portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NewPortal]:
    """Makes portals with an empty database ("sqlite" or "postgresql") and their own var dir."""
    databases = contextlib.ExitStack()

    def make(kind: str) -> Portal:
        root = tmp_path_factory.mktemp(f"backup-{kind}")
        url = databases.enter_context(empty_database(kind, root))
        ini = root / "portal.ini"
        ini.write_text(
            "[app:main]\nuse = egg:city-duty-portal\n"
            f"sqlalchemy.url = {url}\nportal.var_dir = {root / 'var'}\n"
            f"portal.knowledge_base = {ROOT / 'knowledge_base'}\n"
            "portal.corpus_dir =\nportal.lawpack = false\nportal.search.warm_up = false\n"
            "portal.search.heal_on_start = false\nsession.secret = backup-test-secret-backup-test-secret\n",
            encoding="utf-8")
        return Portal(url, root / "var", ini)

    with databases:
        yield make


class BinaryPdf:
    def render(self, html: str, base_url: str | None = None) -> bytes:
        return PDF_BYTES + hashlib.sha256(html.encode()).digest()


@pytest.fixture(scope="module")
def source(new_portal: NewPortal) -> Portal:
    """A populated SQLite portal, built through the domain's own services."""
    from portal.accounts.services import DatabaseApiKeyService, DatabaseUserService
    from portal.audit import AuditEntry
    from portal.bulletins.periods import Period
    from portal.bulletins.services import BulletinService
    from portal.cases.loader import load_demo_cases
    from portal.cases.places import Places
    from portal.migrate import upgrade

    portal = new_portal("sqlite")
    upgrade({"sqlalchemy.url": portal.url})
    engine = portal.engine()
    with engine.begin() as connection:
        load_demo_catalogue(connection)

    @contextlib.contextmanager
    def session_scope() -> Iterator[Session]:
        with Session(engine, info={"actor_name": "backup-test"}) as session:
            yield session
            session.commit()

    stats = load_demo_cases(session_scope, Places.of, 150, 5, end=dt.date(2026, 10, 31))
    assert stats.created == 150 and not stats.errors
    with Session(engine, info={"actor_name": "backup-test"}) as session:
        users = DatabaseUserService(session)
        clerk = users.create("clerk-backup", "correct horse battery", ["clerk"], display_name="书记员")
        DatabaseApiKeyService(session).create(clerk, "nightly export")
        bulletins = BulletinService(session, settings={}, pdf_renderer=BinaryPdf())
        bulletins.publish(bulletins.generate(Period.parse("2026-09")))
        session.commit()
        # One audit row with JSON null, one with SQL NULL: a restore must keep them apart.
        ids = session.scalars(select(AuditEntry.id).order_by(AuditEntry.id).limit(2)).all()
        session.execute(text("UPDATE audit_log SET \"before\" = 'null' WHERE id = :id"), {"id": ids[0]})
        session.execute(text("UPDATE audit_log SET \"before\" = NULL WHERE id = :id"), {"id": ids[1]})
        session.commit()
    engine.dispose()
    evidence = portal.var_dir / EVIDENCE
    evidence.parent.mkdir(parents=True)
    evidence.write_bytes(EVIDENCE_BYTES)
    (portal.var_dir / "index").mkdir(parents=True, exist_ok=True)
    (portal.var_dir / "index" / "not-data.seg").write_bytes(b"derived")
    return portal


@pytest.fixture(scope="module")
def source_backup(source: Portal, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("backups") / "source.zip"
    result = source.cli("backup", str(path))
    assert result.exit_code == 0, result.output
    return path


def _table_bytes(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist() if name.startswith("tables/")}


def _null_kinds(portal: Portal) -> tuple[int, int]:
    engine = portal.engine()
    try:
        with engine.connect() as connection:
            sql_null = connection.scalar(text('SELECT count(*) FROM audit_log WHERE "before" IS NULL'))
            json_null = connection.scalar(text("SELECT count(*) FROM audit_log WHERE \"before\" IS NOT NULL AND "
                                               + ("CAST(\"before\" AS TEXT) = 'null'")))
    finally:
        engine.dispose()
    return int(sql_null or 0), int(json_null or 0)


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_backup_restore_round_trip_gives_identical_content(
        kind: str, source: Portal, source_backup: Path, new_portal: NewPortal, tmp_path: Path) -> None:
    original = source.content()
    counts = original.row_counts
    assert counts["cases"] == 150 and counts["case_events"] > 150 and counts["bulletins"] == 1
    assert counts["catalogue_areas"] > 100 and counts["audit_log"] > 0 and counts["api_keys"] == 1
    with zipfile.ZipFile(source_backup) as archive:
        manifest = read_manifest(archive)
        assert archive.read(FILES_PREFIX + EVIDENCE) == EVIDENCE_BYTES
        assert not [name for name in archive.namelist() if "index" in name]  # derived: not backed up
    assert manifest.content_hash == original.content_hash
    assert manifest.row_counts == counts

    # Into an empty database of the other kind (or the same): migrated, loaded, verified, indexed.
    first = new_portal(kind)
    restored = first.cli("restore", str(source_backup))
    assert restored.exit_code == 0, restored.output
    assert "搜索索引已重建" in restored.output
    assert first.content() == original
    assert (first.var_dir / EVIDENCE).read_bytes() == EVIDENCE_BYTES
    assert _null_kinds(first) == _null_kinds(source)

    # Back up the restored database: the same bytes, whichever engine wrote them …
    again = tmp_path / "again.zip"
    assert first.cli("backup", str(again)).exit_code == 0
    assert _table_bytes(again) == _table_bytes(source_backup)
    # … and a round trip on this engine alone.
    second = new_portal(kind)
    assert second.cli("restore", str(again)).exit_code == 0
    assert second.content() == original

    # New rows get fresh ids after a restore (PostgreSQL's sequences were moved past the rows).
    from portal.accounts.services import DatabaseUserService

    engine = second.engine()
    try:
        with Session(engine, info={"actor_name": "backup-test"}) as session:
            top = session.scalar(text("SELECT max(id) FROM audit_log"))
            user = DatabaseUserService(session).create("after-restore", "correct horse battery", ["editor"])
            session.commit()
            assert user.id > 1 and session.scalar(text("SELECT max(id) FROM audit_log")) > top
    finally:
        engine.dispose()
    # And the rebuilt index holds what the restored database yields.
    from pyramid.paster import get_appsettings

    from portal import main as make_app

    registry = make_app({}, **get_appsettings(str(second.ini))).registry
    projection = registry["portal.search.projection"]
    with registry["dbsession_factory"]() as session:
        expected = projection.count_documents(session)
    health = projection.health()
    assert health["ok"] and health["documents"] == expected > 0
    registry["dbengine"].dispose()


def test_restore_refuses_a_database_with_data_unless_forced(
        source: Portal, source_backup: Path, new_portal: NewPortal) -> None:
    target = new_portal("sqlite")
    assert target.cli("restore", str(source_backup)).exit_code == 0
    engine = target.engine()
    try:
        with engine.begin() as connection:
            connection.execute(text("DELETE FROM case_feedback"))
    finally:
        engine.dispose()
    stray = target.var_dir / "arbitration/evidence/99/stray.txt"
    stray.parent.mkdir(parents=True)
    stray.write_text("from the database being replaced", encoding="utf-8")
    changed = target.content()

    refused = target.cli("restore", str(source_backup))
    assert refused.exit_code != 0 and "--force" in refused.output
    assert target.content() == changed  # nothing touched

    forced = target.cli("restore", "--force", str(source_backup))
    assert forced.exit_code == 0, forced.output
    assert target.content() == source.content()
    assert not stray.exists() and (target.var_dir / EVIDENCE).read_bytes() == EVIDENCE_BYTES


def test_verify_and_restore_reject_a_tampered_or_foreign_backup(
        source_backup: Path, new_portal: NewPortal, tmp_path: Path) -> None:
    portal = new_portal("sqlite")
    assert portal.cli("backup", "--verify", str(source_backup)).exit_code == 0

    def rewrite(name: str, change: Callable[[bytes], bytes]) -> Path:
        path = tmp_path / f"{uuid.uuid4().hex[:6]}.zip"
        with zipfile.ZipFile(source_backup) as old, zipfile.ZipFile(path, "w") as new:
            for member in old.namelist():
                data = old.read(member)
                new.writestr(member, change(data) if member == name else data)
        return path

    tampered = rewrite("tables/cases.jsonl", lambda data: data[:-1] + b" \n")  # same rows, other bytes
    result = portal.cli("backup", "--verify", str(tampered))
    assert result.exit_code != 0 and "cases" in result.output
    assert portal.cli("restore", str(tampered)).exit_code != 0

    truncated = tmp_path / "truncated.zip"
    truncated.write_bytes(source_backup.read_bytes()[: source_backup.stat().st_size // 2])
    assert portal.cli("backup", "--verify", str(truncated)).exit_code != 0

    older = rewrite("manifest.json", lambda data: data.replace(b'"revision": "', b'"revision": "old-', 1))
    refused = portal.cli("restore", str(older))
    assert refused.exit_code != 0 and "结构版本" in refused.output
    engine = create_engine(normalise_database_url(portal.url))
    try:
        with engine.connect() as connection:  # refused before anything was created
            assert connection.scalar(text("SELECT count(*) FROM sqlite_master WHERE type = 'table'")) == 0
    finally:
        engine.dispose()


def test_a_backup_taken_while_cases_are_written_holds_each_case_whole(
        source_backup: Path, new_portal: NewPortal, tmp_path: Path) -> None:
    """Tables are read one after another; one read transaction keeps them from one moment, so a
    case committed meanwhile is in the backup with all its steps or not at all."""
    import json
    import threading

    from portal.cases.models import Case, CaseEvent
    from portal.db import writer_engine

    portal = new_portal("sqlite")
    assert portal.cli("restore", str(source_backup)).exit_code == 0
    engine = portal.engine()
    with engine.connect() as connection:
        template = dict(connection.execute(select(Case.__table__).where(Case.event_count > 2).limit(1)).mappings().one())
        steps = [dict(row) for row in connection.execute(
            select(CaseEvent.__table__).where(CaseEvent.case_id == template["id"])).mappings()]
    assert len(steps) == template["event_count"]
    stop = threading.Event()
    written: list[int] = []

    def write_cases() -> None:
        with writer_engine(engine).connect() as connection:
            while not stop.is_set():
                with connection.begin():  # a case and its steps in one transaction
                    number = len(written)
                    case = {**template, "id": None, "external_id": f"LIVE-{number}", "tracking_hash": None}
                    case_id = connection.execute(Case.__table__.insert().values(
                        {k: v for k, v in case.items() if k != "id"})).inserted_primary_key[0]
                    for step in steps:
                        connection.execute(CaseEvent.__table__.insert().values(
                            {**{k: v for k, v in step.items() if k != "id"}, "case_id": case_id}))
                written.append(case_id)

    writer = threading.Thread(target=write_cases)
    writer.start()
    try:
        while len(written) < 5:
            time.sleep(0.01)
        during = tmp_path / "during.zip"
        result = portal.cli("backup", str(during))
    finally:
        stop.set()
        writer.join()
        engine.dispose()
    assert result.exit_code == 0, result.output
    assert len(written) > 10  # the writer went on while the tables were read

    with zipfile.ZipFile(during) as archive:
        manifest = read_manifest(archive)
        columns = {t.name: t.columns for t in manifest.tables}
        cases = [dict(zip(columns["cases"], json.loads(line), strict=True)) for line in archive.open("tables/cases.jsonl")]
        events = [dict(zip(columns["case_events"], json.loads(line), strict=True))
                  for line in archive.open("tables/case_events.jsonl")]
    steps_of: dict[int, int] = {}
    for event in events:
        steps_of[event["case_id"]] = steps_of.get(event["case_id"], 0) + 1
    live = [case for case in cases if str(case["external_id"]).startswith("LIVE-")]
    assert 0 < len(live) < len(written)
    assert set(steps_of) == {case["id"] for case in cases}  # no step without its case
    assert all(steps_of[case["id"]] == case["event_count"] for case in cases)
