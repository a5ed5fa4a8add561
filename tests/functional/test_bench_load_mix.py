"""The load benchmark's request mix (bench/bench_load.py) asks only for public routes that exist,
with parameters the portal accepts: walked once against the app, every answer is 2xx (a redirect
would be a staff page sending the visitor to the login form).

Keeps the benchmark from rotting when a route or a parameter changes (its run itself is in
bench/, not in the suite)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import bench_load

#: Routes whose rows the test database lacks (no ruling or bulletin is published in it).
WITHOUT_DATA = {"rulings.ruling", "bulletins.detail"}
REGULATION = "青石市犬只管理规定\n第一条　为了规范养犬行为，制定本规定。\n第二条　携犬出户应当束犬链。\n"


@pytest.fixture
def dbsession(catalogue_session: Session) -> Session:
    return catalogue_session


@pytest.fixture
def demo_cases(dbsession: Session, app_settings: dict[str, Any]) -> None:
    from portal.cases.loader import load_demo_cases
    from portal.cases.places import Places

    @contextmanager
    def scope() -> Iterator[Session]:
        yield dbsession
        dbsession.flush()

    load_demo_cases(scope, Places.of, 40, seed=5, settings=app_settings)


def test_every_route_of_the_load_mix_answers(testapp, dbsession, demo_cases, make_api_key):
    headers = {"Authorization": f"Bearer {make_api_key('dispatcher')}"}
    testapp.post_json("/api/v1/regulations", {"text": REGULATION}, status=201,
                      headers={"Authorization": f"Bearer {make_api_key('editor')}"})
    corpus = bench_load.collect_corpus(dbsession.connection())
    corpus.cases = bench_load.discover_case_ids(lambda path: testapp.get(path).json)
    assert corpus.cases and corpus.tracking_codes and corpus.articles is not None

    calls = bench_load.routes_of(corpus)
    answered = {}
    for call in calls:
        if call.track_code is not None:
            page = testapp.get(call.path)
            form = next(f for f in page.forms.values() if "tracking_code" in f.fields)
            form["tracking_code"] = call.track_code
            response = form.submit(status="*")
        else:
            response = testapp.get(call.path, headers=headers if call.api else {}, status="*")
        answered[f"{call.route} {call.path}"] = response.status_int
    # 2xx only: a redirect would be a page for staff (to the login form) or a moved URL
    assert {name: status for name, status in answered.items() if not 200 <= status < 300} == {}

    assert {call.group for call in calls} == set(bench_load.GROUPS)
    every_route = {call.route for call in bench_load.routes_of(_with_every_kind_of_row(corpus))}
    assert every_route - {call.route for call in calls} <= WITHOUT_DATA


def _with_every_kind_of_row(corpus: Any) -> Any:
    """The corpus with a stand-in for each empty list: which routes the mix has at all."""
    import dataclasses

    filled = {name: value or ([(1, "1")] if name == "articles" else ["1"])
              for name, value in dataclasses.asdict(corpus).items()}
    return bench_load.Corpus(**filled)
