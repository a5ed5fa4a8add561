"""Search quality against a judged query file (MRR@10, nDCG@10, recall@10).

The file format is that of ``../shared/eval/search_queries_dev.tsv`` (see its README): UTF-8 TSV
with the header ``qid  query  kind  relevant`` and ``relevant`` as ``;``-separated
``<law-file>#<article>:<grade>`` items.  Hits are mapped to (law file, article number) through a
caller-supplied resolver from corpus file name to regulation id (the regulations domain knows
which imported regulation came from which file).  Several hits of one article count once, at the
rank where it first appears; ranks are not compacted.

``portal eval-search FILE`` is :func:`evaluate_file` + :func:`format_report`.
"""

from __future__ import annotations

import csv
import math
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from portal.search.interfaces import SearchQuery, SearchResults


class Searcher(Protocol):
    """What the evaluation needs of an ``ISearchService`` (zope interfaces are no static types)."""

    def search(self, query: SearchQuery) -> SearchResults: ...

METRICS = ("mrr", "ndcg", "recall")


class EvalFileError(ValueError):
    """The judged query file is malformed; the message names the file and line."""


@dataclass(frozen=True)
class JudgedQuery:
    qid: str
    query: str
    kind: str
    # (law file, article number) -> grade (1 or 2), in file order
    relevant: dict[tuple[str, int], int] = field(default_factory=dict)


def read_judgments(path: str | Path) -> list[JudgedQuery]:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise EvalFileError(f"{path}: cannot read: {exc}") from exc
    lines = text.splitlines()
    reader = csv.reader(lines, delimiter="\t", quoting=csv.QUOTE_NONE)
    header = next(reader, None)
    if header is None or [h.strip() for h in header[:4]] != ["qid", "query", "kind", "relevant"]:
        raise EvalFileError(f"{path}:1: header must be 'qid<TAB>query<TAB>kind<TAB>relevant'")
    out: list[JudgedQuery] = []
    for lineno, row in enumerate(reader, 2):
        if not row or not any(c.strip() for c in row):
            continue
        if len(row) < 4:
            raise EvalFileError(f"{path}:{lineno}: expected 4 tab-separated columns, got {len(row)}")
        qid, query, kind, relevant = (c.strip() for c in row[:4])
        judged: dict[tuple[str, int], int] = {}
        for item in filter(None, (i.strip() for i in relevant.split(";"))):
            try:
                target, grade = item.rsplit(":", 1)
                law_file, article = target.rsplit("#", 1)
                key, g = (law_file.strip(), int(article)), int(grade)
            except ValueError as exc:
                raise EvalFileError(f"{path}:{lineno}: bad judgment {item!r} "
                                    "(expected <law-file>#<article>:<grade>)") from exc
            if g < 0:
                raise EvalFileError(f"{path}:{lineno}: negative grade in {item!r}")
            judged[key] = max(g, judged.get(key, 0))
        if not query:
            raise EvalFileError(f"{path}:{lineno}: empty query")
        out.append(JudgedQuery(qid, query, kind, judged))
    return out


def score_ranking(ranked: list[tuple[str, int] | None], relevant: Mapping[tuple[str, int], int],
                  k: int = 10) -> dict[str, float]:
    """MRR, nDCG and recall at ``k`` of one ranked list of (law file, article) (None: unmapped)."""
    seen: set[tuple[str, int]] = set()
    first_rank = 0
    dcg = 0.0
    found: set[tuple[str, int]] = set()
    for rank, item in enumerate(ranked[:k], 1):
        if item is None or item in seen:
            continue
        seen.add(item)
        grade = relevant.get(item, 0)
        if grade >= 1:
            found.add(item)
            if not first_rank:
                first_rank = rank
            dcg += grade / math.log2(rank + 1)
    ideal = sorted((g for g in relevant.values() if g > 0), reverse=True)[:k]
    idcg = sum(g / math.log2(r + 1) for r, g in enumerate(ideal, 1))
    positives = [key for key, g in relevant.items() if g >= 1]
    return {
        "mrr": 1.0 / first_rank if first_rank else 0.0,
        "ndcg": dcg / idcg if idcg else 0.0,
        "recall": len(found) / len(positives) if positives else 0.0,
    }


def evaluate(service: Searcher, judgments: Iterable[JudgedQuery],
             regulation_for_file: Callable[[str], int | None] | Mapping[str, int], *, k: int = 10,
             doc_types: tuple[str, ...] = ()) -> dict[str, Any]:
    """Run every judged query through ``service`` and score the top ``k``.

    ``regulation_for_file`` maps a corpus file name (``city-road-management-regulation.md``) to
    the id of the regulation imported from it (None when it was not imported).
    """
    judgments = list(judgments)
    resolve = regulation_for_file.get if isinstance(regulation_for_file, Mapping) else regulation_for_file
    file_of: dict[int, str] = {}
    unresolved: set[str] = set()
    for jq in judgments:
        for law_file, _n in jq.relevant:
            if law_file in unresolved or law_file in file_of.values():
                continue
            rid = resolve(law_file)
            if rid is None:
                unresolved.add(law_file)
            else:
                file_of[int(rid)] = law_file
    per_query: list[dict[str, Any]] = []
    for jq in judgments:
        started = time.perf_counter()
        results = service.search(SearchQuery(text=jq.query, doc_types=doc_types, page=1, page_size=k))
        elapsed = time.perf_counter() - started
        ranked: list[tuple[str, int] | None] = []
        for hit in results.hits:
            found = file_of.get(hit.regulation_id) if hit.regulation_id is not None else None
            ranked.append((found, int(hit.article_number))
                          if found and hit.article_number is not None else None)
        metrics = score_ranking(ranked, jq.relevant, k)
        per_query.append({
            "qid": jq.qid, "query": jq.query, "kind": jq.kind, **metrics,
            "ms": round(elapsed * 1000, 2),
            "top": [f"{r[0]}#{r[1]}" if r else "-" for r in ranked],
            "missed": [f"{f}#{n}:{g}" for (f, n), g in jq.relevant.items() if (f, n) not in ranked],
        })
    kinds = sorted({str(q["kind"]) for q in per_query})
    return {
        "k": k,
        "queries": len(per_query),
        "overall": _mean(per_query),
        "by_kind": {kind: _mean([q for q in per_query if q["kind"] == kind]) for kind in kinds},
        "unresolved_files": sorted(unresolved),
        "per_query": per_query,
    }


def evaluate_file(service: Searcher, path: str | Path,
                  regulation_for_file: Callable[[str], int | None] | Mapping[str, int], *, k: int = 10) -> dict[str, Any]:
    report = evaluate(service, read_judgments(path), regulation_for_file, k=k)
    report["file"] = str(path)
    return report


def _mean(rows: list[dict[str, Any]]) -> dict[str, float]:
    if not rows:
        return dict.fromkeys(METRICS, 0.0) | {"count": 0}
    return {m: sum(r[m] for r in rows) / len(rows) for m in METRICS} | {"count": len(rows)}


def format_report(report: dict[str, Any], verbose: bool = False) -> str:
    """A plain-text table of the report (per query lines with ``verbose``)."""
    k = report.get("k", 10)
    lines = []
    if report.get("file"):
        lines.append(f"file: {report['file']}")
    lines.append(f"{'':12} {'n':>3} {'MRR@' + str(k):>8} {'nDCG@' + str(k):>8} {'R@' + str(k):>8}")

    def row(name: str, m: dict[str, Any]) -> str:
        return f"{name:12} {m['count']:>3} {m['mrr']:>8.3f} {m['ndcg']:>8.3f} {m['recall']:>8.3f}"

    lines.append(row("overall", report["overall"]))
    for kind, m in report["by_kind"].items():
        lines.append(row(kind, m))
    if report.get("unresolved_files"):
        lines.append("not imported: " + ", ".join(report["unresolved_files"]))
    if verbose:
        lines.append("")
        for q in report["per_query"]:
            lines.append(f"{q['qid']} [{q['kind']}] mrr={q['mrr']:.2f} ndcg={q['ndcg']:.2f} "
                         f"r={q['recall']:.2f} {q['ms']:.0f}ms  {q['query']}")
            if q["recall"] < 1.0:
                lines.append("    missed: " + " ".join(q["missed"]))
                lines.append("    top:    " + " ".join(q["top"]))
    return "\n".join(lines)
