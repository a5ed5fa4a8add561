"""Dispatch assistant benchmark: a whole suggestion (item types, place, responsibility, regulations).

    .venv/bin/python bench/bench_dispatch.py [--config development.ini] [--passes 3] [--port 6591]

Runs against the database and search index that ``portal init`` (``make run``) leaves: the
national-law pack and the corpus in the index, the demo catalogue, 20,000 demo cases. The
complaints are those of ``../shared/eval/dispatch_dev.tsv`` and ``bench/dispatch_holdout.tsv``,
each asked three ways (text alone, with an area code, with a point), so 312 distinct requests.

1. in process: ``GET /api/v1/dispatch/suggest`` through the WSGI application (every tween,
   the view, JSON rendering; no socket), first pass over the distinct requests (nothing cached
   but the ranker, built at the first request) and steady state; target p95 <= 30 ms;
2. over HTTP: the same requests against waitress in a separate process, one keep-alive client;
   target p95 <= 60 ms.

Exits 1 when a target is missed. Not a timed test: figures depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import csv
import http.client
import json
import multiprocessing
import os
import random
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

FILES = (ROOT.parent / "shared" / "eval" / "dispatch_dev.tsv", ROOT / "bench" / "dispatch_holdout.tsv")
POINTS = ((30.2336, 120.0860), (30.2200, 120.1100), (30.1900, 120.0700), (30.2100, 120.1300))


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1))))]


def requests_to_make() -> list[dict[str, str]]:
    texts = []
    for path in FILES:
        if path.exists():
            with path.open(encoding="utf-8") as handle:
                texts += [row["text"] for row in csv.DictReader(handle, delimiter="\t")]
    rng = random.Random(5)
    out = []
    for i, text in enumerate(texts):
        out.append({"text": text})
        out.append({"text": text, "area": rng.choice(("330199001", "33019900101002", "3301990010100101", "330199006"))})
        lat, lon = POINTS[i % len(POINTS)]
        out.append({"text": text, "lat": str(lat), "lon": str(lon)})
    return out


def summary(label: str, values: list[float]) -> dict[str, float]:
    figures = {"n": len(values), "p50": statistics_median(values), "p95": percentile(values, 95),
               "p99": percentile(values, 99), "max": max(values)}
    print(f"{label}: n={figures['n']} p50 {figures['p50']:.1f} ms  p95 {figures['p95']:.1f} ms  "
          f"p99 {figures['p99']:.1f} ms  max {figures['max']:.1f} ms")
    return figures


def statistics_median(values: list[float]) -> float:
    return percentile(values, 50)


def build_app(config: str):
    """The application of ``config`` with the rate limit lifted (one client asks thousands of times)."""
    from pyramid.paster import get_appsettings

    from portal import main

    settings = dict(get_appsettings(str(ROOT / config)))
    settings["ratelimit.anonymous_per_minute"] = "100000000"
    return main({"__file__": str(ROOT / config), "here": str(ROOT)}, **settings)


def in_process(config: str, requests: list[dict[str, str]], passes: int) -> dict[str, dict[str, float]]:
    import webtest

    started = time.perf_counter()
    wsgi = build_app(config)
    # the start-up warm-up (ranker, examples, one search per item type) runs in the background
    wsgi.registry["dispatch.engine"].warmed.wait(120)
    print(f"start-up and warm-up: {(time.perf_counter() - started) * 1000:.0f} ms")
    app = webtest.TestApp(wsgi, extra_environ={"REMOTE_ADDR": "10.9.9.9"})
    started = time.perf_counter()
    app.get("/api/v1/dispatch/suggest", params={"text": "井盖坏了"})
    print(f"first request: {(time.perf_counter() - started) * 1000:.0f} ms")
    cold, warm, cold_cpu, warm_cpu = [], [], [], []
    for round_ in range(1 + passes):
        order = list(requests)
        random.Random(round_).shuffle(order)
        for params in order:
            t, c = time.perf_counter(), time.thread_time()
            response = app.get("/api/v1/dispatch/suggest", params=params)
            (cold if round_ == 0 else warm).append((time.perf_counter() - t) * 1000)
            # CPU time of this thread: what the request costs, whatever else the machine runs
            (cold_cpu if round_ == 0 else warm_cpu).append((time.thread_time() - c) * 1000)
            assert response.json["item_types"] is not None
    return {"cold": summary("in process, first pass", cold), "warm": summary("in process, steady state", warm),
            "cold_cpu": summary("in process, first pass, CPU time", cold_cpu),
            "warm_cpu": summary("in process, steady state, CPU time", warm_cpu)}


def _serve(config: str, port: int) -> None:
    import logging

    import waitress

    logging.disable(logging.CRITICAL)
    app = build_app(config)
    app.registry["dispatch.engine"].warmed.wait(120)
    waitress.serve(app, host="127.0.0.1", port=port, threads=4, _quiet=True)


def over_http(config: str, requests: list[dict[str, str]], passes: int, port: int) -> dict[str, dict[str, float]]:
    server = multiprocessing.Process(target=_serve, args=(config, port), daemon=True)
    server.start()
    try:
        deadline = time.time() + 180
        while True:
            try:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                connection.request("GET", "/api/v1/dispatch/suggest?" + urlencode({"text": "井盖坏了"}))
                connection.getresponse().read()
                break
            except OSError:
                if time.time() > deadline:
                    raise
                time.sleep(0.3)
        cold, warm = [], []
        for round_ in range(1 + passes):
            order = list(requests)
            random.Random(100 + round_).shuffle(order)
            for params in order:
                t = time.perf_counter()
                connection.request("GET", "/api/v1/dispatch/suggest?" + urlencode(params))
                response = connection.getresponse()
                body = response.read()
                (cold if round_ == 0 else warm).append((time.perf_counter() - t) * 1000)
                assert response.status == 200, body[:200]
        return {"cold": summary("HTTP, first pass", cold), "warm": summary("HTTP, steady state", warm)}
    finally:
        server.terminate()
        server.join(5)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", default="development.ini")
    parser.add_argument("--passes", type=int, default=3)
    parser.add_argument("--port", type=int, default=6591)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    requests = requests_to_make()
    print(f"{len(requests)} distinct requests; load average {os.getloadavg()[0]:.2f}")
    local = in_process(args.config, requests, args.passes)
    remote = over_http(args.config, requests, args.passes, args.port)
    if args.json:
        print(json.dumps({"in_process": local, "http": remote}, indent=2))
    ok = max(local["cold"]["p95"], local["warm"]["p95"]) <= 30 and max(remote["cold"]["p95"], remote["warm"]["p95"]) <= 60
    print("targets (p95 <= 30 ms in process, <= 60 ms over HTTP):", "met" if ok else "MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
