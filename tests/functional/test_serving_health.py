"""/healthz under `portal serve`: a node is ready for the balancer once all its workers are."""

from __future__ import annotations

import pytest

import portal.serving
from portal.serving import WorkerReadiness


def test_health_waits_for_every_worker_of_the_node(testapp, monkeypatch: pytest.MonkeyPatch):
    readiness = WorkerReadiness(2)
    monkeypatch.setattr(portal.serving, "readiness", readiness)
    readiness.worker_ready()
    starting = testapp.get("/healthz", status=503)
    assert starting.json["status"] == "unavailable"
    assert starting.json["checks"]["workers"] == {"ok": False, "ready": 1, "expected": 2}
    readiness.worker_ready()
    ready = testapp.get("/healthz", status=200)
    assert ready.json["status"] == "ok" and ready.json["checks"]["workers"]["ok"] is True
