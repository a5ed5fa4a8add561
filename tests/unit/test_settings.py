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
