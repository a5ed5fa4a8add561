"""API-key bookkeeping never makes a request wait (a real database file, real keys, real commits).

The shared test app injects a SAVEPOINT session, which hides lock waits between two write
transactions: this module runs the app on a database of its own with pyramid_tm's own commits.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid

import webtest
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.functional.test_cases import cli_database  # noqa: F401 - the fixture


def test_api_key_writes_never_wait_on_usage_bookkeeping(cli_database, app_settings):  # noqa: F811
    from portal import main
    from portal.accounts.models import ApiKey
    from portal.accounts.services import DatabaseApiKeyService, DatabaseUserService

    url, engine = cli_database  # a database of its own, with the catalogue, committed
    with Session(engine) as session:
        user = DatabaseUserService(session).create(f"hotline-{uuid.uuid4().hex[:6]}", None, ["dispatcher"])
        key, secret = DatabaseApiKeyService(session).create(user, "hotline system")
        session.commit()
        key_id = key.id
    # Usage due at once: every call would trigger the write that used to stall for 30 s.
    settings = dict(app_settings, **{"sqlalchemy.url": url, "apikeys.usage_write_interval": "0"})
    app = webtest.TestApp(main({}, **settings), extra_environ={"HTTP_HOST": "example.com"})
    headers = {"Authorization": f"Bearer {secret}"}
    # Start-up work (first connections, the catalogue snapshot, the name detector's dictionary)
    # is not what this measures.
    from portal.cases.names import warm_up

    warm_up()
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
    # The stall this guards against waited out SQLite's busy timeout (30 s); a loaded CI machine
    # may take a second for a request, so the bound is generous but far below the stall.
    assert slowest < 5.0, f"a request waited {slowest:.1f} s"
    # ... and the key's last use is recorded all the same, by the background writer.
    deadline = time.monotonic() + 10
    last_used = None
    while time.monotonic() < deadline and last_used is None:
        with Session(engine) as session:
            last_used = session.scalar(select(ApiKey.last_used_at).where(ApiKey.id == key_id))
        time.sleep(0.05)
    assert last_used is not None
