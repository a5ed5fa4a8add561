"""Bulletins at scale: one month's indicators and one bulletin PDF with a million cases in SQLite.

    .venv/bin/python bench/bench_bulletins.py                 # 1,000,000 cases (import ≈ 10 minutes)
    .venv/bin/python bench/bench_bulletins.py --cases 100000  # a quicker look
    .venv/bin/python bench/bench_bulletins.py --reuse         # keep the database of the last run

The cases are deterministic demo cases (full life cycles with bounces, postponements, rework,
rejections and feedback over the last 365 days): ``--seed-cases`` of them (default 20,000, what
``make run`` makes) are generated and imported the way ``portal import-cases`` does, then copied by
SQL until there are ``--cases`` (same dates and agencies, new ids, steps and ratings copied too).
Importing a million through the validating importer takes about ten minutes on idle cores
(``bench_cases.py`` measures that); the copies give the same volumes per month for what is
measured here, in a minute. Then, for the busiest whole month:

1. **indicators**: ``BulletinService.indicators(month)`` — the district, the 9 streets and every
   agency, all counts and rates (SQL aggregation), cold and warm;
2. **the whole bulletin data**: ``compute(month)`` — the month, the month before, the same month a
   year earlier and the six-month trend, commentary and watermark;
3. **the PDF**: ``render_pdf(data)`` through the real WeasyPrint renderer, with 40 agencies and 9
   streets in the ranking tables (checked), A4, CJK fonts embedded.

Targets (issue 13): indicators of one month ≤ 2 s; a PDF with 40 agencies and 9 streets ≤ 5 s.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

TARGET_INDICATORS_S = 2.0
TARGET_PDF_S = 5.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--seed-cases", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=20260701)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--var", default=os.environ.get("BENCH_BULLETINS_VAR", "/tmp/portal-bench-bulletins"))
    parser.add_argument("--reuse", action="store_true", help="keep the database of the previous run")
    args = parser.parse_args()

    from bench_cases import bench_var, settings_for
    from sqlalchemy import func, select
    from sqlalchemy.orm import Session

    from portal.bulletins.periods import Period, months_between
    from portal.bulletins.services import BulletinService
    from portal.cases.models import Case
    from portal.cases.places import Places
    from portal.catalogue.calendar import CHINA_TZ
    from portal.db import get_engine
    from portal.pdf.weasy import WeasyPrintRenderer

    var = bench_var(args.var, reuse=args.reuse)
    settings = settings_for(var)
    engine = get_engine(settings)
    prepare(settings, engine, args.cases, args.seed_cases, args.seed)
    with Session(engine) as session:
        total = session.scalar(select(func.count()).select_from(Case))
        first, last = session.execute(select(func.min(Case.reported_at), func.max(Case.reported_at))).one()
        months = months_between(first.astimezone(CHINA_TZ).date(), last.astimezone(CHINA_TZ).date())
        # The busiest whole month (July, in the demo's seasons).
        sizes = {m: session.scalar(select(func.count()).select_from(Case).where(
            Case.reported_at >= m.start, Case.reported_at < m.end)) for m in months}
        month: Period = max(sizes, key=sizes.get)
        service = BulletinService(session, Places.of(session), settings, WeasyPrintRenderer())
        timings, cpu = [], []
        for _ in range(args.runs):
            started, cpu_started = time.perf_counter(), time.process_time()
            data = service.indicators(month)
            timings.append(time.perf_counter() - started)
            cpu.append(time.process_time() - cpu_started)  # SQLite runs in this process: its work included
        agencies = len(data["agencies"])
        started = time.perf_counter()
        full = service.compute(month)
        compute_s = time.perf_counter() - started
        # The ranking tables of the PDF: 40 agencies (the demo district has 64, not all of them with
        # cases in a month) and the 9 streets.
        full["agencies"] = full["agencies"][:40]
        pdf_timings, pdf_cpu = [], []
        for _ in range(3):
            started, cpu_started = time.perf_counter(), time.process_time()
            pdf = service.render_pdf(full)
            pdf_timings.append(time.perf_counter() - started)
            pdf_cpu.append(time.process_time() - cpu_started)
    print()
    print(f"## bulletins benchmark ({total:,} cases, SQLite, {os.cpu_count()} cores, load average "
          f"{os.getloadavg()[0]:.1f} at the end)")
    print(f"- month {month.code}: {sizes[month]:,} cases reported; {agencies} agencies and "
          f"{len(data['streets'])} streets with cases")
    print(f"- indicators of one month: first {timings[0]:.2f} s, median of {len(timings)} "
          f"**{statistics.median(timings):.2f} s** wall, {statistics.median(cpu):.2f} s CPU "
          f"(target ≤ {TARGET_INDICATORS_S:.0f} s)")
    print(f"- whole bulletin data (month, month before, year before, 6-month trend): {compute_s:.2f} s")
    print(f"- PDF with {len(full['agencies'])} agencies and {len(full['streets'])} streets: "
          f"median **{statistics.median(pdf_timings):.2f} s** wall of 3, {statistics.median(pdf_cpu):.2f} s CPU "
          f"({len(pdf) / 1e3:.0f} kB; "
          f"target ≤ {TARGET_PDF_S:.0f} s)")
    ok = statistics.median(timings) <= TARGET_INDICATORS_S and statistics.median(pdf_timings) <= TARGET_PDF_S
    print("targets met" if ok else "TARGETS MISSED (see above; other processes may share the 2 cores)")


def prepare(settings: dict, engine, count: int, seed_cases: int, seed: int) -> None:
    import contextlib
    import datetime as dt

    from sqlalchemy import func, select, text

    from portal.cases.loader import load_demo_cases
    from portal.cases.models import Case, CaseEvent, Feedback
    from portal.cases.places import Places
    from portal.catalogue.loader import load_catalogue
    from portal.db import get_session_factory, writer_engine
    from portal.migrate import upgrade

    upgrade(settings)
    factory = get_session_factory(writer_engine(engine))
    with factory() as session:
        present = session.scalar(select(func.count()).select_from(Case))
    if present >= count:
        print(f"reusing {present:,} stored cases")
        return
    with factory() as session:
        load_catalogue(session, ROOT / "knowledge_base")
        session.commit()

    @contextlib.contextmanager
    def scope():
        with factory() as session:
            yield session
            session.commit()

    started = time.perf_counter()
    end = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).date() - dt.timedelta(days=1)
    stats = load_demo_cases(scope, Places.of, seed_cases, seed, end=end, settings=settings)
    print(f"imported {stats.created:,} demo cases in {time.perf_counter() - started:.0f} s")
    started = time.perf_counter()
    with factory() as session:
        base_cases = session.scalar(select(func.max(Case.id)))
        base_events = session.scalar(select(func.max(CaseEvent.id)))
        copies = -(-count // base_cases) - 1

        def columns(table, replace):
            names = [c.name for c in table.columns]
            return ", ".join(names), ", ".join(replace.get(n, n) for n in names)

        for k in range(1, copies + 1):
            off, eoff = k * base_cases, k * base_events
            for table, replace, where in (
                (Case.__table__, {"id": f"id + {off}", "external_id": f"external_id || '-c{k}'",
                                  "tracking_hash": "NULL"}, f"id <= {base_cases}"),
                (CaseEvent.__table__, {"id": f"id + {eoff}", "case_id": f"case_id + {off}"},
                 f"case_id <= {base_cases}"),
                (Feedback.__table__, {"case_id": f"case_id + {off}"}, f"case_id <= {base_cases}"),
            ):
                names, values = columns(table, replace)
                session.execute(text(f"INSERT INTO {table.name} ({names}) SELECT {values} FROM {table.name} "
                                     f"WHERE {where}"))
            session.commit()
        session.execute(text("ANALYZE"))
        session.commit()
        total = session.scalar(select(func.count()).select_from(Case))
    print(f"copied to {total:,} cases in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
