from __future__ import annotations

from portal.settings import complete_settings, normalise_database_url


def test_database_url_from_environment_wins(monkeypatch, tmp_path):
    monkeypatch.setenv("DATABASE_URL", "postgresql://portal@db.internal/portal")
    settings = complete_settings({"sqlalchemy.url": "sqlite:///x.sqlite", "portal.var_dir": str(tmp_path)})
    assert settings["sqlalchemy.url"] == "postgresql+psycopg://portal@db.internal/portal"


def test_var_dir_from_environment_moves_the_default_database_and_index(monkeypatch, tmp_path):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("PORTAL_VAR_DIR", str(tmp_path / "state"))
    settings = complete_settings({"portal.var_dir": "/somewhere/else"})
    assert settings["sqlalchemy.url"] == f"sqlite:///{tmp_path / 'state' / 'portal.sqlite'}"
    assert settings["portal.index_dir"] == str(tmp_path / "state" / "index")


def test_libpq_style_urls_are_driven_by_psycopg3():
    assert normalise_database_url("postgres://u@h/d") == "postgresql+psycopg://u@h/d"
    assert normalise_database_url("postgresql+psycopg://u@h/d") == "postgresql+psycopg://u@h/d"
    assert normalise_database_url("sqlite:///a.db") == "sqlite:///a.db"


def test_production_settings_refuse_a_missing_or_short_secret_and_a_missing_database(monkeypatch, tmp_path):
    import pytest
    from pyramid.exceptions import ConfigurationError

    for name in ("DATABASE_URL", "PORTAL_SESSION_SECRET"):
        monkeypatch.delenv(name, raising=False)
    production = {"portal.require_production_settings": "true", "portal.var_dir": str(tmp_path),
                  "session.secret": ""}
    with pytest.raises(ConfigurationError, match="PORTAL_SESSION_SECRET"):
        complete_settings(dict(production, **{"sqlalchemy.url": "postgresql://db/portal"}))
    monkeypatch.setenv("PORTAL_SESSION_SECRET", "x" * 31)
    with pytest.raises(ConfigurationError, match="32"):
        complete_settings(dict(production, **{"sqlalchemy.url": "postgresql://db/portal"}))
    monkeypatch.setenv("PORTAL_SESSION_SECRET", "密" * 11)  # 33 bytes in UTF-8
    with pytest.raises(ConfigurationError, match="DATABASE_URL"):
        complete_settings(dict(production))
    monkeypatch.setenv("DATABASE_URL", "postgresql://db/portal")
    assert complete_settings(dict(production))["sqlalchemy.url"] == "postgresql+psycopg://db/portal"
    # the embedded default asks for nothing
    monkeypatch.delenv("DATABASE_URL")
    assert complete_settings({"portal.var_dir": str(tmp_path)})["sqlalchemy.url"].startswith("sqlite:///")


def test_production_ini_serves_with_gunicorn_workers(tmp_path, monkeypatch):
    from portal.serving import server_options
    from tests.conftest import ROOT

    monkeypatch.delenv("PORTAL_BIND", raising=False)
    monkeypatch.setenv("PORTAL_WORKERS", "3")
    options = server_options(ROOT / "production.ini")
    assert options["worker_class"] == "portal.serving.RebalancingThreadWorker" and options["workers"] == "3"
    assert int(options["max_requests_per_connection"]) > 0
    assert "use" not in options and int(options["graceful_timeout"]) > 0
