"""What a search answers with: hits, highlighted snippets and facet counts."""

from __future__ import annotations

import html
import math
import re
import unicodedata
from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from portal.search.indexing import FACETS
from portal.search.interfaces import SearchHit
from portal.search.snapshot import FacetCodes, Snapshot


@lru_cache(maxsize=4096)
def _fold_char(ch: str) -> str:
    folded = unicodedata.normalize("NFKC", ch).lower()
    return folded if len(folded) == 1 else ch


def _fold(text: str) -> str:
    """Per-character normalization that keeps offsets (so matches map back to the original)."""
    if text.isascii():
        return text.lower()
    return "".join(_fold_char(ch) for ch in text)


def highlight_pattern(terms: Sequence[str]) -> re.Pattern[str] | None:
    ordered = sorted({t for t in terms if t}, key=len, reverse=True)
    return re.compile("|".join(re.escape(t) for t in ordered)) if ordered else None


def make_snippet(text: str, terms: Sequence[str], width: int = 120, pattern: re.Pattern[str] | None = None) -> str:
    """An HTML-safe excerpt of ``text`` around the densest cluster of ``terms``, each occurrence
    wrapped in <mark>.  Adjacent matches (the bigrams of one word) merge into one mark."""
    text = text or ""
    if pattern is None:
        pattern = highlight_pattern(terms)
    spans: list[tuple[int, int, str]] = []
    if pattern is not None and text:
        folded = _fold(text)
        for m in pattern.finditer(folded):
            spans.append((m.start(), m.end(), m.group()))
    if not spans:
        cut = text[:width]
        return html.escape(cut) + ("…" if len(text) > width else "")
    # Window with the most distinct terms (longer terms count more).
    best_start, best_score = 0, -1.0
    for s, _e, _t in spans:
        start = max(0, s - width // 5)
        seen = {t for a, b, t in spans if a >= start and b <= start + width}
        score = sum(len(t) for t in seen)
        if score > best_score:
            best_start, best_score = start, score
    start = best_start
    end = min(len(text), start + width)
    if end - start < width:
        start = max(0, end - width)
    merged: list[list[int]] = []
    for s, e, _t in spans:
        if e <= start or s >= end:
            continue
        s, e = max(s, start), min(e, end)
        if merged and s <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], e)
        else:
            merged.append([s, e])
    out = ["…" if start > 0 else ""]
    pos = start
    for s, e in merged:
        out.append(html.escape(text[pos:s]))
        out.append("<mark>" + html.escape(text[s:e]) + "</mark>")
        pos = e
    out.append(html.escape(text[pos:end]))
    if end < len(text):
        out.append("…")
    return "".join(out)


def facet_counts(snap: Snapshot, codes: FacetCodes, matched: np.ndarray,
                 names: Sequence[str] = FACETS) -> dict[str, list[tuple[str, int]]]:
    """(value, count) per facet over the matched documents, most frequent first."""
    out: dict[str, list[tuple[str, int]]] = {}
    for facet in names:
        found = snap.facets[facet][matched]
        found = found[found >= 0]
        if not found.size:
            out[facet] = []
            continue
        counts = np.bincount(found)
        nz = np.flatnonzero(counts)
        pairs = [(codes.value(facet, int(c)), int(counts[c])) for c in nz]
        pairs.sort(key=lambda p: (-p[1], p[0]))
        out[facet] = pairs
    return out


def hit(snap: Snapshot, docnum: int, score: float, pattern: re.Pattern[str] | None) -> SearchHit:
    """A result as callers see it; a pinned citation's infinite score shows as 1e9."""
    d = snap.stored[docnum]
    return SearchHit(
        doc_type=d.get("doc_type", ""),
        doc_id=d.get("doc_id", ""),
        title=d.get("title") or "",
        url=d.get("url") or "",
        score=score if math.isfinite(score) else 1e9,
        snippet=make_snippet(d.get("body") or d.get("title") or "", (), pattern=pattern),
        regulation_id=d.get("regulation_id"),
        regulation_title=d.get("regulation_title"),
        article_number=d.get("article_number"),
        article_label=d.get("article_label"),
        level=d.get("level"),
        status=d.get("status"),
        region=d.get("region"),
        extra=dict(d.get("extra") or {}),
    )
