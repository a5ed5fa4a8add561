"""Arbitration benchmark: ruling PDF rendering, the figures page, publishing and revoking.

    .venv/bin/python bench/bench_rulings.py [--repeat 3]

Builds a fresh SQLite database in a temporary directory, loads the demo catalogue and the demo
rulings of ``knowledge_base/arbitration/``, and measures through the WSGI app:

1. ``GET /rulings/{id}.pdf`` (template + WeasyPrint, CJK font subset embedded) per ruling;
2. ``GET /api/v1/rulings/stats`` (figures per item type and street with the bounce windows);
3. ``revoke`` then ``publish`` again of one ruling in process (``revoke_ruling`` +
   ``apply_ruling``: the catalogue writes of a ruling).

Not a timed test: figures depend on the machine (record them in bench/RESULTS.md).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def _pages(pdf: bytes) -> str:
    """Page count through poppler's pdfinfo (WeasyPrint compresses its object streams)."""
    import shutil
    import subprocess

    if shutil.which("pdfinfo") is None:
        return "?"
    out = subprocess.run(["pdfinfo", "-"], input=pdf, capture_output=True, check=False).stdout.decode()
    return next((line.split()[-1] for line in out.splitlines() if line.startswith("Pages:")), "?")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    import webtest
    from pyramid.paster import get_appsettings
    from sqlalchemy.orm import Session

    from portal import main as make_app
    from portal.arbitration.loader import load_arbitration
    from portal.arbitration.models import Ruling
    from portal.arbitration.services import ArbitrationService
    from portal.catalogue.loader import load_catalogue
    from portal.db import get_engine
    from portal.migrate import upgrade
    from portal.settings import complete_settings

    tmp = Path(tempfile.mkdtemp(prefix="bench-rulings-"))
    settings = dict(get_appsettings(str(ROOT / "testing.ini")))
    settings.update({"sqlalchemy.url": f"sqlite:///{tmp / 'b.sqlite'}", "portal.var_dir": str(tmp),
                     "portal.knowledge_base": str(ROOT / "knowledge_base")})
    settings = dict(complete_settings(settings))
    upgrade(settings)
    engine = get_engine(settings)
    with Session(engine, info={"actor_name": "bench"}) as session:
        load_catalogue(session, ROOT / "knowledge_base")
        session.commit()
        load_arbitration(session, ROOT / "knowledge_base", settings)
        session.commit()
        ids = [r.id for r in session.query(Ruling).order_by(Ruling.id)]
    app = webtest.TestApp(make_app({}, **settings), extra_environ={"HTTP_HOST": "localhost"})
    app.get(f"/rulings/{ids[0]}.pdf")  # fonts and templates loaded once

    print("ruling PDF (ms per render, pages, bytes):")
    all_times = []
    for ruling_id in ids:
        times = []
        for _ in range(args.repeat):
            started = time.perf_counter()
            response = app.get(f"/rulings/{ruling_id}.pdf")
            times.append((time.perf_counter() - started) * 1000)
        pages = _pages(response.body)
        all_times += times
        print(f"  #{ruling_id}: median {statistics.median(times):.0f} ms, {pages} page(s), {len(response.body):,} bytes")
    print(f"  all: median {statistics.median(all_times):.0f} ms, max {max(all_times):.0f} ms")

    times = []
    for _ in range(args.repeat):
        started = time.perf_counter()
        app.get("/api/v1/rulings/stats")
        times.append((time.perf_counter() - started) * 1000)
    print(f"stats JSON: median {statistics.median(times):.0f} ms")

    with Session(engine, info={"actor_name": "bench"}) as session:
        service = ArbitrationService(session, settings=settings)
        ruling = session.get(Ruling, ids[-1])
        started = time.perf_counter()
        service.revoke(ruling, "基准测试")
        session.flush()
        revoked = time.perf_counter() - started
        session.rollback()
    print(f"revoke (withdraw duties, reinstate superseded): {revoked * 1000:.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
