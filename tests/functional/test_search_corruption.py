"""A search index corrupted under a running node: 503 with Retry-After, /healthz says so, every
other page keeps working, and a rebuild brings search back by itself."""

from __future__ import annotations

import os
import time

import webtest

from portal.search.interfaces import ISearchService, SearchDocument


def test_a_corrupt_index_is_detected_answered_with_503_and_rebuilt(app_settings, engine, tmp_path):
    from portal import main

    settings = dict(app_settings, **{"portal.var_dir": str(tmp_path), "portal.index_dir": str(tmp_path / "index"),
                                     "portal.search.refresh_interval": "0"})
    wsgi = main({}, **settings)
    projection = wsgi.registry["portal.search.projection"]
    projection.rebuild()
    service = wsgi.registry.getUtility(ISearchService)
    service.index([SearchDocument(doc_type="article", doc_id="7-1", title="示例条例 第一条",
                                  body="窨井盖缺失的，权属单位应当立即设置警示标志。", url="/regulations/7/articles/1")])
    app = webtest.TestApp(wsgi, extra_environ={"HTTP_HOST": "example.com"})
    assert app.get("/api/v1/search", params={"q": "窨井盖"}).json["total"] >= 1

    generation = (tmp_path / "index" / "CURRENT").read_text().strip()
    for segment in (tmp_path / "index" / generation).glob("*.seg"):
        with open(segment, "r+b") as handle:  # what a disk fault or a stray copy would do
            handle.seek(os.path.getsize(segment) // 2)
            handle.write(b"\x00" * 4096)

    broken = app.get("/api/v1/search", params={"q": "窨井盖"}, status=503)
    assert broken.json["error"]["code"] == "search_unavailable" and int(broken.headers["Retry-After"]) > 0
    app.get("/regulations", status=200)  # the rest of the portal is untouched
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        health = app.get("/healthz", expect_errors=True).json["checks"]["search_index"]
        if health.get("ok") and not health.get("rebuilding"):
            break
        time.sleep(0.2)
    assert health["ok"], health
    app.get("/api/v1/search", params={"q": "窨井盖"}, status=200)
