"""One clock for the whole portal: "today" is the date in the portal's zone, not the server's."""

from __future__ import annotations

import datetime as dt

import pytest
import transaction
import webtest

from portal import clock
from portal.regulations.parsing import parse_regulation_text
from portal.regulations.versions import RegulationImporter, build_metadata

GRID = "3301990010100101"
# 21:23 UTC on 1 December is 05:23 on 2 December in Beijing.
EARLY_MORNING_IN_BEIJING = dt.datetime(2026, 12, 1, 21, 23, tzinfo=dt.UTC)

LANE_RULES = """\
# 青石市背街小巷管理规定

2026年11月1日 青石市人民政府公布

<!-- INFO END -->

第一条 为了管好背街小巷，制定本规定。

第二条 本规定自2026年12月2日起施行。
"""


@pytest.fixture
def beijing_dawn(monkeypatch):
    monkeypatch.setattr(clock, "_utcnow", lambda: EARLY_MORNING_IN_BEIJING)


def test_today_is_the_date_in_the_configured_zone(beijing_dawn):
    assert clock.today() == dt.date(2026, 12, 2)
    assert clock.now().utcoffset() == dt.timedelta(hours=8)
    clock.configure({"portal.timezone": "UTC"})
    try:
        assert clock.today() == dt.date(2026, 12, 1)
    finally:
        clock.configure({})
    with pytest.raises(ValueError, match=r"portal\.timezone"):
        clock.configure({"portal.timezone": "Mars/Olympus"})


def test_every_date_that_defaults_to_today_agrees(app, catalogue_session, beijing_dawn):
    parsed = parse_regulation_text(LANE_RULES)
    RegulationImporter(catalogue_session).import_text(parsed, build_metadata(parsed, None, None))
    catalogue_session.flush()
    manager = transaction.TransactionManager(explicit=True)
    manager.begin()
    manager.doom()
    testapp = webtest.TestApp(app, extra_environ={
        "HTTP_HOST": "example.com", "tm.active": True, "tm.manager": manager, "app.dbsession": catalogue_session})
    try:
        lookup = testapp.get("/api/v1/regulations/lookup",
                             params={"title": "青石市背街小巷管理规定", "article": "2"}).json
        answer = testapp.get("/api/v1/responsibility", params={"item_type": "0101", "area": GRID}).json
    finally:
        manager.abort()
    assert lookup["at"] == answer["at"] == "2026-12-02"
    # The rules take effect on 2 December: in force already, in Beijing, at 05:23.
    assert lookup["in_force"] is True
