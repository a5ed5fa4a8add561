"""Catalogue benchmark: the dispatch look-up with ~20,000 duties over the 364 grids.

    .venv/bin/python bench/bench_catalogue.py [--duties 20000] [--requests 3000] [--threads 4]
                                              [--database-url URL] [--keep DIR]

Builds a fresh database (SQLite in a temporary directory unless ``--database-url`` names a
PostgreSQL database), loads the demo knowledge base and the regulations it cites, and adds
synthetic grid-level duties until about ``--duties`` published duties exist. Then it measures:

1. ``resolve`` in process (the service the API uses, snapshot and legal-basis caches warm):
   p50 / p95 / p99 over random (item type, grid) pairs, target p95 <= 2 ms;
2. point location: the bare ``GridLocator`` and the service's ``locate`` over random points in
   the district, target p95 <= 1 ms;
3. HTTP throughput of ``GET /api/v1/responsibility`` against a trivial JSON view mounted in the
   same application (same tweens: transaction, access log, rate limits, API guard), both served
   by waitress in a separate process and driven by keep-alive client threads, target >= 60 %.

Exits 1 when a target is missed. Not a timed test: figures depend on the machine.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import multiprocessing
import os
import random
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

LAWS = ROOT.parent / "shared" / "corpus" / "laws"
TRIVIAL_PATH = "/api/v1/_bench/ping"


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def settings_for(var_dir: Path, database_url: str | None) -> dict:
    from portal.settings import complete_settings

    settings = {
        "portal.var_dir": str(var_dir),
        "portal.knowledge_base": str(ROOT / "knowledge_base"),
        "portal.corpus_dir": str(LAWS) if LAWS.is_dir() else "",
        "portal.lawpack": "false",
        "portal.search.warm_up": "false",
        "portal.search.heal_on_start": "false",
        "session.secret": "bench-secret",
        "ratelimit.anonymous_per_minute": "100000000",
        "ratelimit.apikey_per_minute": "100000000",
        "retry.attempts": "1",
        "pyramid.reload_templates": "false",
    }
    if database_url:
        settings["sqlalchemy.url"] = database_url
    return dict(complete_settings(settings))


# ----------------------------------------------------------------------------- data


def build_database(settings: dict, target_duties: int, seed: int = 7) -> dict:
    from sqlalchemy import func, insert, select
    from sqlalchemy.orm import Session

    from portal.catalogue.loader import load_catalogue
    from portal.catalogue.models import Agency, Area, Duty, ItemType
    from portal.db import get_engine, utcnow
    from portal.migrate import upgrade

    upgrade(settings)
    engine = get_engine(settings)
    started = time.perf_counter()
    with Session(engine) as session:
        if LAWS.is_dir():
            from portal.regulations.importing import import_paths

            import_paths(session, sorted(LAWS.glob("*.md")), source="corpus")
            session.commit()
    laws_seconds = time.perf_counter() - started
    started = time.perf_counter()
    with Session(engine) as session:
        load_catalogue(session, ROOT / "knowledge_base")
        session.commit()
    kb_seconds = time.perf_counter() - started

    rng = random.Random(seed)
    started = time.perf_counter()
    with Session(engine) as session:
        existing = session.scalar(select(func.count()).select_from(Duty)) or 0
        grids = list(session.scalars(select(Area.id).where(Area.level == "grid").order_by(Area.id)))
        items = list(session.scalars(select(ItemType.id).order_by(ItemType.id)))
        agencies = list(session.scalars(select(Agency.id).order_by(Agency.id)))
        citations = [["《城市道路管理条例》第二十三条"], ["《城镇排水与污水处理条例》第十六条"],
                     ["《城市市容和环境卫生管理条例》第十二条", "《浙江省综合行政执法条例》第八条"],
                     ["《城市绿化条例》第十七条"], ["《物业管理条例》第三十五条第一款"]]
        used: set[tuple[int, int, str]] = set()
        rows = []
        now = utcnow()
        while existing + len(rows) < target_duties:
            key = (rng.choice(items), rng.choice(grids), rng.choice(("owner", "maintainer", "supervisor", "enforcer")))
            if key in used:
                continue
            used.add(key)
            rows.append({
                "item_type_id": key[0], "area_id": key[1], "role": key[2], "agency_id": rng.choice(agencies),
                "citations": rng.choice(citations), "note": "bench", "valid_from": dt.date(2024, 1, 1),
                "source_kind": "regulation", "source_ref": "", "state": "published", "published_at": now,
                "conflict_forced": False, "conflict_note": "", "created_at": now, "updated_at": now,
                "basis_reviewed_on": dt.date(2025, 1, 1),
            })
        for start in range(0, len(rows), 2000):
            session.execute(insert(Duty), rows[start:start + 2000])
        # the bulk insert bypasses the ORM, so move the catalogue token by hand
        from portal.catalogue.models import CatalogueState

        state = session.get(CatalogueState, 1)
        state.token = f"bench-{time.time()}"
        session.commit()
        total = session.scalar(select(func.count()).select_from(Duty).where(Duty.state == "published"))
    engine.dispose()
    return {"laws_seconds": round(laws_seconds, 1), "kb_seconds": round(kb_seconds, 1),
            "synthetic_seconds": round(time.perf_counter() - started, 1), "published_duties": total}


# ----------------------------------------------------------------------------- in process


def bench_in_process(settings: dict, samples: int, seed: int = 11) -> dict:
    from portal.catalogue.geo import GridLocator
    from portal.catalogue.legal import article_lookup_for_session
    from portal.catalogue.services import CatalogueService, ResponsibilityService, caches, freshness_gate
    from portal.config import configure
    from portal.errors import PortalError

    registry = configure(dict(settings)).make_wsgi_app().registry
    snapshot_cache, legal_cache = caches(registry)
    session = registry["dbsession_factory"]()
    # as the API serves it: snapshot and legal-basis caches, freshness read through the gate
    gate = freshness_gate(registry)
    service = ResponsibilityService(session, snapshot_cache=snapshot_cache, legal_cache=legal_cache,
                                    article_lookup=article_lookup_for_session(session), freshness_check=gate)
    # and with a database round trip for the freshness token on every call
    strict = ResponsibilityService(session, snapshot_cache=snapshot_cache, legal_cache=legal_cache,
                                   article_lookup=article_lookup_for_session(session))
    catalogue = CatalogueService(session, snapshot_cache, gate)
    snap = catalogue.snapshot()
    rng = random.Random(seed)
    grids = [a.code for a in snap.grids()]
    items = [i.key for i in snap.items.values()]
    at = dt.date(2025, 7, 1)
    reported = dt.datetime(2025, 7, 1, 10, 0, tzinfo=dt.UTC)

    started = time.perf_counter()
    snapshot_cache.clear()
    catalogue.snapshot()
    snapshot_seconds = time.perf_counter() - started

    for _ in range(300):  # warm the legal-basis cache (what a running server has)
        service.resolve(rng.choice(items), area=rng.choice(grids), at=at, reported_at=reported)
    timings = []
    roles = 0
    for _ in range(samples):
        item, grid = rng.choice(items), rng.choice(grids)
        t0 = time.perf_counter()
        answer = service.resolve(item, area=grid, at=at, reported_at=reported)
        timings.append((time.perf_counter() - t0) * 1000)
        roles += len(answer["roles"])
    strict_timings = []
    for _ in range(samples // 2):
        item, grid = rng.choice(items), rng.choice(grids)
        t0 = time.perf_counter()
        strict.resolve(item, area=grid, at=at, reported_at=reported)
        strict_timings.append((time.perf_counter() - t0) * 1000)
    # the demo components with all four roles, the case dispatchers meet most
    components = [i.key for i in snap.items.values() if i.scheme == "gbt30428"]
    component_timings = []
    for _ in range(samples // 2):
        item, grid = rng.choice(components), rng.choice(grids)
        t0 = time.perf_counter()
        service.resolve(item, area=grid, at=at, reported_at=reported)
        component_timings.append((time.perf_counter() - t0) * 1000)

    locator: GridLocator = snap.locator(session)
    minx, miny, maxx, maxy = locator.bounds
    points = [(rng.uniform(miny, maxy), rng.uniform(minx, maxx)) for _ in range(samples * 4)]
    bare = []
    found = 0
    for lat, lon in points:
        t0 = time.perf_counter()
        code = locator.locate(lat, lon)
        bare.append((time.perf_counter() - t0) * 1000)
        found += code is not None
    service_locate = []
    for lat, lon in points[:samples]:
        t0 = time.perf_counter()
        try:
            catalogue.locate(lat, lon)
        except PortalError:  # outside the district
            pass
        service_locate.append((time.perf_counter() - t0) * 1000)
    point_resolve = []
    for lat, lon in points[:samples // 2]:
        t0 = time.perf_counter()
        try:
            service.resolve(rng.choice(components), lat=lat, lon=lon, at=at, reported_at=reported)
        except PortalError:  # outside the district, or no duty for the item type there
            pass
        point_resolve.append((time.perf_counter() - t0) * 1000)
    session.close()

    def stats(values):
        return {"p50": round(percentile(values, 50), 3), "p95": round(percentile(values, 95), 3),
                "p99": round(percentile(values, 99), 3), "mean": round(statistics.fmean(values), 3)}

    return {
        "snapshot_build_seconds": round(snapshot_seconds, 3),
        "resolve_ms": stats(timings),
        "resolve_components_ms": stats(component_timings),
        "resolve_db_roundtrip_ms": stats(strict_timings),
        "resolve_by_point_ms": stats(point_resolve),
        "mean_roles_per_answer": round(roles / samples, 2),
        "locate_bare_ms": stats(bare),
        "locate_service_ms": stats(service_locate),
        "points_inside": round(found / len(points), 3),
    }


# ----------------------------------------------------------------------------- HTTP


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(settings: dict, port: int, threads: int) -> None:
    import logging

    logging.disable(logging.CRITICAL)
    import waitress

    from portal.config import configure

    config = configure(dict(settings))
    config.add_route("bench.ping", TRIVIAL_PATH)
    config.add_view(lambda request: {"ok": True}, route_name="bench.ping", renderer="json",
                    request_method="GET")
    app = config.make_wsgi_app()
    waitress.serve(app, host="127.0.0.1", port=port, threads=threads, _quiet=True,
                   connection_limit=200, channel_timeout=60)


def _drive(port: int, paths: list[str], threads: int) -> tuple[float, list[float], int]:
    """Send every path once, split over ``threads`` keep-alive connections."""
    chunks = [paths[i::threads] for i in range(threads)]
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()

    def worker(chunk: list[str]) -> None:
        nonlocal errors
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        local, bad = [], 0
        for path in chunk:
            t0 = time.perf_counter()
            conn.request("GET", path, headers={"Host": "127.0.0.1", "Connection": "keep-alive"})
            response = conn.getresponse()
            response.read()
            local.append((time.perf_counter() - t0) * 1000)
            bad += response.status != 200
        conn.close()
        with lock:
            latencies.extend(local)
            errors += bad

    workers = [threading.Thread(target=worker, args=(chunk,)) for chunk in chunks]
    started = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return time.perf_counter() - started, latencies, errors


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def bench_http(settings: dict, requests: int, threads: int, rounds: int = 5, seed: int = 13) -> dict:
    from portal.catalogue.kb import read_knowledge_base

    kb = read_knowledge_base(geometry=False)
    rng = random.Random(seed)
    grids = [a.code for a in kb.areas if a.level == "grid"]
    items = [it.code for it in kb.item_types if it.scheme == "gbt30428"]
    lookups = [f"/api/v1/responsibility?item_type={rng.choice(items)}&area={rng.choice(grids)}&at=2025-07-01"
               for _ in range(requests)]
    trivial = [TRIVIAL_PATH] * requests
    port = _free_port()
    ctx = multiprocessing.get_context("spawn")
    server = ctx.Process(target=_serve, args=(settings, port, threads), daemon=True)
    server.start()
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                time.sleep(0.2)
        # warm up both (caches, templates, first-request costs), then alternate rounds
        _drive(port, lookups[:300] + trivial[:300], threads)
        # paired rounds, trivial then look-up, so both meet the same background load; the ratio
        # of each pair is kept and the median pair decides
        results = {"trivial": [], "lookup": []}
        latencies = {"trivial": [], "lookup": []}
        ratios = []
        errors = 0
        cpu = {"trivial": [], "lookup": []}
        cpu_ratios = []
        for _ in range(rounds):
            for name, paths in (("trivial", trivial), ("lookup", lookups)):
                cpu_before = _cpu_seconds(server.pid)
                seconds, lat, bad = _drive(port, paths, threads)
                cpu[name].append(len(paths) / max(_cpu_seconds(server.pid) - cpu_before, 1e-3))
                results[name].append(len(paths) / seconds)
                latencies[name].extend(lat)
                errors += bad
            ratios.append(results["lookup"][-1] / results["trivial"][-1])
            cpu_ratios.append(cpu["lookup"][-1] / cpu["trivial"][-1])
    finally:
        server.terminate()
        server.join(5)
    trivial_rps = statistics.median(results["trivial"])
    lookup_rps = statistics.median(results["lookup"])
    return {
        "client_threads": threads,
        "requests_per_round": requests,
        "trivial_rps": round(trivial_rps, 1),
        "lookup_rps": round(lookup_rps, 1),
        "ratio": round(statistics.median(ratios), 3),
        "ratios": [round(r, 3) for r in ratios],
        # requests per second of server CPU: what one core of the server sustains, independent
        # of whatever else (the client included) competes for the machine
        "trivial_per_cpu_second": round(statistics.median(cpu["trivial"]), 1),
        "lookup_per_cpu_second": round(statistics.median(cpu["lookup"]), 1),
        "cpu_ratio": round(statistics.median(cpu_ratios), 3),
        "cpu_ratios": [round(r, 3) for r in cpu_ratios],
        "lookup_latency_ms": {"p50": round(percentile(latencies["lookup"], 50), 2),
                              "p95": round(percentile(latencies["lookup"], 95), 2)},
        "trivial_latency_ms": {"p50": round(percentile(latencies["trivial"], 50), 2),
                               "p95": round(percentile(latencies["trivial"], 95), 2)},
        "errors": errors,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duties", type=int, default=20_000)
    parser.add_argument("--samples", type=int, default=5_000)
    parser.add_argument("--requests", type=int, default=1_500)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL"))
    parser.add_argument("--keep", type=Path, help="Keep the database and index in this directory.")
    parser.add_argument("--reuse", action="store_true", help="With --keep: reuse the database built before.")
    parser.add_argument("--rounds", type=int, default=9, help="Paired HTTP rounds.")
    parser.add_argument("--json", action="store_true", help="Print the figures as JSON only.")
    args = parser.parse_args(argv)

    import logging

    logging.disable(logging.WARNING)
    var_dir = args.keep or Path(tempfile.mkdtemp(prefix="bench-catalogue-"))
    var_dir.mkdir(parents=True, exist_ok=True)
    settings = settings_for(var_dir, args.database_url)
    report = {"database": settings["sqlalchemy.url"].split("://")[0], "python": sys.version.split()[0]}
    if args.reuse and args.keep and (var_dir / "portal.sqlite").exists():
        report["data"] = {"published_duties": "reused", "laws_seconds": 0, "kb_seconds": 0, "synthetic_seconds": 0}
    else:
        report["data"] = build_database(settings, args.duties)
    report["in_process"] = bench_in_process(settings, args.samples)
    report["http"] = bench_http(settings, args.requests, args.threads, args.rounds)
    checks = {
        "resolve p95 <= 2 ms": report["in_process"]["resolve_ms"]["p95"] <= 2.0,
        "locate p95 <= 1 ms": report["in_process"]["locate_bare_ms"]["p95"] <= 1.0,
        "HTTP lookup >= 60% of trivial view": report["http"]["ratio"] >= 0.60,
        "no HTTP errors": report["http"]["errors"] == 0,
    }
    report["targets"] = checks
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        data, proc, web = report["data"], report["in_process"], report["http"]
        print(f"database: {report['database']}; published duties: {data['published_duties']} "
              f"(laws {data['laws_seconds']} s, knowledge base {data['kb_seconds']} s, synthetic {data['synthetic_seconds']} s)")
        print(f"snapshot build: {proc['snapshot_build_seconds']} s")
        print(f"resolve (any item type):     {proc['resolve_ms']}  ({proc['mean_roles_per_answer']} roles/answer)")
        print(f"resolve (demo components):   {proc['resolve_components_ms']}")
        print(f"resolve, token read per call: {proc['resolve_db_roundtrip_ms']}")
        print(f"resolve by point:            {proc['resolve_by_point_ms']}")
        print(f"locate, GridLocator:         {proc['locate_bare_ms']}  ({proc['points_inside']:.0%} inside)")
        print(f"locate, service:             {proc['locate_service_ms']}")
        print(f"HTTP ({web['client_threads']} client threads, waitress {web['client_threads']} threads): "
              f"trivial {web['trivial_rps']} req/s, lookup {web['lookup_rps']} req/s, ratio {web['ratio']:.0%} "
              f"(paired rounds {web['ratios']}); "
              f"lookup latency {web['lookup_latency_ms']}, errors {web['errors']}")
        for name, ok in checks.items():
            print(f"{'PASS' if ok else 'FAIL'}  {name}")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
