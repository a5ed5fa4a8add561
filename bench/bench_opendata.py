"""Open-data bulk exports at scale: a million disclosed cases streamed as CSV and JSON Lines.

    .venv/bin/python bench/bench_opendata.py                  # 1,000,000 cases
    .venv/bin/python bench/bench_opendata.py --reuse          # keep the database of the last run
    .venv/bin/python bench/bench_opendata.py --cases 200000   # a quicker look
    .venv/bin/python bench/bench_opendata.py --database-url postgresql://postgres@127.0.0.1/portal_bench_export

The database: SQLite under ``--var`` (default ``/tmp/portal-bench-opendata``), or with
``--database-url`` a PostgreSQL database that the benchmark drops and creates itself through the
server's ``postgres`` database (kept with ``--reuse``). ``--seed-cases`` (50,000) deterministic
demo cases imported exactly as ``portal import-cases`` does (``bench_cases.prepare``), then copied
with new ids (and new external ids) until ``--cases`` rows exist; their feedback is copied too
(one ``INSERT … SELECT`` over ``generate_series`` on PostgreSQL, the same rows as SQLite's copy
loop, so both databases hold the same cases and give the same bytes). The copies are real rows of
the real tables, so the export reads what it would read in production; only the variety of texts
is smaller.

Each export runs in a child process that builds the WSGI app and consumes the live route's
response (``/opendata/cases.csv`` and ``/opendata/cases.jsonl``) chunk by chunk through the
complete Pyramid stack, with no socket, counting rows and bytes; peak RSS is the child's
own high-water mark (``VmHWM``: not ``ru_maxrss``, which Linux carries over an ``exec`` from the
forked copy of the parent, so a parent that had imported the seed cases showed its own size). On PostgreSQL the CPU of the server's
backends serving the child (same machine, ``/proc``) is read too: that work runs beside the
child's on the other core. Targets (issue 16): ≥ 50,000 rows/s and
peak RSS < 300 MB.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

TARGET_RATE = 50_000
TARGET_RSS_MB = 300


def replicate(settings: dict, target: int) -> int:
    """Copy the stored cases (and their feedback) with fresh ids until ``target`` rows exist."""
    from sqlalchemy import func, select

    from portal.cases.models import Case, Feedback
    from portal.db import get_engine

    engine = get_engine(settings)
    if engine.dialect.name == "postgresql":
        try:
            return replicate_postgresql(engine, target)
        finally:
            engine.dispose()
    with engine.begin() as conn:
        present = conn.scalar(select(func.count()).select_from(Case.__table__))
        seed_max = conn.scalar(select(func.max(Case.id)))
        seed_count = present
        columns = [c.name for c in Case.__table__.columns]
        fb_columns = [c.name for c in Feedback.__table__.columns]
        copy = 1
        while present < target:
            offset = copy * seed_max
            limit = min(seed_count, target - present)
            values = []
            for name in columns:
                if name == "id":
                    values.append(f"id + {offset}")
                elif name == "external_id":
                    values.append(f"CASE WHEN external_id IS NULL THEN NULL ELSE external_id || '-c{copy}' END")
                elif name == "tracking_hash":
                    values.append("NULL")
                else:
                    values.append(name)
            conn.exec_driver_sql(
                f"INSERT INTO cases ({', '.join(columns)}) SELECT {', '.join(values)} FROM cases "
                f"WHERE id <= {seed_max} ORDER BY id LIMIT {limit}")
            fb_values = [f"case_id + {offset}" if n == "case_id" else n for n in fb_columns]
            conn.exec_driver_sql(
                f"INSERT INTO case_feedback ({', '.join(fb_columns)}) SELECT {', '.join(fb_values)} "
                f"FROM case_feedback WHERE case_id IN (SELECT id FROM cases WHERE id <= {seed_max} "
                f"ORDER BY id LIMIT {limit})")
            present += limit
            copy += 1
            print(f"  {present:>9,} cases", flush=True)
        conn.exec_driver_sql("ANALYZE")
    engine.dispose()
    return present


def replicate_postgresql(engine, target: int) -> int:
    """:func:`replicate` in two set-based statements: copy ``n`` of the seed case ``k`` (``k``-th
    by id) gets id ``id + n * max(id)`` and exists while ``(n - 1) * seeds + k <= target - seeds``,
    exactly the rows SQLite's loop copies."""
    from sqlalchemy import text

    from portal.cases.models import Case, Feedback

    columns = [c.name for c in Case.__table__.columns]
    fb_columns = [c.name for c in Feedback.__table__.columns]
    with engine.begin() as conn:
        present, seed_max = conn.execute(text("SELECT count(*), coalesce(max(id), 0) FROM cases")).one()
        if present >= target or not present:
            return present
        wanted = target - present
        copies = -(-wanted // present)
        values = []
        for name in columns:
            if name == "id":
                values.append(f"s.id + g.n * {seed_max}")
            elif name == "external_id":
                values.append("s.external_id || '-c' || g.n")
            elif name == "tracking_hash":
                values.append("NULL")
            else:
                values.append(f's."{name}"')
        seeds = (f"(SELECT id, row_number() OVER (ORDER BY id) AS k FROM cases) AS r "
                 f"CROSS JOIN generate_series(1, {copies}) AS g(n)")
        chosen = f"(g.n - 1) * {present} + r.k <= {wanted}"
        quoted = [f'"{name}"' for name in columns]
        fb_quoted = [f'"{name}"' for name in fb_columns]
        conn.exec_driver_sql("SET LOCAL synchronous_commit = off")
        started = time.perf_counter()
        conn.exec_driver_sql(
            f"INSERT INTO cases ({', '.join(quoted)}) SELECT {', '.join(values)} "
            f"FROM {seeds} JOIN cases AS s ON s.id = r.id WHERE {chosen}")
        fb_values = [f"f.case_id + g.n * {seed_max}" if n == "case_id" else f'f."{n}"' for n in fb_columns]
        conn.exec_driver_sql(
            f"INSERT INTO case_feedback ({', '.join(fb_quoted)}) SELECT {', '.join(fb_values)} "
            f"FROM {seeds} JOIN case_feedback AS f ON f.case_id = r.id WHERE {chosen}")
        conn.exec_driver_sql("SELECT setval(pg_get_serial_sequence('cases', 'id'), (SELECT max(id) FROM cases))")
        total = conn.scalar(text("SELECT count(*) FROM cases"))
        print(f"  {total:>9,} cases (copied in {time.perf_counter() - started:.0f} s)", flush=True)
    # A table loaded in one go, as a production table settled by autovacuum: hint bits and the
    # visibility map set, statistics fresh (otherwise the first export pays for writing them).
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM ANALYZE cases")
        conn.exec_driver_sql("VACUUM ANALYZE case_feedback")
    return total


def postgresql_database(url: str, reuse: bool) -> None:
    """Create the benchmark's PostgreSQL database (dropped first unless reused) through the
    server's ``postgres`` database; refuses the test suite's database."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from portal.settings import normalise_database_url

    target = make_url(normalise_database_url(url))
    name = target.database
    if not name or name in {"postgres", "test", "template0", "template1"} or not name.replace("_", "").isalnum():
        raise SystemExit(f"refusing to drop and create the database {name!r}: name a benchmark database")
    admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name})
        if exists and not reuse:
            conn.exec_driver_sql(f'DROP DATABASE "{name}" WITH (FORCE)')
            exists = None
        if not exists:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    admin.dispose()


def bench_settings(var: str | Path, database_url: str | None) -> dict:
    from bench_cases import settings_for

    from portal.settings import normalise_database_url

    settings = settings_for(Path(var))
    if database_url:
        settings["sqlalchemy.url"] = normalise_database_url(database_url)
    return settings


def backend_cpu(database_url: str | None) -> float | None:
    """CPU seconds of the PostgreSQL backends now serving the benchmark's database (the child's
    pooled connections stay open until it exits, so this is all they did for it)."""
    if not database_url:
        return None
    from served_portal import cpu_seconds, database_backends

    return cpu_seconds(database_backends(database_url))


def peak_rss_kb() -> int:
    """This process's peak resident set (kB) since its ``exec``."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def export_child(var: str, path: str, digest: bool = False, database_url: str | None = None,
                 gzipped: bool = False) -> None:
    """Run in a child process: consume one export through the app, print figures as JSON."""
    import webtest

    from portal import main

    settings = bench_settings(var, database_url)
    app = main({}, **settings)
    test = webtest.TestApp(app, extra_environ={"HTTP_HOST": "bench.local", "REMOTE_ADDR": "127.0.0.1"})
    before = peak_rss_kb()
    started = time.perf_counter()
    cpu_started = time.process_time()
    # webtest would join the whole body in memory; drive the WSGI app directly, chunk by chunk.
    from webob import Request

    request = Request.blank(path, environ={"HTTP_HOST": "bench.local", "REMOTE_ADDR": "127.0.0.1"})
    if gzipped:
        # What browsers, curl --compressed and Python's requests send: the route compresses as it goes.
        request.headers["Accept-Encoding"] = "gzip"
    status_holder = {}

    def start_response(status, headers, exc_info=None):
        status_holder["status"] = status
        status_holder["headers"] = headers

    body = test.app(request.environ, start_response)
    size = rows = 0
    sha = hashlib.sha256() if digest else None
    first_byte = None
    try:
        for chunk in body:
            if first_byte is None:
                first_byte = time.perf_counter() - started
            size += len(chunk)
            if sha is not None:
                sha.update(chunk)
            rows += chunk.count(b"\n")
    finally:
        if hasattr(body, "close"):
            body.close()
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    peak = peak_rss_kb()
    database_cpu = backend_cpu(database_url)
    # Line breaks inside quoted cells make newline counts approximate: the route names its rows.
    declared = dict(status_holder.get("headers") or []).get("X-Row-Count")
    rows = int(declared) + (1 if ".csv" in path else 0) if declared is not None else rows
    print(json.dumps({"path": path + (" (gzip)" if gzipped else ""), "status": status_holder.get("status"), "rows": rows, "bytes": size,
                      "seconds": elapsed, "cpu": cpu, "first_byte": first_byte,
                      "rss_before_mb": before / 1024, "peak_rss_mb": peak / 1024,
                      "load": os.getloadavg(), "database_cpu": database_cpu,
                      "sha256": sha.hexdigest() if sha is not None else None}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--seed-cases", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=20260701)
    parser.add_argument("--var", default=os.environ.get("BENCH_OPENDATA_VAR", "/tmp/portal-bench-opendata"))
    parser.add_argument("--reuse", action="store_true", help="keep the database of the previous run")
    parser.add_argument("--prepare-only", action="store_true")
    parser.add_argument("--paths", default="/opendata/cases.csv,/opendata/cases.jsonl",
                        help="comma-separated export routes to measure")
    parser.add_argument("--sha256", action="store_true",
                        help="hash each body (compare two versions' output; adds ~1.5 s CPU a million rows)")
    parser.add_argument("--database-url", help="a PostgreSQL database to build and read instead of SQLite "
                        "(dropped and created unless --reuse), e.g. postgresql://postgres@127.0.0.1/portal_bench_export")
    parser.add_argument("--rounds", type=int, default=1, help="measure each route this many times")
    parser.add_argument("--gzip", action="store_true", help="also measure each route asked for gzip (Accept-Encoding)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--gzipped", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        export_child(args.var, args.child, args.sha256, args.database_url, args.gzipped)
        return
    from bench_cases import prepare

    var = Path(args.var)
    if not args.reuse and var.exists():
        import shutil

        shutil.rmtree(var)
    var.mkdir(parents=True, exist_ok=True)
    if args.database_url:
        postgresql_database(args.database_url, args.reuse)
    settings = bench_settings(var, args.database_url)
    engine_name = "PostgreSQL" if settings["sqlalchemy.url"].startswith("postgresql") else "SQLite"
    prepare(settings, args.seed_cases, args.seed, var / "cases.jsonl")
    total = replicate(settings, args.cases)
    print(f"{total:,} cases stored")
    if args.prepare_only:
        return
    results = []
    for _ in range(args.rounds):
        for path, gzipped in [(p, z) for p in args.paths.split(",") for z in ((False, True) if args.gzip else (False,))]:
            load_before = os.getloadavg()
            out = subprocess.run([sys.executable, __file__, "--var", str(var), "--child", path,
                                  *(["--sha256"] if args.sha256 else []), *(["--gzipped"] if gzipped else []),
                                  *(["--database-url", args.database_url] if args.database_url else [])],
                                 check=True, capture_output=True, text=True).stdout
            figures = json.loads(out.strip().splitlines()[-1])
            figures["load_before"] = load_before
            results.append(figures)
            print(f"  {figures['path']}: {figures['seconds']:.1f} s, CPU {figures['cpu']:.1f} s", flush=True)
    print()
    print(f"## open-data export benchmark ({total:,} cases stored, {engine_name}, {os.cpu_count()} cores, "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})")
    ok = True
    for f in results:
        data_rows = f["rows"] - (1 if ".csv" in f["path"] else 0)
        rate = data_rows / f["seconds"]
        ok &= rate >= TARGET_RATE and f["peak_rss_mb"] < TARGET_RSS_MB
        print(f"- `{f['path']}` ({f['status']}): {data_rows:,} rows, {f['bytes'] / 1e6:,.0f} MB in {f['seconds']:.1f} s "
              f"= **{rate:,.0f} rows/s** (CPU {data_rows / f['cpu']:,.0f} rows per CPU second); first byte after "
              f"{(f['first_byte'] or 0) * 1000:.0f} ms; peak RSS **{f['peak_rss_mb']:.0f} MB** (app built: "
              f"{f['rss_before_mb']:.0f} MB); load average {f['load_before'][0]:.1f} before, {f['load'][0]:.1f} after"
              + (f"; PostgreSQL backends {f['database_cpu']:.1f} s CPU" if f.get("database_cpu") is not None else "")
              + (f"; sha256 {f['sha256']}" if f["sha256"] else ""))
    print("targets met" if ok else "TARGETS MISSED")


if __name__ == "__main__":
    main()
