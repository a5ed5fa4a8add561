"""API-key bookkeeping never makes a request wait (a real database file, real keys, real commits).

The shared test app injects a SAVEPOINT session, which hides lock waits between two write
transactions: this module runs the app on a database of its own with pyramid_tm's own commits.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid

import pytest
import webtest
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from tests.conftest import ROOT


@pytest.fixture(scope="module")
def own_database(database_url, tmp_path_factory):
    from portal.catalogue.loader import load_catalogue
    from portal.db import get_engine
    from portal.migrate import upgrade

    admin = None
    if database_url.startswith("sqlite"):
        url = f"sqlite:///{tmp_path_factory.mktemp('usage') / 'usage.sqlite'}"
    else:
        name = f"usage_{uuid.uuid4().hex[:8]}"
        admin = create_engine(database_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        url = make_url(database_url).set(database=name).render_as_string(hide_password=False)
    settings = {"sqlalchemy.url": url, "portal.var_dir": str(tmp_path_factory.mktemp("usage-var"))}
    upgrade(settings)
    engine = get_engine(settings)
    with Session(engine, info={"actor_name": "test-catalogue"}) as session:
        load_catalogue(session, ROOT / "knowledge_base")
        session.commit()
    yield url, engine
    engine.dispose()
    if admin is not None:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_api_key_writes_never_wait_on_usage_bookkeeping(own_database, app_settings):
    from portal import main
    from portal.accounts.models import ApiKey
    from portal.accounts.services import DatabaseApiKeyService, DatabaseUserService

    url, engine = own_database
    with Session(engine) as session:
        user = DatabaseUserService(session).create(f"hotline-{uuid.uuid4().hex[:6]}", None, ["dispatcher"])
        key, secret = DatabaseApiKeyService(session).create(user, "hotline system")
        session.commit()
        key_id = key.id
    # Usage due at once: every call would trigger the write that used to stall for 30 s.
    settings = dict(app_settings, **{"sqlalchemy.url": url, "apikeys.usage_write_interval": "0"})
    app = webtest.TestApp(main({}, **settings), extra_environ={"HTTP_HOST": "example.com"})
    headers = {"Authorization": f"Bearer {secret}"}
    # Start-up work (first connections, the catalogue snapshot, jieba's dictionaries, which the
    # first scrubbed text loads) is not what this measures.
    from portal.cases.privacy import scrub

    scrub("我叫王小明")
    app.get("/api/v1/item-types", status=200)
    app.get("/api/v1/cases", status=200)
    reported = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=3)).isoformat()
    slowest = 0.0
    for n in range(6):
        body = {"external_id": f"USAGE-{uuid.uuid4().hex[:8]}", "channel": "hotline_12345", "item_type": "0103",
                "description": "雨水井盖缺失", "reported_at": reported, "lat": 30.2336, "lon": 120.0860}
        started = time.monotonic()
        if n % 2:
            app.get("/api/v1/cases", headers=headers, status=200)
        else:
            app.post_json("/api/v1/cases", body, headers=headers, status=201)
        slowest = max(slowest, time.monotonic() - started)
    assert slowest < 1.0, f"a request waited {slowest:.1f} s"
    # ... and the key's last use is recorded all the same, by the background writer.
    deadline = time.monotonic() + 10
    last_used = None
    while time.monotonic() < deadline and last_used is None:
        with Session(engine) as session:
            last_used = session.scalar(select(ApiKey.last_used_at).where(ApiKey.id == key_id))
        time.sleep(0.05)
    assert last_used is not None
