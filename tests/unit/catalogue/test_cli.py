"""``portal check-catalogue`` and ``portal catalogue-coverage`` against the loaded demo catalogue."""

from __future__ import annotations

import datetime as dt
import json

from click.testing import CliRunner
from sqlalchemy.orm import Session

from portal.catalogue.cli import catalogue_coverage, check_catalogue
from portal.catalogue.services import DutyService


class FakeEnv:
    """What the commands use of ``PortalEnv``: a registry with a session factory."""

    def __init__(self, connection):
        self.registry = {"dbsession_factory": lambda: Session(bind=connection,
                                                              join_transaction_mode="create_savepoint")}


def test_check_catalogue_passes_on_the_demo_catalogue(kb_connection, session):
    result = CliRunner().invoke(check_catalogue, ["--at", "2025-07-01", "--json"], obj=FakeEnv(kb_connection))
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["stale"] == []


def test_check_catalogue_exits_non_zero_on_a_stale_basis(kb_connection, session):
    service = DutyService(session)
    duty = service.create({"item_type": "0131", "area": "33019900101", "role": "maintainer", "agency": "GS",
                           "citations": ["《城市道路管理条例》第九十九条"], "valid_from": dt.date(2025, 1, 1)})
    service.transition(duty, "submit")
    service.transition(duty, "publish")
    session.flush()
    result = CliRunner().invoke(check_catalogue, ["--at", "2025-07-01"], obj=FakeEnv(kb_connection))
    from .conftest import LAWS

    if LAWS.is_dir():  # the library holds the regulation, so the article is known to be missing
        assert result.exit_code == 1
        assert "第九十九条" in result.output and "所引条文不存在" in result.output
    else:
        assert result.exit_code == 0 and "未收录" in result.output
    bad = CliRunner().invoke(check_catalogue, ["--at", "2025-13-01"], obj=FakeEnv(kb_connection))
    assert bad.exit_code == 2


def test_coverage_command(kb_connection, session):
    ok = CliRunner().invoke(catalogue_coverage, ["--at", "2025-07-01"], obj=FakeEnv(kb_connection))
    assert ok.exit_code == 0 and "0 处缺口" in ok.output
    gaps = CliRunner().invoke(catalogue_coverage, ["--at", "2025-07-01", "--scheme", "gb47678", "--kind", "event"],
                              obj=FakeEnv(kb_connection))
    assert gaps.exit_code == 1 and "06010" in gaps.output
