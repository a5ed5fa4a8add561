"""The gunicorn worker production.ini serves with (portal/serving.py)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from gunicorn.workers.gthread import ThreadWorker

from portal.serving import RebalancingThreadWorker, server_options


@pytest.fixture
def worker(monkeypatch: pytest.MonkeyPatch) -> RebalancingThreadWorker:
    """The worker without a server around it: gthread's own handling answers whether gunicorn
    would keep the connection open (it closes when the request says it must)."""

    def keeps_open(self: ThreadWorker, req: Any, conn: Any) -> bool:
        return not req.must_close

    monkeypatch.setattr(ThreadWorker, "handle_request", keeps_open)
    instance = object.__new__(RebalancingThreadWorker)
    monkeypatch.setattr(instance, "max_requests_per_connection", 3)
    return instance


def requests_until_closed(worker: RebalancingThreadWorker, conn: Any, limit: int = 10) -> int:
    for served in range(1, limit + 1):
        if not worker.handle_request(SimpleNamespace(must_close=False), conn):
            return served
    return limit + 1


def test_a_keep_alive_connection_is_closed_after_so_many_requests(worker):
    """So that connections made in a burst onto one worker spread over the workers again."""
    first, second = SimpleNamespace(), SimpleNamespace()
    assert requests_until_closed(worker, first) == 3
    assert requests_until_closed(worker, second) == 3  # counted per connection


def test_without_a_limit_connections_stay_open(worker, monkeypatch):
    monkeypatch.setattr(worker, "max_requests_per_connection", 0)
    assert requests_until_closed(worker, SimpleNamespace()) == 11


def test_production_ini_spreads_connections_over_the_workers():
    from tests.conftest import ROOT

    options = server_options(ROOT / "production.ini")
    assert options["worker_class"] == "portal.serving.RebalancingThreadWorker"
    assert int(options["max_requests_per_connection"]) > 0
    # a worker takes no more than its share of the connections the node serves at once
    assert int(options["worker_connections"]) < 1000


def test_a_new_worker_asks_itself_for_the_warm_up_pages_before_serving():
    """What the first visitors would otherwise wait for (templates, catalogue snapshot) is built
    by the worker's own requests; one failing page does not keep the worker from serving."""
    from portal.serving import warm_up_worker

    asked: list[str] = []
    beats: list[int] = []

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        asked.append(environ["PATH_INFO"] + ("?" + environ["QUERY_STRING"] if environ["QUERY_STRING"] else ""))
        if environ["PATH_INFO"] == "/broken":
            raise RuntimeError("database down")
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    worker = SimpleNamespace(wsgi=app, notify=lambda: beats.append(1))
    warm_up_worker(worker, ["/", "/broken", "/search?q=%E4%BA%95"])
    assert asked == ["/", "/broken", "/search?q=%E4%BA%95"]
    assert len(beats) >= 3  # the master hears from the worker while it warms


def test_production_ini_warms_every_kind_of_public_page():
    from tests.conftest import ROOT

    paths = server_options(ROOT / "production.ini")["warm_up_paths"].split()
    for page in ("/", "/catalogue/lookup", "/regulations", "/rulings", "/bulletins", "/cases", "/track"):
        assert page in paths
    assert any(p.startswith("/search?q=") for p in paths)
    assert any(p.startswith("/api/v1/") for p in paths) and any(p.startswith("/open311/") for p in paths)


def test_the_node_is_ready_once_every_worker_is_and_stays_ready(monkeypatch):
    """/healthz must not let the balancer send everything to the first worker while the
    others still load; a worker recycled later does not take the node out of the pool."""
    import portal.serving
    from portal.serving import WorkerReadiness, worker_started, workers_health

    monkeypatch.setattr(portal.serving, "readiness", WorkerReadiness(2))
    worker = SimpleNamespace(wsgi=None, notify=lambda: None)
    assert workers_health() == {"ok": False, "ready": 0, "expected": 2}
    worker_started(worker, [])
    assert workers_health() == {"ok": False, "ready": 1, "expected": 2}
    worker_started(worker, [])
    assert workers_health() == {"ok": True, "ready": 2, "expected": 2}
    worker_started(worker, [])  # a recycled worker
    assert workers_health()["ok"] is True


def test_outside_gunicorn_there_is_no_worker_check(monkeypatch):
    import portal.serving
    from portal.serving import workers_health

    monkeypatch.setattr(portal.serving, "readiness", None)
    assert workers_health() is None


def test_warming_compiles_every_template_under_the_name_the_renderers_use(app):
    from pyramid_jinja2 import IJinja2Environment

    from portal.serving import compile_templates
    from tests.conftest import ROOT

    environment = app.registry.queryUtility(IJinja2Environment, name=".jinja2")
    environment.cache.clear()
    compiled = compile_templates(app)
    assert compiled == len(list((ROOT / "templates").rglob("*.jinja2"))) > 20
    assert environment.get_template("search/search.jinja2") is environment.get_template("search/search.jinja2")
    assert len(environment.cache) >= compiled
