"""The operator's `portal` command against a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

import uuid

import pytest
from click.testing import CliRunner

from portal.cli import main


@pytest.fixture
def ini_file(tmp_path, database_url, app_settings, engine):
    path = tmp_path / "cli.ini"
    path.write_text(
        "[app:main]\nuse = egg:city-duty-portal\n"
        f"sqlalchemy.url = {database_url}\n"
        f"portal.var_dir = {tmp_path / 'var'}\n"
        f"portal.knowledge_base = {app_settings['portal.knowledge_base']}\n"
        "portal.corpus_dir =\nportal.lawpack = false\nportal.search.warm_up = false\n"
        "portal.search.heal_on_start = false\nsession.secret = cli-test\n",
        encoding="utf-8",
    )
    return str(path)


def run(ini_file: str, *args: str, input: str | None = None):
    return CliRunner().invoke(main, ["--config", ini_file, *args], input=input, catch_exceptions=False)


def test_users_add_then_apikey_that_authenticates(ini_file, testapp):
    name = f"ops-{uuid.uuid4().hex[:6]}"
    result = run(ini_file, "users", "add", name, "--role", "admin", "--password-stdin", input="a long password\n")
    assert result.exit_code == 0, result.output
    listing = run(ini_file, "users", "list")
    assert name in listing.output and "admin" in listing.output

    created = run(ini_file, "apikeys", "create", "--user", name, "--name", "监控")
    assert created.exit_code == 0, created.output
    secret = created.stdout.strip().splitlines()[-1]
    assert secret.startswith("cdp_")
    # The printed key is never shown again by list.
    assert secret not in run(ini_file, "apikeys", "list").output
    # And it works against the API: an admin key may read the audit log.
    testapp.get("/api/v1/audit", headers={"Authorization": f"Bearer {secret}"}, status=200)


def test_users_add_refuses_unknown_roles_and_duplicates(ini_file):
    name = f"dup-{uuid.uuid4().hex[:6]}"
    assert run(ini_file, "users", "add", name, "--password", "a long password").exit_code == 0
    again = run(ini_file, "users", "add", name, "--password", "a long password")
    assert again.exit_code != 0 and "已存在" in again.output
    bad_role = run(ini_file, "users", "add", f"x-{name}", "--role", "superuser", "--password", "a long password")
    assert bad_role.exit_code != 0 and "未知角色" in bad_role.output


def test_apikeys_for_unknown_user_fail_cleanly(ini_file):
    result = run(ini_file, "apikeys", "create", "--user", "nobody-here", "--name", "x")
    assert result.exit_code != 0 and "不存在" in result.output


def test_db_current_reports_head(ini_file):
    result = run(ini_file, "db", "current")
    assert result.exit_code == 0
    lines = dict(line.split(": ", 1) for line in result.output.strip().splitlines())
    assert lines["database"] == lines["code head"]


def test_apikeys_list_shows_a_disabled_users_keys_as_disabled(ini_file, engine):
    from sqlalchemy import update
    from sqlalchemy.orm import Session

    from portal.accounts.models import User

    name = f"gone-{uuid.uuid4().hex[:6]}"
    assert run(ini_file, "users", "add", name, "--role", "dispatcher", "--password", "a long password").exit_code == 0
    assert run(ini_file, "apikeys", "create", "--user", name, "--name", "old system").exit_code == 0
    with Session(engine) as session:
        session.execute(update(User).where(User.username == name).values(is_active=False))
        session.commit()
    line = next(row for row in run(ini_file, "apikeys", "list").output.splitlines() if f"\t{name}\t" in row)
    assert "disabled" in line and "\tactive\t" not in line


def test_bulletin_generate_from_the_command_line(ini_file, engine, tmp_path):
    from sqlalchemy import delete

    from portal.bulletins.models import Bulletin

    bad = run(ini_file, "bulletin", "generate", "--period", "2026-13")
    assert bad.exit_code != 0 and "月份" in bad.output
    unfinished = run(ini_file, "bulletin", "generate", "--period", "2100-12")
    assert unfinished.exit_code != 0
    pdf = tmp_path / "b.pdf"
    try:
        made = run(ini_file, "bulletin", "generate", "--period", "2020-Q1", "--pdf", str(pdf))
        assert made.exit_code == 0, made.output
        assert "2020年季度通报第1期" in made.output and "draft" in made.output
        assert pdf.read_bytes().startswith(b"%PDF")
        assert "2020-Q1" in run(ini_file, "bulletin", "list").output
    finally:
        with engine.begin() as connection:  # a draft may be deleted; keep the session's database clean
            connection.execute(delete(Bulletin).where(Bulletin.period == "2020-Q1"))
