"""Index the corpus + law pack (scratch loader) and evaluate the dev set, per analysis mode.

    .venv/bin/python -m bench.eval_search [--modes combined,jieba,bigram] [--verbose]
        [--index-root /tmp/portal-search-bench] [--rebuild] [--no-synonyms]

Indexes are kept under --index-root (one per mode) and reused unless --rebuild.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from bench.corpus_loader import load_all
from portal.search.evaluation import evaluate_file, format_report
from portal.search.whoosh_index import WhooshSearchService

ROOT = Path(__file__).resolve().parent.parent
DEV = Path("/work/shared/eval/search_queries_dev.tsv")
if not DEV.exists():
    DEV = ROOT.parent / "shared" / "eval" / "search_queries_dev.tsv"
SYNONYMS = ROOT / "knowledge_base" / "synonyms.yaml"
HOLDOUT = ROOT / "bench" / "search_queries_holdout.tsv"


def service_for(mode: str, root: Path, rebuild: bool, synonyms: bool = True) -> tuple[WhooshSearchService, dict]:
    docs, mapping = load_all()
    svc = WhooshSearchService(root / mode, SYNONYMS if synonyms else None, analysis_mode=mode)
    if rebuild or not svc.health()["ok"]:
        started = time.perf_counter()
        n = svc.rebuild(docs)
        print(f"[{mode}] indexed {n} documents in {time.perf_counter() - started:.1f}s")
    svc.warm_up()
    return svc, mapping


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--modes", default="combined,jieba,bigram")
    ap.add_argument("--index-root", default="/tmp/portal-search-bench")
    ap.add_argument("--rebuild", action="store_true")
    ap.add_argument("--verbose", action="store_true")
    ap.add_argument("--no-synonyms", action="store_true")
    ap.add_argument("--file", action="append", default=None,
                    help="judged query file(s); default: the dev set and bench/search_queries_holdout.tsv")
    args = ap.parse_args()
    for mode in args.modes.split(","):
        svc, mapping = service_for(mode, Path(args.index_root), args.rebuild, not args.no_synonyms)
        for path in args.file or [str(DEV), str(HOLDOUT)]:
            report = evaluate_file(svc, path, mapping)
            print(f"== analysis: {mode}{' (no synonyms)' if args.no_synonyms else ''}")
            print(format_report(report, verbose=args.verbose))
        svc.close()


if __name__ == "__main__":
    main()
