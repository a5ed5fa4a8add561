"""Every route × every role: who may read and write what, as ../shared/DESIGN.md assigns it.

The routes come from Pyramid's route mapper, so a new route fails this test until it has a row in
:data:`MATRIX` (its URL with real ids of a populated portal, and who may GET and write it).
Each role is a real client: a browser session (logged in through the form, CSRF tokens included)
for the HTML pages, and its API key for ``/api/`` and ``/open311/``:

- ``anonymous``: no session, no key;
- ``api_client``: a key of a user without roles (no session);
- ``dispatcher``, ``editor``, ``clerk``, ``admin``: session and key;
- ``expert_on_panel`` sits on the populated dispute's panel, ``expert_off_panel`` does not;
- ``disabled``: a session and a key made before the user was disabled (powerful roles);
- ``revoked``: a revoked key of a powerful user.

Expected answers: allowed → 2xx/3xx for GET (writes with an empty body may also be refused as bad
input: 400/409/422, but never 401/403); forbidden → 403, or 404 for things whose existence is not
public (drafts); anonymous on a staff page → a redirect to the login page (GET) or 403 (POST),
401 under ``/api/``, 403 under ``/open311/`` (its spec); a rejected key → 401 (``/open311/``: 403).
A refused write changes no row. Non-public text (a draft duty's note, a dispute's party position,
evidence and draft ruling, an unpublished bulletin, a case's internal data) carries a marker that
no response to anyone outside its roles may contain.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote

import pytest
import transaction
import webtest
from sqlalchemy import func, literal, select, union_all
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from tests.functional.populated import MARKERS, PASSWORD, Populated, disable, populate

ROLES = ("anonymous", "api_client", "dispatcher", "editor", "expert_on_panel", "expert_off_panel", "clerk", "admin",
         "disabled", "revoked")
SESSION_ROLES = frozenset({"dispatcher", "editor", "expert_on_panel", "expert_off_panel", "clerk", "admin",
                           "disabled"})
REJECTED_KEYS = frozenset({"disabled", "revoked"})

# Who may, by the design's roles.
EVERYONE = frozenset({"anonymous", "api_client", "dispatcher", "editor", "expert_on_panel", "expert_off_panel",
                      "clerk", "admin"})
KEY_HOLDERS = EVERYONE - {"anonymous"}
DRAFT_READERS = frozenset({"dispatcher", "editor", "admin"})   # the catalogue's drafts
EDITORS = frozenset({"editor", "admin"})                       # catalogue and regulations
INGESTERS = frozenset({"dispatcher", "clerk", "admin"})        # the linkage centre's case feed
TEACHERS = frozenset({"dispatcher", "clerk", "admin"})         # confirm a dispatch suggestion
REVIEWERS = frozenset({"editor", "admin"})                     # review dispatch examples
CLERKS = frozenset({"clerk", "admin"})                         # run disputes
EXPERTS_AND_CLERKS = frozenset({"clerk", "admin", "expert_on_panel", "expert_off_panel"})
PANEL = frozenset({"clerk", "admin", "expert_on_panel"})       # one dispute's file
VOTERS = frozenset({"expert_on_panel", "admin"})
BULLETIN_STAFF = frozenset({"clerk", "editor", "admin"})
ADMINS = frozenset({"admin"})
NOBODY: frozenset[str] = frozenset()

#: Who may read the text behind each marker (see tests/functional/populated.py).
MARKER_READERS = {"duty": DRAFT_READERS, "dispute": PANEL, "bulletin": BULLETIN_STAFF, "case": NOBODY}


@dataclasses.dataclass(frozen=True)
class Row:
    """One route: its URL in the populated portal, and who may GET it and write to it."""

    url: Callable[[Populated], str]
    get: frozenset[str] | None = EVERYONE
    writes: dict[str, frozenset[str]] = dataclasses.field(default_factory=dict)
    #: refused callers get 404, as if the thing did not exist
    hidden: bool = False


def row(url: str | Callable[[Populated], str], get: frozenset[str] | None = EVERYONE, hidden: bool = False,
        **writes: frozenset[str]) -> Row:
    return Row(url if callable(url) else (lambda _: url), get, {k.upper(): v for k, v in writes.items()}, hidden)


def bulletin_period(p: Populated) -> str:
    return p.published_bulletin_period or p.bulletin_period


# route name [#variant] → row. Read it as: GET allowed to …, POST allowed to …
MATRIX: dict[str, Row] = {
    # site
    "home": row("/"),
    "healthz": row("/healthz"),
    "favicon": row("/favicon.ico"),
    "robots": row("/robots.txt"),
    "__static/": row("/static/site.css"),
    "api.openapi": row("/api/v1/openapi.json"),
    "api.docs": row("/api/docs"),
    "search": row("/search?q=井盖"),
    "search.api": row("/api/v1/search?q=井盖"),
    "developers": row("/developers"),
    # accounts
    "accounts.login": row("/login", post=EVERYONE),
    "accounts.logout": row("/logout", get=None, post=EVERYONE),
    "accounts.users": row("/admin/users", ADMINS, post=ADMINS),
    "accounts.user": row(lambda p: f"/admin/users/{p.user_ids['api_client']}", ADMINS),
    "accounts.user_roles": row(lambda p: f"/admin/users/{p.user_ids['api_client']}/roles", None, post=ADMINS),
    "accounts.user_status": row(lambda p: f"/admin/users/{p.user_ids['api_client']}/status", None, post=ADMINS),
    "accounts.user_password": row(lambda p: f"/admin/users/{p.user_ids['api_client']}/password", None, post=ADMINS),
    "accounts.user_keys": row(lambda p: f"/admin/users/{p.user_ids['api_client']}/keys", None, post=ADMINS),
    "accounts.user_key_revoke": row(
        lambda p: f"/admin/users/{p.user_ids['api_client']}/keys/{p.key_ids['api_client']}/revoke", None,
        post=ADMINS),
    "audit.list": row("/admin/audit", ADMINS),
    "audit.api.list": row("/api/v1/audit", ADMINS),
    # regulations
    "regulations.index": row("/regulations"),
    "regulations.import": row("/regulations/import", EDITORS, post=EDITORS),
    "regulations.detail": row(lambda p: f"/regulations/{p.regulation_id}"),
    "regulations.article": row(lambda p: f"/regulations/{p.regulation_id}/articles/{p.article_number}"),
    "regulations.api.list": row("/api/v1/regulations", post=EDITORS),
    "regulations.api.lookup": row("/api/v1/regulations/lookup?citation=《青石市矩阵测试管理办法》第一条"),
    "regulations.api.detail": row(lambda p: f"/api/v1/regulations/{p.regulation_id}"),
    "regulations.api.article": row(lambda p: f"/api/v1/regulations/{p.regulation_id}/articles/{p.article_number}"),
    # catalogue
    "catalogue.index": row("/catalogue"),
    "catalogue.lookup": row(lambda p: f"/catalogue/lookup?item_type={p.item_code}&area={p.area_code}"),
    "catalogue.item_type": row(lambda p: f"/catalogue/item-types/{p.item_code}"),
    "catalogue.agencies": row("/catalogue/agencies"),
    "catalogue.areas": row("/catalogue/areas"),
    "catalogue.powers": row("/catalogue/powers"),
    "catalogue.power": row(lambda p: f"/catalogue/powers/{p.power_code}"),
    "catalogue.duties": row("/catalogue/duties", DRAFT_READERS),
    "catalogue.duty_new": row("/catalogue/duties/new", EDITORS, post=EDITORS),
    "catalogue.duty": row(lambda p: f"/catalogue/duties/{p.draft_duty_id}", DRAFT_READERS, hidden=True),
    "catalogue.duty#published": row(lambda p: f"/catalogue/duties/{p.published_duty_id}"),
    "catalogue.duty_edit": row(lambda p: f"/catalogue/duties/{p.draft_duty_id}/edit", EDITORS, post=EDITORS),
    "catalogue.duty_transition": row(lambda p: f"/catalogue/duties/{p.draft_duty_id}/transition", None,
                                     post=EDITORS),
    "catalogue.stale": row("/catalogue/reports/stale-basis"),
    "catalogue.coverage": row("/catalogue/reports/coverage"),
    "catalogue.api.item_types": row("/api/v1/item-types"),
    "catalogue.api.complete": row("/api/v1/item-types/complete?q=井"),
    "catalogue.api.item_type": row(lambda p: f"/api/v1/item-types/{p.item_code}"),
    "catalogue.api.agencies": row("/api/v1/agencies"),
    "catalogue.api.agency": row(lambda p: f"/api/v1/agencies/{p.agency_code}"),
    "catalogue.api.areas": row("/api/v1/areas"),
    "catalogue.api.locate": row("/api/v1/areas/locate?lat=30.2336&lon=120.0860"),
    "catalogue.api.area": row(lambda p: f"/api/v1/areas/{p.area_code}"),
    "catalogue.api.responsibility": row(lambda p: f"/api/v1/responsibility?item_type={p.item_code}&area={p.area_code}"),
    "catalogue.api.duties": row("/api/v1/duties", post=EDITORS),
    "catalogue.api.duty": row(lambda p: f"/api/v1/duties/{p.draft_duty_id}", DRAFT_READERS, hidden=True,
                              patch=EDITORS),
    "catalogue.api.duty#published": row(lambda p: f"/api/v1/duties/{p.published_duty_id}"),
    "catalogue.api.duty_transitions": row(lambda p: f"/api/v1/duties/{p.draft_duty_id}/transitions", None,
                                          post=EDITORS),
    "catalogue.api.duty_history": row(lambda p: f"/api/v1/duties/{p.draft_duty_id}/history", DRAFT_READERS,
                                      hidden=True),
    "catalogue.api.duty_history#published": row(lambda p: f"/api/v1/duties/{p.published_duty_id}/history"),
    "catalogue.api.powers": row("/api/v1/powers"),
    "catalogue.api.stale": row("/api/v1/catalogue/stale-basis"),
    "catalogue.api.coverage": row("/api/v1/catalogue/coverage"),
    # arbitration: public rulings; a draft ruling is not public for anyone (staff see it on the dispute)
    "arbitration.rulings": row("/rulings"),
    "arbitration.stats": row("/rulings/stats"),
    "arbitration.ruling": row(lambda p: f"/rulings/{p.published_ruling_id}"),
    # a draft ruling's page is a preview for the dispute's own people, unknown to everyone else
    "arbitration.ruling#draft": row(lambda p: f"/rulings/{p.draft_ruling_id}", PANEL, hidden=True),
    "arbitration.ruling_pdf": row(lambda p: f"/rulings/{p.published_ruling_id}.pdf"),
    "arbitration.ruling_pdf#draft": row(lambda p: f"/rulings/{p.draft_ruling_id}.pdf", NOBODY, hidden=True),
    "arbitration.experts": row("/experts", post=CLERKS),
    "arbitration.index": row("/arbitration", EXPERTS_AND_CLERKS),
    "arbitration.hotspots": row("/arbitration/hotspots", CLERKS, post=CLERKS),
    "arbitration.dispute_new": row("/arbitration/disputes/new", CLERKS, post=CLERKS),
    "arbitration.dispute": row(lambda p: f"/arbitration/disputes/{p.dispute_id}", PANEL),
    "arbitration.evidence": row(lambda p: f"/arbitration/disputes/{p.dispute_id}/evidence/{p.evidence_id}", PANEL),
    "arbitration.dispute_action": row(lambda p: f"/arbitration/disputes/{p.dispute_id}/move", None, post=CLERKS),
    "arbitration.dispute_action#vote": row(lambda p: f"/arbitration/disputes/{p.dispute_id}/vote", None,
                                           post=VOTERS),
    "arbitration.api.rulings": row("/api/v1/rulings"),
    "arbitration.api.stats": row("/api/v1/rulings/stats"),
    "arbitration.api.ruling": row(lambda p: f"/api/v1/rulings/{p.published_ruling_id}"),
    "arbitration.api.ruling#draft": row(lambda p: f"/api/v1/rulings/{p.draft_ruling_id}", NOBODY, hidden=True),
    "arbitration.api.experts": row("/api/v1/experts"),
    "arbitration.api.disputes": row("/api/v1/disputes", EXPERTS_AND_CLERKS, post=CLERKS),
    "arbitration.api.hotspots": row("/api/v1/disputes/hotspots", CLERKS, post=CLERKS),
    "arbitration.api.dispute": row(lambda p: f"/api/v1/disputes/{p.dispute_id}", PANEL),
    "arbitration.api.transitions": row(lambda p: f"/api/v1/disputes/{p.dispute_id}/transitions", None, post=CLERKS),
    "arbitration.api.parties": row(lambda p: f"/api/v1/disputes/{p.dispute_id}/parties", None, post=CLERKS),
    "arbitration.api.panel": row(lambda p: f"/api/v1/disputes/{p.dispute_id}/panel", CLERKS, put=CLERKS),
    "arbitration.api.draft": row(lambda p: f"/api/v1/disputes/{p.dispute_id}/ruling", None, put=CLERKS),
    "arbitration.api.evidence": row(lambda p: f"/api/v1/disputes/{p.dispute_id}/evidence", None, post=CLERKS),
    "arbitration.api.votes": row(lambda p: f"/api/v1/disputes/{p.dispute_id}/votes", None, post=VOTERS),
    "arbitration.api.revoke": row(lambda p: f"/api/v1/disputes/{p.dispute_id}/ruling/withdraw", None, post=CLERKS),
    # cases: disclosed to all, fed by the linkage centre
    "cases.index": row("/cases"),
    "cases.detail": row(lambda p: f"/cases/{p.case_id}"),
    "cases.track": row("/track", post=EVERYONE),
    "cases.api.list": row("/api/v1/cases", post=INGESTERS),
    "cases.api.detail": row(lambda p: f"/api/v1/cases/{p.case_id}"),
    "cases.api.events": row(lambda p: f"/api/v1/cases/{p.case_id}/events", None, post=INGESTERS),
    "cases.api.feedback": row(lambda p: f"/api/v1/cases/{p.case_id}/feedback", None, post=INGESTERS),
    # dispatch assistant: the suggestion is public knowledge; teaching it and reviewing are staff work
    "dispatch.screen": row("/dispatch"),
    "dispatch.choose": row("/dispatch/choose", None, post=TEACHERS),
    "dispatch.examples": row("/dispatch/examples", REVIEWERS),
    "dispatch.discard": row("/dispatch/examples/1/discard", None, post=REVIEWERS),
    "dispatch.api.suggest": row("/api/v1/dispatch/suggest?text=井盖坏了", post=KEY_HOLDERS | {"anonymous"}),
    "dispatch.api.examples": row("/api/v1/dispatch/examples", REVIEWERS, post=TEACHERS),
    "dispatch.api.discard": row("/api/v1/dispatch/examples/1/discard", None, post=REVIEWERS),
    # Open311: reading is open, submitting needs any valid key
    "open311.discovery": row("/open311/v2/discovery.json"),
    "open311.discovery_root": row("/open311/discovery.xml"),
    "open311.services": row("/open311/v2/services.json"),
    "open311.service": row(lambda p: f"/open311/v2/services/{p.item_code}.json"),
    "open311.service_alias": row(lambda p: f"/open311/v2/service/{p.item_code}.xml"),
    "open311.requests": row("/open311/v2/requests.json", post=KEY_HOLDERS),
    "open311.request": row(lambda p: f"/open311/v2/requests/{p.case_id}.xml"),
    # an unknown token is not found for anyone (a real one: tests/functional/test_open311.py)
    "open311.token": row("/open311/v2/tokens/ABCD-EFGH-JKLM.json", NOBODY, hidden=True),
    # open data
    "opendata.index": row("/opendata/"),
    "opendata.index_noslash": row("/opendata"),
    "opendata.catalog": row("/opendata/catalog.jsonld"),
    "opendata.datapackage": row("/opendata/datapackage.json"),
    "opendata.export": row("/opendata/cases.csv"),
    # bulletins: published ones for all; generating, previewing and publishing is staff work
    "bulletins.index": row("/bulletins"),
    "bulletins.indicators": row("/bulletins/indicators"),
    "bulletins.manage": row("/bulletins/manage", BULLETIN_STAFF, post=BULLETIN_STAFF),
    "bulletins.publish": row(lambda p: f"/bulletins/manage/{p.bulletin_id}/publish", None, post=BULLETIN_STAFF),
    "bulletins.preview": row(lambda p: f"/bulletins/manage/{p.bulletin_id}", BULLETIN_STAFF),
    "bulletins.preview_pdf": row(lambda p: f"/bulletins/manage/{p.bulletin_id}.pdf", BULLETIN_STAFF),
    "bulletins.detail": row(lambda p: f"/bulletins/{p.bulletin_period}", NOBODY, hidden=True),
    "bulletins.revision": row(lambda p: f"/bulletins/{p.bulletin_period}/r1", NOBODY, hidden=True),
    "bulletins.file": row(lambda p: f"/bulletins/{p.bulletin_period}/r1.json", NOBODY, hidden=True),
    "bulletins.latest_file": row(lambda p: f"/bulletins/{p.bulletin_period}.csv", NOBODY, hidden=True),
    "bulletins.api.list": row("/api/v1/bulletins"),
    "bulletins.api.detail": row(lambda p: f"/api/v1/bulletins/{p.bulletin_period}", NOBODY, hidden=True),
}

ALLOWED_WRITE_REFUSALS = {400, 404, 409, 413, 415, 422}


def surface(url: str) -> str:
    return "api" if url.startswith("/api/") else "open311" if url.startswith("/open311/") else "html"


def expected(role: str, method: str, url: str, allowed: frozenset[str], hidden: bool,
             readers: frozenset[str] | None = None) -> str:
    """The answer ``role`` should get, as a word: allowed, login, 401, 403, 404."""
    where = surface(url)
    if where != "html" and role in REJECTED_KEYS:
        return "403" if where == "open311" else "401"
    caller = role if where != "html" or role in SESSION_ROLES - REJECTED_KEYS else "anonymous"
    if caller in allowed:
        return "allowed"
    if hidden and caller not in (readers or NOBODY):
        return "404"
    if caller == "anonymous":
        if where == "api":
            return "401"
        if where == "html" and method == "GET":
            return "login"
    return "403"


def outcome(response: webtest.TestResponse, method: str) -> str:
    status = response.status_int
    location = response.headers.get("Location", "")
    if 300 <= status < 400 and "/login" in location:
        return "login"
    if status < 400 or (method != "GET" and status in ALLOWED_WRITE_REFUSALS - {404}):
        return "allowed"
    return str(status)


def acceptable(expect: str, got: str, method: str, status: int) -> bool:
    if expect == got:
        return True
    if expect == "allowed" and method != "GET" and status == 404:
        return True  # an allowed write on an empty body may name a thing that is not there
    return expect == "403" and got == "404"  # hiding is always allowed


# ----------------------------------------------------------------------------- clients


@pytest.fixture(scope="module")
def populated(catalogue_connection: Connection, app: Any) -> Populated:
    session = Session(bind=catalogue_connection, join_transaction_mode="create_savepoint", expire_on_commit=False,
                      info={"actor_name": "matrix"})
    world = populate(session, dict(app.registry.settings))
    session.commit()
    session.close()
    return world


@pytest.fixture
def dbsession(catalogue_session: Session, populated: Populated) -> Session:
    return catalogue_session


def client(app: Any, manager: transaction.TransactionManager, session: Session, address: str) -> webtest.TestApp:
    return webtest.TestApp(app, extra_environ={
        "HTTP_HOST": "example.com", "REMOTE_ADDR": address, "tm.active": True, "tm.manager": manager,
        "app.dbsession": session,
    })


_CSRF = re.compile(r'name="csrf_token"\s+value="([^"]+)"')


@dataclasses.dataclass
class Caller:
    role: str
    app: webtest.TestApp
    headers: dict[str, str]
    csrf: str


def callers(app: Any, manager: transaction.TransactionManager, session: Session,
            world: Populated) -> Iterator[Caller]:
    for number, role in enumerate(ROLES, start=1):
        # An address of its own: the login and API rate limits count per address.
        testapp = client(app, manager, session, f"10.99.0.{number}")
        if role in SESSION_ROLES:
            form = testapp.get("/login").forms[0]
            form["username"] = world.usernames[role]
            form["password"] = PASSWORD
            form.submit(status=303)
        headers = {"Authorization": f"Bearer {world.api_keys[role]}"} if role in world.api_keys else {}
        match = _CSRF.search(testapp.get("/login").text)
        assert match, "the login page carries a CSRF token"
        yield Caller(role, testapp, headers, match.group(1))


def row_counts(session: Session) -> dict[str, int]:
    from portal.db import Base

    # Each count names its table: a UNION ALL returns its rows in no promised order.
    query = union_all(*(select(literal(table.name).label("name"), func.count().label("n")).select_from(table)
                        for table in Base.metadata.sorted_tables))
    return {name: count for name, count in session.execute(query)}  # noqa: C416 - dict() would take a Result for a mapping (it has keys())


def send(caller: Caller, method: str, url: str) -> webtest.TestResponse:
    url = quote(url, safe="/?=&.:-_")
    if method == "GET":
        return caller.app.get(url, headers=caller.headers, status="*")
    where = surface(url)
    if where == "html":
        return caller.app.post(url, {"csrf_token": caller.csrf}, headers=caller.headers, status="*")
    if where == "open311":
        return caller.app.post(url, {}, headers=caller.headers, status="*")
    sender = {"POST": caller.app.post_json, "PUT": caller.app.put_json, "PATCH": caller.app.patch_json,
              "DELETE": caller.app.delete_json}[method]
    return sender(url, {}, headers=caller.headers, status="*")


# ----------------------------------------------------------------------------- the matrix


def test_every_route_has_a_row(app: Any) -> None:
    from pyramid.interfaces import IRoutesMapper

    routes = {route.name for route in app.registry.getUtility(IRoutesMapper).get_routes()}
    rows = {name.split("#")[0] for name in MATRIX}
    assert routes - rows == set(), "routes without a row in MATRIX: add who may use them"
    assert rows - routes == set(), "rows for routes that no longer exist"


def test_every_route_for_every_role(app: Any, dbsession: Session, populated: Populated) -> None:
    from portal.accounts.models import User

    manager = transaction.TransactionManager(explicit=True)
    manager.begin()
    manager.doom()
    all_callers = list(callers(app, manager, dbsession, populated))
    # The disabled user logged in (and got its key) before an administrator disabled it.
    disable(dbsession, populated.user_ids["disabled"])
    assert dbsession.get_one(User, populated.user_ids["disabled"]).is_active is False
    wrong: list[str] = []
    shown_to_readers: set[str] = set()
    cells = 0
    # Logging out last: it ends the session the other cells use.
    names = sorted(MATRIX, key=lambda name: name == "accounts.logout")
    for name in names:
        entry = MATRIX[name]
        url = entry.url(populated)
        methods = ([("GET", entry.get)] if entry.get is not None else []) + list(entry.writes.items())
        for method, allowed in methods:
            for caller in all_callers:
                expect = expected(caller.role, method, url, allowed, entry.hidden, entry.get)
                before = row_counts(dbsession) if method != "GET" and expect != "allowed" else None
                nested = dbsession.begin_nested() if method != "GET" else None
                response = send(caller, method, url)
                got = outcome(response, method)
                cells += 1
                if response.status_int >= 500 or not acceptable(expect, got, method, response.status_int):
                    wrong.append(f"{caller.role:17} {method:5} {url}: expected {expect}, got {response.status_int}"
                                 f" {response.headers.get('Location', '')}")
                body = response.body.decode("utf-8", "replace")
                for secret, readers in MARKER_READERS.items():
                    reader = caller.role if caller.role in SESSION_ROLES - REJECTED_KEYS or surface(url) != "html" \
                        else "anonymous"
                    if MARKERS[secret] in body:
                        if reader not in readers:
                            wrong.append(f"{caller.role:17} {method:5} {url}: shows the {secret} marker")
                        else:
                            shown_to_readers.add(secret)
                if before is not None:
                    after = row_counts(dbsession)
                    changed = {t: (before[t], after[t]) for t in before if before[t] != after[t]}
                    if changed:
                        wrong.append(f"{caller.role:17} {method:5} {url}: a refused write changed {changed}")
                if nested is not None and nested.is_active:
                    nested.rollback()
    manager.abort()
    assert cells > 1000
    # The markers are where they should be: the check above looks for something that is there.
    assert shown_to_readers == {secret for secret, readers in MARKER_READERS.items() if readers}
    assert not wrong, f"{len(wrong)} of {cells} cells are wrong:\n" + "\n".join(wrong)
